import type { PublicKeyCredentialCreationOptionsJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import type { Db } from "../../../db/database.ts";
import type { EventLog } from "../../../events/store.ts";
import type { Notifier } from "../../../notify/notifier.ts";
import type { SessionWithAccount } from "../../../sessions/store.ts";
import type { Clock } from "../../../shared/clock.ts";
import { MamoriError } from "../../../shared/errors.ts";
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

  /** Verifies a registration answer and adds the passkey: an event, and a notice to every verified address. */
  function add(input: {
    accountId: string;
    boundTo: string;
    actor: string;
    ip: string | null;
    response: RegistrationResponseJSON;
    name?: string | undefined;
  }): Promise<PasskeyView> {
    // Verified (its challenge spent) before the transaction: a refusal or a roll-back leaves the challenge spent.
    const verified = factor.verifyRegistration({
      accountId: input.accountId,
      sessionId: input.boundTo,
      response: input.response,
    });
    return verified.then((v) =>
      tx(async (t) => {
        const n = await store.count(t, input.accountId);
        const name = input.name?.trim() || `Passkey ${n + 1}`;
        const row = await factor.addRegistered(t, v, { name, by: input.actor });
        const ev = await events.append(t, {
          accountId: input.accountId,
          type: "passkey.added",
          data: { passkeyId: row.id, name, deviceType: row.device_type, aaguid: row.aaguid },
          actor: input.actor,
          ip: input.ip,
        });
        await notifier.securityNotice(t, {
          accountId: input.accountId,
          eventId: ev.id,
          template: "passkey_added",
          vars: { name, at: iso(clock.now())! },
        });
        return view(row);
      }),
    );
  }

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
      return add({ accountId: a.id, boundTo: s.id, actor: actorOf(s), ip, ...input });
    },

    /**
     * Hosted recovery's offer (response/recovery.ts): the owner, who has just proven an address from before the
     * window and set a new password, adds a passkey before the account is unfrozen. No session exists yet, so the
     * challenge is bound to the recovery instead: a session's registration challenge cannot finish it, nor the
     * reverse. The recovery checks its own token first.
     */
    async startRecoveryRegistration(accountId: string, recoveryId: string) {
      return factor.registrationOptions({
        accountId,
        sessionId: `recovery:${recoveryId}`,
        userName: await deps.userName(accountId),
      });
    },

    async finishRecoveryRegistration(
      accountId: string,
      recoveryId: string,
      input: { response: RegistrationResponseJSON; name?: string | undefined },
      ip: string | null,
    ): Promise<PasskeyView> {
      const bound = `recovery:${recoveryId}`;
      return add({ accountId, boundTo: bound, actor: bound, ip, ...input });
    },

    /** The live passkeys of an account (recovery's progress, without a session). */
    async count(accountId: string): Promise<number> {
      return store.count(db, accountId);
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

    /**
     * Whether the sensitive-change gate lets this session add or remove a passkey now, without changing anything:
     * the security center's confirm page asks for a step-up only when it does not.
     */
    async mayChange(s: SessionWithAccount): Promise<boolean> {
      try {
        await deps.sensitive(s);
        return true;
      } catch (e) {
        if (e instanceof MamoriError && ["reauthentication_required", "second_factor_required"].includes(e.code)) {
          return false;
        }
        throw e;
      }
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
