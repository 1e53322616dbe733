import type { Db } from "../db/database.ts";
import type { LimitRule } from "../limits/limiter.ts";
import { defaultRules } from "../limits/limiter.ts";
import type { NoticeTemplate } from "../notify/templates.ts";
import type { SessionWithAccount } from "../sessions/store.ts";
import { sessionStore } from "../sessions/store.ts";
import { hmac, newToken, numericCode, sha256 } from "../shared/crypto.ts";
import { CommonErrors } from "../shared/errors.ts";
import { accountControl } from "./account-control.ts";
import type { IdentityDeps } from "./deps.ts";
import { IdentityErrors } from "./errors.ts";
import type { CheckedTotp } from "./factors/totp/factor.ts";
import type { Language } from "./signin.ts";
import { type AccountRow, identityStore as store } from "./store.ts";

/**
 * The pieces identity's concerns share (sign-up, credentials, contacts, app passwords, history, not-me, sign-in):
 * the account lookup, one-time codes, the sensitive-change gate and the fixed tail of a credential change. Built once
 * by the facade (service.ts) and handed to each concern's factory.
 */
export type KitDeps = Pick<
  IdentityDeps,
  | "db"
  | "clock"
  | "config"
  | "events"
  | "notifier"
  | "sessions"
  | "limiter"
  | "keys"
  | "passwords"
  | "factors"
  | "totp"
  | "recoveryCodes"
>;

export const MAX_CODE_ATTEMPTS = 5;
export const iso = (ms: number) => new Date(ms).toISOString();
export const actorOf = (s: SessionWithAccount) => `session:${s.id}`;

