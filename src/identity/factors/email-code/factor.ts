import type { Db, Executor } from "../../../db/database.ts";
import { defaultRules, type RateLimiter } from "../../../limits/limiter.ts";
import type { Notifier } from "../../../notify/notifier.ts";
import type { Clock } from "../../../shared/clock.ts";
import { CommonErrors } from "../../../shared/errors.ts";
import { IdentityErrors } from "../../errors.ts";
import type {
  Factor,
  FactorChallengeInput,
  FactorEnrolledSql,
  FactorFace,
  FactorItem,
  FactorVerifyInput,
} from "../types.ts";
import { emailCodeStore as store } from "./store.ts";

/** The accounts with this factor enrolled, as SQL (Factor.enrolledSql: what risk reads with an account's facts). */
export const EMAIL_CODE_ENROLLED_SQL: FactorEnrolledSql = {
  select: "select account_id from contact_points where kind = 'email' and verified = 1 and removed_at is null",
  tables: [{ table: "contact_points", account: "account_id" }],
};

export interface EmailCodeFactorDeps {
  db: Db;
  clock: Clock;
  notifier: Notifier;
  limiter: RateLimiter;
  /** the one-time codes' HMAC key (app.ts's "codes" key: the same hash identity's other codes use) */
  key: Buffer;
  codeTtlMs: number;
}

/** Guesses per code: the code is six digits, so five guesses are a 1-in-200,000 chance. */
const MAX_CODE_ATTEMPTS = 5;
const LABEL = { ja: "メールで届くコード", en: "Emailed code" };

/**
 * The emailed sign-in code: six digits sent to every verified address, strength 1 (it stops a password list, not
 * someone who reads the mailbox — types.ts `strength`). Enrolled while the account has a verified address; the
 * addresses are identity's contacts, so there is nothing of its own to remove or roll back (the lockdown's contact
 * roll-back puts the addresses back). A code is bound to what it was sent for (a sign-in challenge, a session's
 * step-up): a newer code voids the older one, five guesses at most, used once.
 */
export function createEmailCodeFactor(deps: EmailCodeFactorDeps) {
  const { db, clock, notifier, limiter, key, codeTtlMs } = deps;

  async function limit(rule: (typeof defaultRules)[keyof typeof defaultRules], k: string): Promise<void> {
    const r = await limiter.consume(rule, k);
    if (!r.allowed) throw CommonErrors.rate_limited({ retryAfterSeconds: Math.ceil(r.retryAfterMs / 1000) });
  }

  /** The stored code purpose and the mail of each challenge purpose (the rows' purposes predate the plug-in). */
  function purposeOf(p: FactorChallengeInput["purpose"]) {
    if (p === "second_factor") return { stored: "signin", template: "signin_code" as const };
    if (p === "step_up") return { stored: "step_up", template: "step_up_code" as const };
    throw IdentityErrors.factor_unavailable();
  }

  const factor = {
    kind: "email_code",
    strength: 1,
    label: LABEL,
    // Nothing to enrol: the account's verified addresses are contact points, whose events are identity's own.
    changeEvents: {},
    enrolledSql: EMAIL_CODE_ENROLLED_SQL,

    async enrolled(ex: Executor, accountId: string) {
      return (await store.verifiedEmails(ex, accountId)).length > 0;
    },

    /**
     * Mails a new code to every verified address of the account, bound to `boundTo` (the sign-in challenge or the
     * session), in one transaction with the mails. factor_unavailable when the account has no verified address.
     */
    async challenge(input: FactorChallengeInput): Promise<{ sentTo: number }> {
      const { stored, template } = purposeOf(input.purpose);
      if (input.accountId === null || input.boundTo === null) throw IdentityErrors.factor_unavailable();
      const accountId = input.accountId;
      const emails = await store.verifiedEmails(db, accountId);
      if (!emails.length) throw IdentityErrors.factor_unavailable();
      const language = await store.language(db, accountId);
      await db.transaction().execute(async (t) => {
        const code = store.newCode();
        await store.issue(t, {
          accountId,
          purpose: stored,
          challengeId: input.boundTo,
          hash: store.hash(key, accountId, stored, code),
          now: clock.now(),
          ttlMs: codeTtlMs,
        });
        for (const e of emails) {
          await notifier.direct(t, { accountId, channel: "email", recipient: e, language, template, vars: { code } });
        }
      });
      return { sentTo: emails.length };
    },

    /**
     * Checks a code against the latest one sent for this purpose and this challenge or session: rate-limited per
     * account and per address, the guess counted before comparing (outside any transaction, so a counted guess is
     * never rolled back), then spent once. Throws code_invalid, code_expired or code_replayed.
     */
    async verify(input: FactorVerifyInput<string>) {
      const { stored } = purposeOf(input.purpose);
      if (input.accountId === null) throw IdentityErrors.code_invalid();
      const accountId = input.accountId;
      const row = await store.latest(db, accountId, stored);
      if (!row || row.challenge_id !== input.boundTo) throw IdentityErrors.code_invalid();
      await limit(defaultRules.codeChecksPerAccount, accountId);
      if (input.ip) await limit(defaultRules.codeChecksPerIp, input.ip);
      const now = clock.now();
      const current = await store.latest(db, accountId, stored);
      if (!current) throw IdentityErrors.code_invalid();
      if (current.expires_at <= now) throw IdentityErrors.code_expired();
      if (!(await store.countAttempt(db, current.id, MAX_CODE_ATTEMPTS))) throw IdentityErrors.code_invalid();
      if (current.code_hash !== store.hash(key, accountId, stored, String(input.proof).trim())) {
        throw IdentityErrors.code_invalid();
      }
      if (!(await store.consume(db, current.id, now))) throw IdentityErrors.code_replayed();
      return { accountId, itemId: current.id };
    },

    /** The addresses are contacts: removing one is identity's contact change, not this factor's. */
    async remove() {
      return false;
    },

    async planRollBack() {
      return [];
    },

    async rollBackSince() {
      return [];
    },

    /** One item per verified address, named by the address (the owner's own pages and timeline). */
    async describe(ex: Executor, accountId: string): Promise<FactorItem[]> {
      return (await store.verifiedContacts(ex, accountId)).map((c) => ({
        kind: "email_code",
        id: c.id,
        name: c.value,
        createdAt: c.verified_at ?? c.added_at,
        lastUsedAt: null,
      }));
    },

    /** Nothing to set up or remove here: the addresses are the contacts section's. */
    async face(ex: Executor, accountId: string): Promise<FactorFace> {
      const n = (await store.verifiedEmails(ex, accountId)).length;
      return {
        status:
          n > 0
            ? {
                ja: `ログインの確認のとき、確認済みのメールアドレス（${n} 件）にコードを送ります。`,
                en: `When a sign-in needs checking, a code is mailed to the verified addresses (${n}).`,
              }
            : {
                ja: "確認済みのメールアドレスがないため使えません。",
                en: "Not available: no verified email address.",
              },
        actions: [],
      };
    },
  } satisfies Factor & Record<string, unknown>;
  return factor;
}

export type EmailCodeFactor = ReturnType<typeof createEmailCodeFactor>;
