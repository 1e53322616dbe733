import type { PublicKeyCredentialCreationOptionsJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import type { Db } from "../../../db/database.ts";
import type { EventLog } from "../../../events/store.ts";
import type { Notifier } from "../../../notify/notifier.ts";
import type { SessionWithAccount } from "../../../sessions/store.ts";
import type { Clock } from "../../../shared/clock.ts";
import { PasskeyErrors } from "./errors.ts";
import type { PasskeyFactor } from "./factor.ts";
import { type PasskeyRow, passkeyStore as store } from "./store.ts";

export interface PasskeyView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  /** multiDevice: synced (iCloud Keychain, Google Password Manager…); singleDevice: one security key or device */
  deviceType: string;
  backedUp: boolean;
}

export interface PasskeyServiceDeps {
  db: Db;
  clock: Clock;
  events: EventLog;
  notifier: Notifier;
  factor: PasskeyFactor;
  /**
   * identity's gate for sensitive changes (a fresh sign-in, and a fresh second factor as strong as the account's
   * strongest): adding or removing a passkey is one, like enrolling an authenticator app.
   */
  sensitive(s: SessionWithAccount): Promise<{ id: string }>;
  /** the name the authenticator shows for the account (its primary email) */
  userName(accountId: string): Promise<string>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
const actorOf = (s: SessionWithAccount) => `session:${s.id}`;
const view = (p: PasskeyRow): PasskeyView => ({
  id: p.id,
  name: p.name,
  createdAt: iso(p.created_at)!,
  lastUsedAt: iso(p.last_used_at),
  deviceType: p.device_type,
  backedUp: p.backed_up === 1,
});

/** The owner's side of passkeys: register, list, rename, remove — each an event, adds and removals a notice. */
export function createPasskeyService(deps: PasskeyServiceDeps) {
  const { db, clock, events, notifier, factor } = deps;
  const tx = <T>(fn: (t: Db) => Promise<T>) => db.transaction().execute(fn);

  return {
    async startRegistration(s: SessionWithAccount): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const a = await deps.sensitive(s);
      return factor.registrationOptions({ accountId: a.id, sessionId: s.id, userName: await deps.userName(a.id) });
    },

    async finishRegistration(
      s: SessionWithAccount,
      input: { response: RegistrationResponseJSON; name?: string | undefined },
      ip: string | null,
    ): Promise<PasskeyView> {
      const a = await deps.sensitive(s);
      return tx(async (t) => {
        const n = await store.count(t, a.id);
        const name = input.name?.trim() || `Passkey ${n + 1}`;
        const row = await factor.verifyRegistration(t, {
          accountId: a.id,
          sessionId: s.id,
          response: input.response,
          name,
          by: actorOf(s),
        });
        const ev = await events.append(t, {
          accountId: a.id,
          type: "passkey.added",
          data: { passkeyId: row.id, name, deviceType: row.device_type, aaguid: row.aaguid },
          actor: actorOf(s),
          ip,
        });
        await notifier.securityNotice(t, {
          accountId: a.id,
          eventId: ev.id,
          template: "passkey_added",
          vars: { name, at: iso(clock.now())! },
        });
        return view(row);
      });
    },

    async list(s: SessionWithAccount): Promise<PasskeyView[]> {
      return (await store.live(db, s.account_id)).map(view);
    },

    /** A name is not a credential: renaming needs a signed-in session, not a fresh one. */
    async rename(s: SessionWithAccount, id: string, name: string, ip: string | null): Promise<PasskeyView> {
      return tx(async (t) => {
        const before = await store.rename(t, s.account_id, id, name.trim());
        if (!before) throw PasskeyErrors.passkey_not_found();
        await events.append(t, {
          accountId: s.account_id,
          type: "passkey.renamed",
          data: { passkeyId: id, from: before.name, to: name.trim() },
          actor: actorOf(s),
          ip,
        });
        return view({ ...before, name: name.trim() });
      });
    },

    async remove(s: SessionWithAccount, id: string, ip: string | null): Promise<void> {
      const a = await deps.sensitive(s);
      await tx(async (t) => {
        const row = await store.remove(t, a.id, id, actorOf(s), clock.now());
        if (!row) throw PasskeyErrors.passkey_not_found();
        const ev = await events.append(t, {
          accountId: a.id,
          type: "passkey.removed",
          data: { passkeyId: id, name: row.name },
          actor: actorOf(s),
          ip,
        });
        await notifier.securityNotice(t, {
          accountId: a.id,
          eventId: ev.id,
          template: "passkey_removed",
          vars: { name: row.name, at: iso(clock.now())! },
        });
      });
    },
  };
}

export type PasskeyService = ReturnType<typeof createPasskeyService>;