export function createIdentityKit(deps: KitDeps) {
  const { db, clock, config, events, notifier, sessions, limiter } = deps;

  const tx = <T>(fn: (t: Db) => Promise<T>) => db.transaction().execute(fn);

  async function limit(rule: LimitRule, key: string): Promise<void> {
    const r = await limiter.consume(rule, key);
    if (!r.allowed) throw CommonErrors.rate_limited({ retryAfterSeconds: Math.ceil(r.retryAfterMs / 1000) });
  }

  async function account(ex: Db, id: string): Promise<AccountRow> {
    const a = await store.getAccount(ex, id);
    if (!a) throw IdentityErrors.account_not_found();
    return a;
  }

  const lang = (a: AccountRow): Language => (a.language === "ja" ? "ja" : "en");
  const codeHash = (accountId: string, purpose: string, code: string) =>
    hmac(deps.keys.codes, `${accountId}:${purpose}:${code}`);

  /** The one password policy with the history (new-password.ts). `emails`: addresses or local parts. */
  const checkNewPassword = (accountId: string | null, password: string, emails: string[]) =>
    deps.passwords.assertAcceptable(db, { accountId, password, emails });

  async function sendCode(
    t: Db,
    a: AccountRow,
    c: {
      purpose: string;
      target: string;
      channel: "email" | "sms";
      template: NoticeTemplate;
      challengeId?: string;
      vars?: Record<string, string>;
    },
  ): Promise<void> {
    const code = numericCode(6);
    await store.issueCode(t, {
      accountId: a.id,
      purpose: c.purpose,
      target: c.target,
      challengeId: c.challengeId ?? null,
      hash: codeHash(a.id, c.purpose, code),
      now: clock.now(),
      ttlMs: config.codeTtlMs,
    });
    await notifier.direct(t, {
      accountId: a.id,
      channel: c.channel,
      recipient: c.target,
      language: lang(a),
      template: c.template,
      vars: { code, ...(c.vars ?? {}) },
    });
  }

  /**
   * Checks an emailed/texted code: rate-limited, at most 5 guesses per code, single use. Returns its target.
   * Runs on its own, before the change's transaction, so a counted guess is never rolled back with a failed change.
   */
  async function checkCode(accountId: string, purpose: string, code: string, ip: string | null): Promise<string> {
    await limit(defaultRules.codeChecksPerAccount, accountId);
    if (ip) await limit(defaultRules.codeChecksPerIp, ip);
    const row = await store.latestCode(db, accountId, purpose);
    const now = clock.now();
    if (!row) throw IdentityErrors.code_invalid();
    if (row.expires_at <= now) throw IdentityErrors.code_expired();
    if (!(await store.countCodeAttempt(db, row.id, MAX_CODE_ATTEMPTS))) throw IdentityErrors.code_invalid();
    if (row.code_hash !== codeHash(accountId, purpose, String(code).trim())) throw IdentityErrors.code_invalid();
    if (!(await store.consumeCode(db, row.id, now))) throw IdentityErrors.code_replayed();
    return row.target ?? "";
  }

  async function issueResetToken(t: Db, accountId: string, sentTo: string): Promise<string> {
    const a = await account(t, accountId);
    const token = newToken("mrt");
    const now = clock.now();
    await t
      .insertInto("reset_tokens")
      .values({
        token_hash: sha256(token),
        account_id: accountId,
        epoch: a.credential_epoch,
        sent_to: sentTo,
        created_at: now,
        expires_at: now + config.resetTokenTtlMs,
        used_at: null,
      })
      .execute();
    return token;
  }
  const resetUrl = (token: string) => `${config.publicUrl}/links/reset-password?t=${encodeURIComponent(token)}`;

  async function verifiedEmails(t: Db, accountId: string): Promise<string[]> {
    return (await store.liveContacts(t, accountId)).filter((c) => c.kind === "email" && c.verified).map((c) => c.value);
  }

  /**
   * Sensitive change gate: a fresh sign-in, plus a fresh second factor as strong as the strongest the account has
   * (an authenticator when one is enrolled: an emailed code does not stand in for it).
   */
  async function sensitive(s: SessionWithAccount): Promise<AccountRow> {
    const a = await account(db, s.account_id);
    if (a.status === "frozen") throw IdentityErrors.account_frozen();
    const strong = (await deps.factors.strongest(db, a.id)) >= 2;
    sessions.assertFresh(s, strong ? 2 : 0);
    return a;
  }

  /**
   * The fixed tail of a credential change, in the change's transaction: end every other session, app password and
   * reset token (epoch bump), record the event, and tell every address with a "This wasn't me" link. With `rotate`
   * (password and factor changes) the caller's own session gets a new token too.
   */
  async function credentialChanged(
    t: Db,
    s: SessionWithAccount,
    c: {
      reason: string;
      type: string;
      data: Record<string, unknown>;
      template: NoticeTemplate;
      vars: Record<string, string>;
      ip: string | null;
      rotate?: boolean;
    },
  ): Promise<{ id: string; token: string; expiresAt: string } | null> {
    const now = clock.now();
    await sessionStore.bumpEpoch(t, s.account_id, {
      epochs: accountControl,
      keepSessionId: s.id,
      reason: c.reason,
      now,
    });
    const ev = await events.append(t, {
      accountId: s.account_id,
      type: c.type,
      data: c.data,
      actor: actorOf(s),
      ip: c.ip,
    });
    await notifier.securityNotice(t, { accountId: s.account_id, eventId: ev.id, template: c.template, vars: c.vars });
    return c.rotate ? sessions.rotate(t, s) : null;
  }

  /** Starts an authenticator enrolment, labelled with the account's address in the app; returns the secret once. */
  async function startTotp(a: AccountRow): Promise<{ secret: string; uri: string }> {
    const email = (await store.liveContacts(db, a.id)).find((c) => c.kind === "email")?.value ?? a.id;
    return deps.totp.start(a.id, email);
  }

  /** Checks a code against the pending secret, the guess counted like any code check. */
  const pendingTotp = (a: AccountRow, code: string) =>
    deps.totp.checkPending(a.id, code, () => limit(defaultRules.codeChecksPerAccount, a.id));

  /** Makes the checked secret the enrolled one and issues new recovery codes (both kept for a roll-back). */
  async function activateTotp(t: Db, checked: CheckedTotp, by: string): Promise<string[]> {
    await deps.totp.activate(t, checked, by);
    return deps.recoveryCodes.issue(t, checked.accountId);
  }

  /** Removes the authenticator and its recovery codes, keeping the replaced state for a roll-back. */
  async function removeTotp(t: Db, a: AccountRow, by: string): Promise<void> {
    const now = clock.now();
    await deps.totp.remove(t, { accountId: a.id, by, now });
    await deps.recoveryCodes.remove(t, { accountId: a.id, by, now });
  }

  return {
    tx,
    limit,
    account,
    lang,
    codeHash,
    checkNewPassword,
    sendCode,
    checkCode,
    issueResetToken,
    resetUrl,
    verifiedEmails,
    sensitive,
    credentialChanged,
    startTotp,
    pendingTotp,
    activateTotp,
    removeTotp,
  };
}

export type IdentityKit = ReturnType<typeof createIdentityKit>;
