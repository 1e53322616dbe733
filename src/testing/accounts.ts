import type { App } from "../app.ts";
import type { PasswordHasher } from "../identity/passwords.ts";
import { identityStore } from "../identity/store.ts";
import type { RequestContext } from "../shared/context.ts";
import { newId } from "../shared/crypto.ts";

export interface BulkAccount {
  email: string;
  password: string;
  /** Where the owner signed up and signs in from: recorded as the account's first successful sign-in. */
  home: RequestContext;
}

/**
 * Many accounts at once, written through identity's own store code (account, password, verified address) with one
 * hash per distinct password, and each owner's first sign-in from home recorded as a sign-up records it. For attack
 * soaks and benchmarks: 1,000 two-step sign-ups would spend their time in the password policy and the mail, and the
 * leaked password some of them still use is one today's policy refuses at sign-up.
 */
export async function bulkAccounts(
  app: App,
  hasher: PasswordHasher,
  accounts: BulkAccount[],
  now: number,
): Promise<string[]> {
  const hashes = new Map<string, string>();
  for (const a of accounts) if (!hashes.has(a.password)) hashes.set(a.password, await hasher.hash(a.password));
  const ids: string[] = [];
  await app.database.db.transaction().execute(async (t) => {
    for (const a of accounts) {
      const id = newId();
      ids.push(id);
      await t
        .insertInto("accounts")
        .values({
          id,
          status: "active",
          language: "ja",
          credential_epoch: 1,
          password_hash: null,
          password_changed_at: null,
          password_reset_required: 0,
          totp_secret_enc: null,
          totp_pending_secret_enc: null,
          totp_enrolled_at: null,
          totp_last_step: null,
          created_at: now,
          updated_at: now,
        })
        .execute();
      await identityStore.setPassword(t, id, hashes.get(a.password)!, now);
      await identityStore.insertContact(t, {
        account_id: id,
        kind: "email",
        value: a.email,
        verified: 1,
        verified_at: now,
        is_primary: 1,
        added_at: now,
        added_by: "system",
      });
      const ctx = app.enricher.enrich(a.home);
      await identityStore.recordLoginAttempt(t, {
        account_id: id,
        identifier: a.email,
        outcome: "succeeded",
        reason: null,
        channel: ctx.channel,
        ip: ctx.ip,
        country: ctx.country,
        asn: ctx.asn,
        user_agent: ctx.userAgent,
        browser: ctx.browser,
        os: ctx.os,
        device_type: ctx.deviceType,
        device_id: ctx.deviceId ?? null,
        session_id: null,
        at: now,
      });
    }
  });
  return ids;
}
