import type { SessionWithAccount } from "../sessions/store.ts";
import { newId } from "../shared/crypto.ts";
import { CommonErrors } from "../shared/errors.ts";
import type { IdentityDeps } from "./deps.ts";
import { IdentityErrors } from "./errors.ts";
import { actorOf, type IdentityKit, iso } from "./kit.ts";
import { newLookupSecret, SECRET_HASH_VERSION } from "./secrets.ts";
import { identityStore as store } from "./store.ts";

/** App passwords: a named secret per mail client, shown once, ended by any credential change (its epoch). */
export type AppPasswordDeps = Pick<IdentityDeps, "db" | "clock" | "events" | "notifier" | "secrets">;

export function createAppPasswords(
  deps: AppPasswordDeps,
  kit: Pick<IdentityKit, "tx" | "sensitive" | "credentialChanged">,
) {
  const { db, clock, events, notifier } = deps;
  const { tx, sensitive, credentialChanged } = kit;
  return {
    async createAppPassword(s: SessionWithAccount, input: { name: string }, ip: string | null) {
      const a = await sensitive(s);
      const name = input.name.trim().slice(0, 64);
      if (!name) throw CommonErrors.invalid_request({ field: "name" });
      const password = newLookupSecret().toLowerCase();
      return tx(async (t) => {
        const now = clock.now();
        const id = newId();
        await t
          .insertInto("app_passwords")
          .values({
            id,
            account_id: a.id,
            name,
            secret_hash: deps.secrets.appPasswordHash(password),
            hash_version: SECRET_HASH_VERSION,
            epoch: a.credential_epoch,
            created_at: now,
            created_by_session: s.id,
            last_used_at: null,
            last_used_ip: null,
            last_used_country: null,
            revoked_at: null,
            revoked_reason: null,
          })
          .execute();
        const ev = await events.append(t, {
          accountId: a.id,
          type: "app_password.created",
          data: { appPasswordId: id, name },
          actor: actorOf(s),
          ip,
        });
        await notifier.securityNotice(t, {
          accountId: a.id,
          eventId: ev.id,
          template: "app_password_created",
          vars: { name, at: iso(now) },
        });
        return { id, name, password, createdAt: iso(now) };
      });
    },

    async listAppPasswords(s: SessionWithAccount) {
      const rows = await store.listAppPasswords(db, s.account_id);
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        createdAt: iso(r.created_at),
        active: r.revoked_at === null && r.epoch === s.account_epoch,
        revokedAt: r.revoked_at === null ? null : iso(r.revoked_at),
        revokedReason: r.revoked_reason,
        lastUsedAt: r.last_used_at === null ? null : iso(r.last_used_at),
        lastUsedIp: r.last_used_ip,
        lastUsedCountry: r.last_used_country,
      }));
    },

    async revokeAppPassword(s: SessionWithAccount, id: string, ip: string | null) {
      await tx(async (t) => {
        const now = clock.now();
        const rows = await store.listAppPasswords(t, s.account_id);
        const ap = rows.find((r) => r.id === id && r.revoked_at === null);
        if (!ap || !(await store.revokeAppPassword(t, s.account_id, id, "revoked_by_user", now))) {
          throw IdentityErrors.app_password_not_found();
        }
        await credentialChanged(t, s, {
          reason: "app_password_revoked",
          type: "app_password.revoked",
          data: { appPasswordId: id, name: ap.name },
          template: "app_password_revoked",
          vars: { name: ap.name },
          ip,
        });
      });
    },
  };
}
