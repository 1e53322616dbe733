import type { LimitRule } from "../limits/limiter.ts";
import { defaultRules } from "../limits/limiter.ts";
import type { RequestContext } from "../shared/context.ts";
import { newId, newToken, numericCode, sha256 } from "../shared/crypto.ts";
import type { IdentityDeps } from "./deps.ts";
import { IdentityErrors } from "./errors.ts";
import { type IdentityKit, iso, MAX_CODE_ATTEMPTS } from "./kit.ts";
import { normalizeEmail } from "./normalize.ts";
import type { Language, SignIn } from "./signin.ts";
import { identityStore as store } from "./store.ts";

const signupRules = {
  perIp: { name: "signupsPerIp", limit: 30, windowMs: 60 * 60_000 },
  /** mails per address: sign-up cannot be used to flood someone's mailbox */
  perAddress: { name: "signupMailsPerAddress", limit: 3, windowMs: 60 * 60_000 },
} as const satisfies Record<string, LimitRule>;

/** Sign-up (a mailed code, the same answer whether or not the address is taken) and the account's own view. */
export type AccountDeps = Pick<
  IdentityDeps,
  "db" | "clock" | "config" | "events" | "notifier" | "hasher" | "enricher" | "limiter" | "totp" | "recoveryCodes"
>;

export function createAccounts(
  deps: AccountDeps,
  kit: Pick<IdentityKit, "tx" | "limit" | "account" | "lang" | "codeHash" | "checkNewPassword">,
  signIn: Pick<SignIn, "openSession">,
) {
  const { db, clock, config, events, notifier, hasher, limiter } = deps;
  const { tx, limit, account, lang, codeHash, checkNewPassword } = kit;
  return {
    /**
     * Sign-up, step 1: checks the password, hashes it, and mails a code to the address — or, when the address already
     * has an account, a note saying so. Answers the same either way (status, body, and the same work: a hash, one
     * transaction with a pending row and a mail), so sign-up tells nobody which addresses have accounts.
     */
    async createAccount(input: {
      email: string;
      password: string;
      language?: Language;
      context: RequestContext;
    }): Promise<{ signupId: string; expiresAt: string }> {
      const ctx = deps.enricher.enrich(input.context);
      await limit(signupRules.perIp, ctx.ip);
      const email = normalizeEmail(input.email);
      await checkNewPassword(null, input.password, [email]);
      const hash = await hasher.hash(input.password);
      const now = clock.now();
      const id = newId();
      const language = input.language ?? "en";
      const mail = (await limiter.consume(signupRules.perAddress, sha256(`signup:${email}`))).allowed;
      await tx(async (t) => {
        const taken = (await store.emailHolder(t, email, now)) !== undefined;
        const code = numericCode(6);
        await t
          .insertInto("pending_signups")
          .values({
            id,
            email,
            password_hash: hash,
            language,
            // A taken address's row gets a code nobody is sent: it can never be confirmed.
            code_hash: taken ? sha256(newToken("none")) : codeHash(id, "signup", code),
            taken: taken ? 1 : 0,
            attempts: 0,
            created_at: now,
            expires_at: now + config.codeTtlMs,
            completed_at: null,
            account_id: null,
          })
          .execute();
        if (!mail) return;
        await notifier.direct(t, {
          accountId: null,
          channel: "email",
          recipient: email,
          language,
          template: taken ? "signup_address_taken" : "signup_code",
          vars: taken ? { at: iso(now) } : { code, expiresMinutes: String(Math.round(config.codeTtlMs / 60_000)) },
        });
      });
      return { signupId: id, expiresAt: iso(now + config.codeTtlMs) };
    },

    /**
     * Sign-up, step 2: the emailed code creates the account, its address verified, and signs it in. At most five
     * guesses per sign-up (counted before the comparison); a taken address's sign-up can never be confirmed.
     */
    async confirmSignUp(input: {
      signupId: string;
      code: string;
      context: RequestContext;
    }): Promise<{ accountId: string; session: { id: string; token: string; expiresAt: string } }> {
      const ctx = deps.enricher.enrich(input.context);
      await limit(defaultRules.codeChecksPerIp, ctx.ip);
      const row = await db
        .selectFrom("pending_signups")
        .selectAll()
        .where("id", "=", String(input.signupId))
        .executeTakeFirst();
      const now = clock.now();
      if (!row || row.completed_at !== null) throw IdentityErrors.code_invalid();
      if (row.expires_at <= now) throw IdentityErrors.code_expired();
      // Guarded: the guess is counted before the comparison, so parallel guesses cannot exceed five.
      const counted = await db
        .updateTable("pending_signups")
        .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
        .where("id", "=", row.id)
        .where("attempts", "<", MAX_CODE_ATTEMPTS)
        .where("completed_at", "is", null)
        .executeTakeFirst();
      if (Number(counted.numUpdatedRows) !== 1) throw IdentityErrors.code_invalid();
      if (row.taken || row.code_hash !== codeHash(row.id, "signup", String(input.code).trim())) {
        throw IdentityErrors.code_invalid();
      }
      const id = newId();
      const a = await tx(async (t) => {
        // Guarded on completed_at is null: one code creates one account.
        const done = await t
          .updateTable("pending_signups")
          .set({ completed_at: now, account_id: id })
          .where("id", "=", row.id)
          .where("completed_at", "is", null)
          .executeTakeFirst();
        if (Number(done.numUpdatedRows) !== 1) throw IdentityErrors.code_invalid();
        // The code proves the mailbox; an address taken since step 1 can be said to be taken.
        if (await store.emailHolder(t, row.email, now)) throw IdentityErrors.email_taken();
        await t
          .insertInto("accounts")
          .values({
            id,
            status: "active",
            language: row.language,
            credential_epoch: 1,
            password_hash: null,
            password_changed_at: null,
            password_reset_required: 0,
            created_at: now,
            updated_at: now,
          })
          .execute();
        await store.setPassword(t, id, row.password_hash, now);
        await store.insertContact(t, {
          account_id: id,
          kind: "email",
          value: row.email,
          verified: 1,
          verified_at: now,
          is_primary: 1,
          added_at: now,
          added_by: "system",
        });
        await events.append(t, {
          accountId: id,
          type: "account.created",
          data: { email: row.email, language: row.language, verified: true },
          actor: "system",
          ip: ctx.ip,
        });
        return account(t, id);
      });
      const r = await signIn.openSession(a, ctx, row.email);
      return { accountId: id, session: r.session };
    },

    async getAccount(accountId: string) {
      const a = await account(db, accountId);
      const contacts = await store.liveContacts(db, accountId);
      const view = (k: string) =>
        contacts
          .filter((c) => c.kind === k)
          .map((c) => ({
            value: c.value,
            verified: c.verified === 1,
            primary: c.is_primary === 1,
            addedAt: iso(c.added_at),
          }));
      return {
        id: a.id,
        status: a.status,
        language: lang(a),
        createdAt: iso(a.created_at),
        passwordChangedAt: a.password_changed_at === null ? null : iso(a.password_changed_at),
        passwordResetRequired: a.password_reset_required === 1,
        emails: view("email"),
        phones: view("phone"),
        totpEnabled: await deps.totp.enrolled(db, a.id),
        recoveryCodesLeft: await deps.recoveryCodes.left(db, a.id),
      };
    },
  };
}
