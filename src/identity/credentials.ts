import type { LimitRule } from "../limits/limiter.ts";
import { defaultRules } from "../limits/limiter.ts";
import type { SessionWithAccount } from "../sessions/store.ts";
import { sessionStore } from "../sessions/store.ts";
import type { RequestContext } from "../shared/context.ts";
import { sha256 } from "../shared/crypto.ts";
import { accountControl } from "./account-control.ts";
import type { IdentityDeps } from "./deps.ts";
import { IdentityErrors } from "./errors.ts";
import { type IdentityKit, iso } from "./kit.ts";
import { normalizeEmail } from "./normalize.ts";
import { identityStore as store } from "./store.ts";

/** "No account uses this address" notes per address: a reset request cannot be used to flood a mailbox. */
const resetNoAccountRule: LimitRule = { name: "resetNoAccountPerAddress", limit: 2, windowMs: 24 * 60 * 60_000 };

/** The password: changed with the current one (a sensitive change), or reset through a mailed link. */
export type CredentialDeps = Pick<
  IdentityDeps,
  "db" | "clock" | "config" | "events" | "notifier" | "hasher" | "enricher" | "limiter"
>;

export function createCredentials(
  deps: CredentialDeps,
  kit: Pick<
    IdentityKit,
    | "tx"
    | "limit"
    | "account"
    | "lang"
    | "sensitive"
    | "verifiedEmails"
    | "checkNewPassword"
    | "credentialChanged"
    | "issueResetToken"
    | "resetUrl"
  >,
) {
  const { db, clock, config, events, notifier, hasher, limiter } = deps;
  const { tx, limit, account, lang, sensitive, verifiedEmails, checkNewPassword, credentialChanged } = kit;
  const { issueResetToken, resetUrl } = kit;
  return {
    async changePassword(
      s: SessionWithAccount,
      input: { currentPassword: string; newPassword: string },
      ip: string | null,
    ): Promise<{ session: { id: string; token: string; expiresAt: string } }> {
      const a = await sensitive(s);
      if (!a.password_hash || !(await hasher.verify(a.password_hash, input.currentPassword))) {
        throw IdentityErrors.current_password_wrong();
      }
      const emails = await verifiedEmails(db, a.id);
      await checkNewPassword(
        a.id,
        input.newPassword,
        emails.map((e) => e.split("@")[0] ?? ""),
      );
      const hash = await hasher.hash(input.newPassword);
      return tx(async (t) => {
        const now = clock.now();
        await store.setPassword(t, a.id, hash, now);
        const session = await credentialChanged(t, s, {
          reason: "password_changed",
          type: "password.changed",
          data: {},
          template: "password_changed",
          vars: { at: iso(now) },
          ip,
          rotate: true,
        });
        return { session: session! };
      });
    },

    /**
     * Always answers the same, whether or not the address is known — and does the same work: one transaction that
     * writes a mail to the address, a reset link when it may recover an account, otherwise a note that no account
     * uses it (at most two a day per address). Per-address and per-IP limits are keyed by what was typed.
     */
    async requestPasswordReset(input: { email: string; context: RequestContext }): Promise<void> {
      const ctx = deps.enricher.enrich(input.context);
      await limit(defaultRules.resetRequestsPerIp, ctx.ip);
      let email: string;
      try {
        email = normalizeEmail(input.email);
      } catch {
        return;
      }
      const key = sha256(`reset:${email}`);
      if (!(await limiter.consume(defaultRules.resetRequestsPerAccount, key)).allowed) return;
      const c = await store.recoveryContact(db, email, clock.now());
      const tellUnknown = c ? false : (await limiter.consume(resetNoAccountRule, key)).allowed;
      await tx(async (t) => {
        const now = clock.now();
        if (!c) {
          if (!tellUnknown) return;
          await notifier.direct(t, {
            accountId: null,
            channel: "email",
            recipient: email,
            language: "ja",
            template: "password_reset_no_account",
            vars: { at: iso(now) },
          });
          return;
        }
        const a = await account(t, c.account_id);
        // A frozen account comes back only through recovery, which also reviews devices.
        if (a.status === "frozen") return;
        const token = await issueResetToken(t, a.id, email);
        await events.append(t, {
          accountId: a.id,
          type: "password.reset_requested",
          data: { sentTo: email },
          actor: "system",
          ip: ctx.ip,
        });
        await notifier.direct(t, {
          accountId: a.id,
          channel: "email",
          recipient: email,
          language: lang(a),
          template: "password_reset",
          vars: { resetUrl: resetUrl(token), expiresMinutes: String(Math.round(config.resetTokenTtlMs / 60000)) },
        });
      });
    },

    async resetPassword(input: { token: string; newPassword: string; context?: RequestContext }): Promise<void> {
      const ip = input.context?.ip ?? null;
      if (typeof input.token !== "string" || input.token.length > 200) throw IdentityErrors.reset_token_invalid();
      const peek = await db
        .selectFrom("reset_tokens")
        .select("account_id")
        .where("token_hash", "=", sha256(input.token))
        .executeTakeFirst();
      if (!peek) throw IdentityErrors.reset_token_invalid();
      const emails = await verifiedEmails(db, peek.account_id);
      await checkNewPassword(
        peek.account_id,
        input.newPassword,
        emails.map((e) => e.split("@")[0] ?? ""),
      );
      const hash = await hasher.hash(input.newPassword);
      await tx(async (t) => {
        const now = clock.now();
        const used = await store.consumeResetToken(t, sha256(input.token), now);
        if (!used) throw IdentityErrors.reset_token_invalid();
        const a = await account(t, used.accountId);
        if (a.status === "frozen") throw IdentityErrors.account_frozen();
        await store.setPassword(t, a.id, hash, now);
        await sessionStore.bumpEpoch(t, a.id, {
          epochs: accountControl,
          keepSessionId: null,
          reason: "password_reset",
          now,
        });
        // The reset proves control of a recovery address: it lifts a revert/not-me lock.
        await t.updateTable("accounts").set({ status: "active", updated_at: now }).where("id", "=", a.id).execute();
        const ev = await events.append(t, {
          accountId: a.id,
          type: "password.reset",
          data: { via: used.sentTo, unlocked: a.status !== "active" },
          actor: "token:password_reset",
          ip,
        });
        await notifier.securityNotice(t, {
          accountId: a.id,
          eventId: ev.id,
          template: "password_reset_completed",
          vars: { at: iso(now) },
        });
      });
    },
  };
}
