/**
 * Sign-in: password and app-password first factors, second-factor challenges, step-up, and the delayed removal of a
 * lost authenticator. The design (docs/threat-model.md "Sign-in answers tell nothing"):
 *
 * 1. Before any password is hashed: the throttle (throttle.ts) and the risk engine decide what this attempt may get
 *    — from the identifier, the source, the device and the account's history, never from the password.
 * 2. The password is hashed through a two-class gate (limits/gate.ts): an account's own known device first, so
 *    stuffing does not starve the owners.
 * 3. In a risky context — an unknown account, a risk decision other than allow, an identifier under attack — the
 *    answer is a challenge, whether the password was right or not. Only a right password gets a live challenge
 *    (signin_challenges); anything else gets a decoy (signin_decoys) that answers every later call the same way and
 *    can never complete. A refused right password tells the owner at once.
 * 4. Outside a risky context (the owner's known device and network): a wrong password is 401, a right one a session
 *    or — with an authenticator enrolled — a challenge for it.
 *
 * Factors have strength (factors/types.ts, asked of the registry): with an authenticator enrolled, an emailed code is never offered in its
 * place, at sign-in or at step-up. Losing the authenticator without a recovery code goes through a 72-hour wait told
 * to every verified address (requestFactorReset), which a mailbox alone cannot shorten.
 */
import type { Db } from "../db/database.ts";
import type { EventLog } from "../events/store.ts";
import { GateShed, type PriorityGate } from "../limits/gate.ts";
import { defaultRules, type LimitRule, type RateLimiter } from "../limits/limiter.ts";
import type { Notifier } from "../notify/notifier.ts";
import type { SessionService } from "../sessions/service.ts";
import type { SessionWithAccount } from "../sessions/store.ts";
import { sessionStore } from "../sessions/store.ts";
import { type Clock, DAY, HOUR } from "../shared/clock.ts";
import type { ContextEnricher, EnrichedContext, RequestContext } from "../shared/context.ts";
import { newId, newToken, sha256 } from "../shared/crypto.ts";
import { CommonErrors, MamoriError } from "../shared/errors.ts";
import { accountControl } from "./account-control.ts";
import type { ActionTokens } from "./action-tokens.ts";
import { IdentityErrors } from "./errors.ts";
import type { EmailCodeFactor } from "./factors/email-code/factor.ts";
import { PasskeyErrors } from "./factors/passkey/errors.ts";
import type { PasskeyFactor } from "./factors/passkey/factor.ts";
import type { RecoveryCodesFactor } from "./factors/recovery-codes/factor.ts";
import type { FactorRegistry } from "./factors/registry.ts";
import type { TotpFactor } from "./factors/totp/factor.ts";
import type { Factor } from "./factors/types.ts";
import { normalizeEmail } from "./normalize.ts";
import type { PasswordHasher } from "./passwords.ts";
import type { StoredSecrets } from "./secrets.ts";
import { type AccountRow, identityStore as store } from "./store.ts";
import { SignInThrottle, type ThrottleMode } from "./throttle.ts";

export type Language = "ja" | "en";
/** A registered factor's kind (factors/registry.ts): totp, recovery_code, passkey, email_code, or a plug-in's. */
export type SecondFactor = string;

/** A WebAuthn assertion as @simplewebauthn/browser's startAuthentication() answers it. */
export type PasskeyAssertion = Parameters<PasskeyFactor["verify"]>[0]["proof"];

export type SignInResult =
  | { status: "signed_in"; accountId: string; session: { id: string; token: string; expiresAt: string } }
  | { status: "challenge"; challengeToken: string; factors: SecondFactor[]; expiresAt: string };

/** What identity needs from the risk engine; implemented by risk/service.ts. */
export interface LoginRisk {
  /** Asked before the password is checked, for every attempt (accountId null: no such account). */
  assessLogin(input: { accountId: string | null; context: EnrichedContext }): Promise<{
    action: "allow" | "challenge" | "review" | "deny";
    /** the factor the challenge must be met with, or one as strong (a registered kind); "any" or absent: any */
    factor?: string;
    decisionId: string;
    reasons: string[];
  }>;
  loginSucceeded(input: { accountId: string; context: EnrichedContext }): void;
}

export interface SignInConfig {
  publicUrl: string;
  codeTtlMs: number;
  challengeTtlMs: number;
  /** how long a request to remove a lost authenticator waits (default 72 h) */
  factorResetDelayMs: number;
  /** `always`: every password sign-in needs a second factor, from anywhere (ASVS 6.3.3) */
  secondFactor?: "risk" | "always";
}

/** Pieces of the identity service the sign-in flows share (service.ts builds them). */
export interface SignInKit {
  account(ex: Db, id: string): Promise<AccountRow>;
  lang(a: AccountRow): Language;
  verifiedEmails(ex: Db, accountId: string): Promise<string[]>;
  /** Removes the enrolled authenticator and its recovery codes, keeping the old state for a roll-back. */
  removeTotp(t: Db, a: AccountRow, by: string): Promise<void>;
  /** every registered factor (factors/registry.ts) */
  factors: FactorRegistry;
  /** The passkey factor (factors/passkey/): usernameless sign-in, and the step-up proof. */
  passkey: PasskeyFactor;
  /** the authenticator app (factors/totp/) and its recovery codes (factors/recovery-codes/) */
  totp: TotpFactor;
  recoveryCodes: RecoveryCodesFactor;
  /** the code mailed to the verified addresses (factors/email-code/) */
  emailCode: EmailCodeFactor;
}

export interface SignInDeps {
  db: Db;
  clock: Clock;
  config: SignInConfig;
  events: EventLog;
  notifier: Notifier;
  sessions: SessionService;
  hasher: PasswordHasher;
  enricher: ContextEnricher;
  limiter: RateLimiter;
  actionTokens: ActionTokens;
  secrets: StoredSecrets;
  hashGate: PriorityGate;
  loginRisk?: LoginRisk | undefined;
}

const MAX_CHALLENGE_ATTEMPTS = 5;
/** Right-password alerts (refused, or a challenge left unfinished) per account per day: an attacker cannot flood. */
export const passwordAlertRule: LimitRule = { name: "passwordAlertsPerAccount", limit: 3, windowMs: DAY };
/** "We did not send a code" mails per account. */
const codeNotSentRule: LimitRule = { name: "codeNotSentPerAccount", limit: 1, windowMs: 6 * HOUR };
/** Codes sent per identifier (live and decoy challenges alike). */
const challengeCodeRule: LimitRule = { name: "challengeCodesPerId", limit: 5, windowMs: HOUR };

const iso = (ms: number) => new Date(ms).toISOString();
const deviceOf = (ctx: EnrichedContext) =>
  [ctx.browser, ctx.os, ctx.deviceType].filter(Boolean).join(", ") || ctx.userAgent.slice(0, 80);
const idKey = (identifier: string) => sha256(`signin:${identifier}`).slice(0, 32);

type StoredContext = RequestContext & { epoch: number; identifier: string };

/** A challenge found by its token: live (the password was right) or a decoy (it never completes). */
type FoundChallenge =
  | { live: true; id: string; accountId: string; context: StoredContext; attempts: number }
  | {
      live: false;
      id: string;
      accountId: string | null;
      identifier: string;
      reason: string;
      factors: SecondFactor[];
      attempts: number;
    };

export function createSignIn(deps: SignInDeps, kit: SignInKit) {
  const { db, clock, config, events, notifier, sessions, hasher, limiter } = deps;
  const throttle = new SignInThrottle(limiter);
  // Burned on unknown accounts so a sign-in for a missing email costs the same as a wrong password.
  const dummyHash = hasher.hash(newToken("dummy"));
  const tx = <T>(fn: (t: Db) => Promise<T>) => db.transaction().execute(fn);

  async function limit(rule: LimitRule, key: string): Promise<void> {
    const r = await limiter.consume(rule, key);
    if (!r.allowed) throw CommonErrors.rate_limited({ retryAfterSeconds: Math.ceil(r.retryAfterMs / 1000) });
  }

  /** Verifies through the gate, or burns the same time on a dummy hash when there is no account. */
  async function checkPassword(hash: string | null, password: string, knownDevice: boolean): Promise<boolean> {
    try {
      return await deps.hashGate.run(knownDevice ? "high" : "low", async () => {
        if (hash) return hasher.verify(hash, password);
        await hasher.verify(await dummyHash, password);
        return false;
      });
    } catch (e) {
      // Overloaded: shed before hashing, so the answer says nothing about the password.
      if (e instanceof GateShed) throw CommonErrors.rate_limited({ retryAfterSeconds: 1, reason: "busy" });
      throw e;
    }
  }

  /**
   * An imported hash (bcrypt, scrypt, PBKDF2, argon2i/d) becomes argon2id at the first sign-in that proves the
   * password, its history row with it. Guarded on the old hash: a password changed meanwhile is never overwritten.
   */
  async function upgradeHash(accountId: string, old: string, password: string): Promise<void> {
    const fresh = await hasher.hash(password);
    await tx(async (t) => {
      const r = await t
        .updateTable("accounts")
        .set({ password_hash: fresh })
        .where("id", "=", accountId)
        .where("password_hash", "=", old)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) return;
      await t
        .updateTable("password_history")
        .set({ hash: fresh })
        .where("account_id", "=", accountId)
        .where("hash", "=", old)
        .execute();
    });
  }

  function normalizeIdentifier(raw: string): string {
    try {
      return normalizeEmail(raw);
    } catch {
      return String(raw).trim().toLowerCase().slice(0, 254);
    }
  }

  async function recordAttempt(
    t: Db,
    ctx: EnrichedContext,
    a: { accountId: string | null; identifier: string; outcome: string; reason: string | null; sessionId?: string },
  ) {
    await store.recordLoginAttempt(t, {
      account_id: a.accountId,
      identifier: a.identifier.slice(0, 254),
      outcome: a.outcome,
      reason: a.reason,
      channel: ctx.channel,
      ip: ctx.ip,
      country: ctx.country,
      asn: ctx.asn,
      user_agent: ctx.userAgent.slice(0, 512),
      browser: ctx.browser,
      os: ctx.os,
      device_type: ctx.deviceType,
      device_id: ctx.deviceId ?? null,
      session_id: a.sessionId ?? null,
      at: clock.now(),
    });
  }

  /** A pending, due request to remove the authenticator: the account then signs in with its mailbox once more. */
  async function dueFactorReset(ex: Db, accountId: string, now: number) {
    return ex
      .selectFrom("factor_resets")
      .selectAll()
      .where("account_id", "=", accountId)
      .where("cancelled_at", "is", null)
      .where("completed_at", "is", null)
      .where("due_at", "<=", now)
      .executeTakeFirst();
  }

  /**
   * The account's factors that could answer a challenge, ignoring any pending reset: each registered factor that is
   * enrolled — a stand-in (`backs`: recovery codes) while the factor it backs is — in registration order.
   */
  async function enrolledFactors(accountId: string): Promise<Factor[]> {
    const known = new Map<string, boolean>();
    const on = async (kind: string) => {
      let v = known.get(kind);
      if (v === undefined) {
        v = (await kit.factors.get(kind)?.enrolled(db, accountId)) ?? false;
        known.set(kind, v);
      }
      return v;
    };
    const out: Factor[] = [];
    for (const kind of kit.factors.kinds) {
      const f = kit.factors.get(kind)!;
      if (await on(f.backs ?? f.kind)) out.push(f);
    }
    return out;
  }

  /** The kinds a due factor reset takes away: the factor it removes and its stand-ins (none without a due reset). */
  async function resetKinds(accountId: string): Promise<Set<string>> {
    const due = await dueFactorReset(db, accountId, clock.now());
    if (!due) return new Set();
    return new Set(kit.factors.kinds.filter((k) => k === due.factor || kit.factors.get(k)?.backs === due.factor));
  }

  const strongestOf = (fs: readonly Factor[]) => fs.reduce((m, f) => Math.max(m, f.strength), 0);

  /**
   * The factors that can complete a sign-in challenge for this account (asked of the registry), strongest first and,
   * among equals, the phishing-resistant ones first. A weaker factor (the emailed code) never stands in for a stronger
   * one the account has — unless a reset of the stronger one has waited out its delay. `riskFactor`: the engine's
   * factor; only factors at least as strong answer.
   */
  async function challengeFactors(a: AccountRow, riskFactor?: string): Promise<SecondFactor[]> {
    const have = await enrolledFactors(a.id);
    const top = strongestOf(have);
    const weaker = have.some((f) => f.strength < top);
    const due = weaker && (await dueFactorReset(db, a.id, clock.now())) !== undefined;
    const min = (riskFactor && kit.factors.get(riskFactor)?.strength) || 0;
    return have
      .filter((f) => (f.strength >= top || due) && f.strength >= min)
      .map((f, i) => ({ f, i }))
      .sort(
        (x, y) =>
          y.f.strength - x.f.strength ||
          Number(y.f.phishingResistant ?? false) - Number(x.f.phishingResistant ?? false) ||
          x.i - y.i,
      )
      .map((x) => x.f.kind);
  }

  /**
   * The second-factor strength the account requires: its strongest enrolled factor's (2 an authenticator or a
   * passkey, 1 the emailed code, 0 none), not counting one whose reset has waited out its delay.
   */
  async function requiredSecondFactor(a: AccountRow): Promise<number> {
    const have = await enrolledFactors(a.id);
    if (!have.length) return 0;
    const gone = await resetKinds(a.id);
    return strongestOf(have.filter((f) => !gone.has(f.kind)));
  }

  /** Is anything about this context new to the account (country, network, device)? */
  async function newToAccount(accountId: string, ctx: EnrichedContext) {
    const fam = await store.familiarity(db, accountId, {
      deviceId: ctx.deviceId ?? null,
      browser: ctx.browser,
      os: ctx.os,
      deviceType: ctx.deviceType,
      country: ctx.country,
      asn: ctx.asn,
    });
    return !fam.anyBefore || !fam.deviceSeen || !fam.countrySeen || !fam.asnSeen;
  }

  /** Tells the owner a right password was refused (rate-limited per account), in the caller's transaction. */
  async function alertRightPassword(t: Db, a: AccountRow, ctx: EnrichedContext, eventId: string | null) {
    const r = await limiter.consume(passwordAlertRule, a.id);
    if (!r.allowed) return;
    await notifier.securityNotice(t, {
      accountId: a.id,
      eventId,
      template: "signin_refused_right_password",
      vars: {
        at: iso(clock.now()),
        ip: ctx.ip,
        country: ctx.country ?? "unknown",
        network: ctx.asOrg ? `${ctx.asOrg} (AS${ctx.asn})` : ctx.asn !== null ? `AS${ctx.asn}` : "unknown",
        device: deviceOf(ctx),
      },
    });
  }

  /** Creates the session, records the success, and tells the owner when the device or country is new. */
  async function completeSignIn(
    a: AccountRow,
    ctx: EnrichedContext,
    factor: string,
    secondFactor: SecondFactor | null,
    identifier: string,
    appPasswordId: string | null = null,
    within?: (t: Db, sessionId: string) => Promise<void>,
  ): Promise<SignInResult & { status: "signed_in" }> {
    const r = await tx(async (t) => {
      const fam = await store.familiarity(t, a.id, {
        deviceId: ctx.deviceId ?? null,
        browser: ctx.browser,
        os: ctx.os,
        deviceType: ctx.deviceType,
        country: ctx.country,
        asn: ctx.asn,
      });
      const { token, row } = await sessions.create(t, {
        accountId: a.id,
        epoch: a.credential_epoch,
        ctx,
        factor,
        secondFactor,
        appPasswordId,
      });
      await recordAttempt(t, ctx, {
        accountId: a.id,
        identifier,
        outcome: "succeeded",
        reason: null,
        sessionId: row.id,
      });
      const newDevice = fam.anyBefore && !fam.deviceSeen;
      const newCountry = fam.anyBefore && !fam.countrySeen;
      const ev = await events.append(t, {
        accountId: a.id,
        type: "session.created",
        data: {
          sessionId: row.id,
          channel: row.channel,
          factor,
          country: ctx.country,
          asn: ctx.asn,
          device: [ctx.browser, ctx.os, ctx.deviceType].filter(Boolean).join(" / "),
          deviceId: ctx.deviceId ?? null,
          newDevice,
          newCountry,
        },
        actor: `session:${row.id}`,
        ip: ctx.ip,
      });
      if (newDevice || newCountry) {
        await notifier.securityNotice(t, {
          accountId: a.id,
          eventId: ev.id,
          template: "signin_new_device",
          vars: { device: deviceOf(ctx), ip: ctx.ip, country: ctx.country ?? "unknown", at: iso(clock.now()) },
        });
      }
      if (within) await within(t, row.id);
      return {
        status: "signed_in" as const,
        accountId: a.id,
        session: { id: row.id, token, expiresAt: iso(row.expires_at) },
      };
    });
    deps.loginRisk?.loginSucceeded({ accountId: a.id, context: ctx });
    return r;
  }

  /** A live challenge: the password was right, and a factor the account has can complete it. */
  async function liveChallenge(
    a: AccountRow,
    ctx: EnrichedContext,
    identifier: string,
    factors: SecondFactor[],
    reason: string,
  ): Promise<SignInResult> {
    const token = newToken("msc");
    const now = clock.now();
    const expiresAt = now + config.challengeTtlMs;
    await tx(async (t) => {
      await t
        .insertInto("signin_challenges")
        .values({
          id: newId(),
          token_hash: sha256(token),
          account_id: a.id,
          context: JSON.stringify({
            ip: ctx.ip,
            userAgent: ctx.userAgent,
            ...(ctx.deviceId ? { deviceId: ctx.deviceId } : {}),
            channel: ctx.channel,
            epoch: a.credential_epoch,
            identifier,
          } satisfies StoredContext),
          created_at: now,
          expires_at: expiresAt,
          completed_at: null,
          attempts: 0,
        })
        .execute();
      await recordAttempt(t, ctx, { accountId: a.id, identifier, outcome: "challenged", reason });
    });
    return { status: "challenge", challengeToken: token, factors, expiresAt: iso(expiresAt) };
  }

  /**
   * A challenge that can never complete, answered exactly like a live one. Records what really happened (a failure,
   * a refusal) and, for a refused right password from somewhere new, tells the owner.
   */
  async function decoyChallenge(input: {
    a: AccountRow | undefined;
    ctx: EnrichedContext;
    identifier: string;
    reason: "wrong_password" | "unknown_account" | "denied" | "inactive" | "refused";
    factors: SecondFactor[];
    attempt: { outcome: string; reason: string };
    alert: boolean;
  }): Promise<SignInResult> {
    const token = newToken("msc");
    const now = clock.now();
    const expiresAt = now + config.challengeTtlMs;
    const factors: SecondFactor[] = input.factors.length ? input.factors : [kit.emailCode.kind];
    const alert = input.alert && input.a ? await newToAccount(input.a.id, input.ctx) : false;
    await tx(async (t) => {
      await t
        .insertInto("signin_decoys")
        .values({
          id: newId(),
          token_hash: sha256(token),
          account_id: input.a?.id ?? null,
          identifier: input.identifier,
          reason: input.reason,
          factors: JSON.stringify(factors),
          created_at: now,
          expires_at: expiresAt,
          completed_at: null,
          attempts: 0,
        })
        .execute();
      await recordAttempt(t, input.ctx, {
        accountId: input.a?.id ?? null,
        identifier: input.identifier,
        outcome: input.attempt.outcome,
        reason: input.attempt.reason,
      });
      if (alert && input.a) await alertRightPassword(t, input.a, input.ctx, null);
    });
    return { status: "challenge", challengeToken: token, factors, expiresAt: iso(expiresAt) };
  }

  /** Both tables in parallel, whatever the token: the lookup costs the same for a live challenge and a decoy. */
  async function findChallenge(token: string): Promise<FoundChallenge> {
    if (typeof token !== "string" || token.length > 200) throw IdentityErrors.challenge_invalid();
    const hash = sha256(token);
    const [live, decoy] = await Promise.all([
      db.selectFrom("signin_challenges").selectAll().where("token_hash", "=", hash).executeTakeFirst(),
      db.selectFrom("signin_decoys").selectAll().where("token_hash", "=", hash).executeTakeFirst(),
    ]);
    const now = clock.now();
    if (live && live.completed_at === null && live.expires_at > now) {
      const c = JSON.parse(live.context) as StoredContext;
      const a = await kit.account(db, live.account_id);
      if (a.credential_epoch !== c.epoch) throw IdentityErrors.challenge_invalid();
      return { live: true, id: live.id, accountId: live.account_id, context: c, attempts: live.attempts };
    }
    if (decoy && decoy.completed_at === null && decoy.expires_at > now) {
      return {
        live: false,
        id: decoy.id,
        accountId: decoy.account_id,
        identifier: decoy.identifier,
        reason: decoy.reason,
        factors: JSON.parse(decoy.factors) as SecondFactor[],
        attempts: decoy.attempts,
      };
    }
    throw IdentityErrors.challenge_invalid();
  }

  /** Counts a guess against the challenge before checking it (guarded: at most five, on either table). */
  async function countGuess(ch: FoundChallenge): Promise<void> {
    const table = ch.live ? "signin_challenges" : "signin_decoys";
    const counted = await db
      .updateTable(table)
      .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
      .where("id", "=", ch.id)
      .where("attempts", "<", MAX_CHALLENGE_ATTEMPTS)
      .where("completed_at", "is", null)
      .executeTakeFirst();
    if (Number(counted.numUpdatedRows) !== 1) throw IdentityErrors.challenge_invalid();
  }

  /**
   * Checks a proof with the factor of that kind (throws its stable error). A stand-in (recovery codes) completes
   * nothing without the factor it backs enrolled.
   */
  async function verifyFactor(
    a: AccountRow,
    kind: string,
    proof: unknown,
    at: { purpose: "second_factor" | "step_up"; boundTo: string; ip: string | null },
  ): Promise<Factor> {
    const f = kit.factors.get(kind);
    if (!f) throw IdentityErrors.factor_unavailable();
    if (f.backs && !(await kit.factors.get(f.backs)?.enrolled(db, a.id))) throw IdentityErrors.code_invalid();
    await f.verify({ ...at, accountId: a.id, proof });
    return f;
  }

  return {
    /** A session for an account that just proved itself another way (a confirmed sign-up). */
    openSession(a: AccountRow, ctx: EnrichedContext, identifier: string) {
      return completeSignIn(a, ctx, "password", null, identifier);
    },

    /** Is this address (or its /24, /48) on the attack-source list? For support and tests. */
    sourceListed: (ip: string) => throttle.listed(ip),

    /** The account's required second-factor strength (sessions ask it before ending older sessions). */
    async requiredSecondFactor(accountId: string): Promise<number> {
      return requiredSecondFactor(await kit.account(db, accountId));
    },

    async signIn(input: { email: string; password: string; context: RequestContext }): Promise<SignInResult> {
      const ctx = deps.enricher.enrich(input.context);
      const identifier = normalizeIdentifier(input.email);
      const accountId = await store.accountIdByEmail(db, identifier);
      const a = accountId ? await store.getAccount(db, accountId) : undefined;
      const knownDevice = a && ctx.deviceId ? await store.deviceSignedIn(db, a.id, ctx.deviceId) : false;

      // 1. Before the hash: the throttle (may answer 429), then the risk engine — neither sees the password.
      const mode: ThrottleMode = await throttle.before({ identifier, ctx, knownDevice });
      const risk = deps.loginRisk ? await deps.loginRisk.assessLogin({ accountId: a?.id ?? null, context: ctx }) : null;
      const riskAsks = risk !== null && risk.action !== "allow";
      // With a second factor always required, the owner's own device gets the challenge too, answered whatever the
      // password (the risky path), so the always-on challenge is no oracle either.
      const always = config.secondFactor === "always";
      const risky = !a || mode !== "normal" || riskAsks || always;

      // 2. The hash (skipped only when the identifier is refused outright, which does not depend on the account).
      const right =
        mode === "refuse" ? false : await checkPassword(a?.password_hash ?? null, input.password, knownDevice);
      if (!right) await throttle.failed({ identifier, ctx });

      // 3. The owner's known context: the usual answers.
      if (!risky && a) {
        if (!right) {
          await tx((t) =>
            recordAttempt(t, ctx, { accountId: a.id, identifier, outcome: "failed", reason: "invalid_credentials" }),
          );
          throw IdentityErrors.invalid_credentials();
        }
        const blocked =
          a.status === "frozen"
            ? IdentityErrors.account_frozen()
            : a.status === "locked"
              ? IdentityErrors.account_locked()
              : a.password_reset_required
                ? IdentityErrors.password_reset_required()
                : null;
        if (blocked) {
          await tx((t) =>
            recordAttempt(t, ctx, { accountId: a.id, identifier, outcome: "denied", reason: blocked.code }),
          );
          throw blocked;
        }
        // The answer says the password was right from here on, so the rehash's cost tells nobody anything new.
        if (hasher.needsRehash(a.password_hash ?? "$argon2id$"))
          await upgradeHash(a.id, a.password_hash!, input.password);
        if (strongestOf(await enrolledFactors(a.id)) < 2) return completeSignIn(a, ctx, "password", null, identifier);
        return liveChallenge(a, ctx, identifier, await challengeFactors(a), "second_factor");
      }

      // 4. A risky context: a challenge whatever the password. Live only for a right password on an active account
      //    that the engine (or the throttle) asked to challenge, with a factor that can meet it.
      const factors = a ? await challengeFactors(a, risk?.factor) : [];
      const active = a !== undefined && a.status === "active" && !a.password_reset_required;
      const wantsChallenge =
        always || mode === "challenge" || risk?.action === "challenge" || risk?.action === "review";
      if (a && right && active && mode !== "refuse" && risk?.action !== "deny" && wantsChallenge && factors.length) {
        return liveChallenge(
          a,
          ctx,
          identifier,
          factors,
          mode === "challenge" && !riskAsks
            ? "under_attack"
            : riskAsks || mode !== "normal"
              ? "risk_policy"
              : "second_factor",
        );
      }
      if (!a) {
        return decoyChallenge({
          a,
          ctx,
          identifier,
          reason: "unknown_account",
          factors,
          attempt: { outcome: "failed", reason: "invalid_credentials" },
          alert: false,
        });
      }
      if (!right) {
        return decoyChallenge({
          a,
          ctx,
          identifier,
          reason: mode === "refuse" ? "refused" : "wrong_password",
          factors,
          attempt: {
            outcome: mode === "refuse" ? "denied" : "failed",
            reason: mode === "refuse" ? "under_attack" : "invalid_credentials",
          },
          alert: false,
        });
      }
      // A right password, refused: by the engine, for want of a factor, or because the account is not active.
      const why = !active
        ? a.status === "frozen"
          ? "account_frozen"
          : a.status === "locked"
            ? "account_locked"
            : "password_reset_required"
        : risk?.action === "deny"
          ? "risk_policy"
          : "risk_no_factor";
      return decoyChallenge({
        a,
        ctx,
        identifier,
        reason: active ? "denied" : "inactive",
        factors,
        attempt: { outcome: "denied", reason: why },
        alert: active,
      });
    },

    async sendSignInChallengeCode(input: { challengeToken: string }): Promise<{ sentTo: number }> {
      const ch = await findChallenge(input.challengeToken);
      const identifier = ch.live ? ch.context.identifier : ch.identifier;
      const accountId = ch.accountId;
      const a = accountId ? await kit.account(db, accountId) : undefined;
      const factors = ch.live ? await challengeFactors(a!) : ch.factors;
      if (!factors.includes(kit.emailCode.kind)) throw IdentityErrors.factor_unavailable();
      await limit(challengeCodeRule, idKey(identifier));
      const emails = a ? await kit.verifiedEmails(db, a.id) : [];
      if (!ch.live) {
        // Nothing is sent for a decoy; the mailbox's owner hears why, once in a while, after a wrong password.
        if (a && ch.reason === "wrong_password" && emails.length) {
          const r = await limiter.consume(codeNotSentRule, a.id);
          if (r.allowed) {
            await tx(async (t) => {
              for (const e of emails) {
                await notifier.direct(t, {
                  accountId: a.id,
                  channel: "email",
                  recipient: e,
                  language: kit.lang(a),
                  template: "signin_code_not_sent",
                  vars: { at: iso(clock.now()) },
                });
              }
            });
          }
        }
        return { sentTo: Math.max(emails.length, 1) };
      }
      if (!a || !emails.length) throw IdentityErrors.factor_unavailable();
      return kit.emailCode.challenge({ purpose: "second_factor", accountId: a.id, boundTo: ch.id });
    },

    async completeSignInChallenge(input: {
      challengeToken: string;
      factor: SecondFactor;
      code?: string | undefined;
      passkey?: PasskeyAssertion | undefined;
      context?: RequestContext;
    }): Promise<SignInResult> {
      const ch = await findChallenge(input.challengeToken);
      const identifier = ch.live ? ch.context.identifier : ch.identifier;
      const ctx = deps.enricher.enrich(
        input.context ?? (ch.live ? ch.context : { ip: "0.0.0.0", userAgent: "", channel: "web" }),
      );
      await limit(defaultRules.codeChecksPerAccount, idKey(identifier));
      await limit(defaultRules.codeChecksPerIp, ctx.ip);
      await countGuess(ch);
      const failed = async (reason: string, err = IdentityErrors.challenge_failed()) => {
        await tx((t) =>
          recordAttempt(t, ctx, {
            accountId: ch.accountId,
            identifier,
            outcome: "failed",
            reason: `second_factor_${reason}`,
          }),
        );
        throw err;
      };
      if (!ch.live) return failed(ch.reason === "unknown_account" ? "unknown_account" : "challenge_failed");

      const a = await kit.account(db, ch.accountId);
      const allowed = await challengeFactors(a);
      if (!allowed.includes(input.factor)) return failed("factor_unavailable", IdentityErrors.factor_unavailable());
      // Each factor checks its own proof: a passkey's answer to this challenge's own options (bound to it), a code.
      const proof = input.passkey ?? (input.code === undefined ? undefined : String(input.code));
      if (proof === undefined) return failed("proof_missing");
      let f: Factor;
      try {
        f = await verifyFactor(a, input.factor, proof, { purpose: "second_factor", boundTo: ch.id, ip: ctx.ip });
      } catch (e) {
        if (!(e instanceof MamoriError)) throw e;
        if (e.code === "code_replayed") return failed("code_replayed", IdentityErrors.code_replayed());
        return failed(e.code);
      }
      const done = await db
        .updateTable("signin_challenges")
        .set({ completed_at: clock.now() })
        .where("id", "=", ch.id)
        .where("completed_at", "is", null)
        .executeTakeFirst();
      if (Number(done.numUpdatedRows) !== 1) throw IdentityErrors.challenge_invalid();
      const fresh = await kit.account(db, a.id);
      if (fresh.status === "frozen") throw IdentityErrors.account_frozen();
      if (fresh.status === "locked") throw IdentityErrors.account_locked();
      if (fresh.password_reset_required) throw IdentityErrors.password_reset_required();
      if (fresh.credential_epoch !== ch.context.epoch) throw IdentityErrors.challenge_invalid();
      const strong = f.strength >= 2;
      return completeSignIn(
        fresh,
        ctx,
        `password+${input.factor}`,
        input.factor,
        identifier,
        null,
        async (t, sessionId) => {
          const now = clock.now();
          if (strong) {
            // The owner still has the authenticator: a pending request to remove it was not theirs, or is moot.
            await cancelFactorResets(t, fresh.id, `session:${sessionId}`, now, ctx.ip);
          } else {
            // A weaker factor after the wait: the reset goes through, if what it removes is still there.
            const due = await dueFactorReset(t, fresh.id, now);
            if (due && (await kit.factors.get(due.factor)?.enrolled(t, fresh.id))) {
              await completeFactorReset(t, fresh, due.id, sessionId, ctx.ip);
            }
          }
        },
      );
    },

    async signInWithAppPassword(input: {
      email: string;
      appPassword: string;
      context: RequestContext;
    }): Promise<SignInResult> {
      const ctx = deps.enricher.enrich({ ...input.context, channel: "app-password" });
      const identifier = normalizeIdentifier(input.email);
      const accountId = await store.accountIdByEmail(db, identifier);
      const a = accountId ? await store.getAccount(db, accountId) : undefined;
      const mode = await throttle.before({ identifier, ctx, knownDevice: false });
      const risk = deps.loginRisk ? await deps.loginRisk.assessLogin({ accountId: a?.id ?? null, context: ctx }) : null;
      // A mail client cannot answer a challenge: an app password is allowed or refused, and a refusal is the same
      // 401 as a wrong one. The lookup runs for unknown accounts too (it finds nothing), so both cost the same.
      const ap = await deps.secrets.findAppPassword(
        db,
        a?.id ?? "",
        a?.credential_epoch ?? -1,
        String(input.appPassword),
      );
      const right = ap !== undefined && mode !== "refuse";
      const refused = risk?.action === "deny" || mode !== "normal";
      const active = a !== undefined && a.status === "active" && !a.password_reset_required;
      if (!right || !a || !active || refused) {
        if (!right) await throttle.failed({ identifier, ctx });
        const alert = right && a && active && refused ? await newToAccount(a.id, ctx) : false;
        await tx(async (t) => {
          await recordAttempt(t, ctx, {
            accountId: a?.id ?? null,
            identifier,
            outcome: right ? "denied" : "failed",
            reason: right ? (active ? "risk_policy" : `account_${a?.status}`) : "invalid_credentials",
          });
          if (alert && a) await alertRightPassword(t, a, ctx, null);
        });
        throw IdentityErrors.invalid_credentials();
      }
      await db
        .updateTable("app_passwords")
        .set({ last_used_at: clock.now(), last_used_ip: ctx.ip, last_used_country: ctx.country })
        .where("id", "=", ap.id)
        .execute();
      return completeSignIn(a, ctx, "app_password", null, identifier, ap.id);
    },

    /** Emails a code for a step-up (accounts whose strongest factor is their mailbox). */
    async requestStepUpCode(s: SessionWithAccount): Promise<{ sentTo: number }> {
      if (s.channel === "app_password") throw IdentityErrors.invalid_credentials();
      const a = await kit.account(db, s.account_id);
      if ((await requiredSecondFactor(a)) > kit.emailCode.strength) {
        throw IdentityErrors.factor_unavailable({ required: "totp" });
      }
      if (!(await kit.emailCode.enrolled(db, a.id))) throw IdentityErrors.factor_unavailable();
      await limit(challengeCodeRule, `stepup:${a.id}`);
      return kit.emailCode.challenge({ purpose: "step_up", accountId: a.id, boundTo: s.id });
    },

    /**
     * A fresh authentication for a sensitive change: the password, and a second factor no weaker than the account's
     * strongest (an emailed code only for an account without an authenticator). The session gets a new token: one
     * that leaked before this step-up is worth nothing after it.
     */
    async reauthenticate(
      s: SessionWithAccount,
      input: {
        password?: string | undefined;
        totpCode?: string;
        recoveryCode?: string;
        emailCode?: string;
        passkey?: PasskeyAssertion | undefined;
      },
      ip: string | null = null,
    ): Promise<{ secondFactor: boolean; session: { id: string; token: string; expiresAt: string } }> {
      if (s.channel === "app_password") throw IdentityErrors.invalid_credentials();
      if (input.passkey) {
        // A passkey with user verification is possession and a PIN or biometric in one signed answer: it refreshes
        // the sign-in and the second factor without the password, for this session's own challenge only.
        await kit.passkey.verify({
          purpose: "step_up",
          accountId: s.account_id,
          boundTo: s.id,
          proof: input.passkey,
          ip,
        });
        return tx(async (t) => {
          const now = clock.now();
          await sessionStore.markStepUp(t, s.id, now, "passkey");
          const session = await sessions.rotate(t, s);
          await cancelFactorResets(t, s.account_id, `session:${s.id}`, now, ip);
          return { secondFactor: true, session };
        });
      }
      if (input.password === undefined) throw IdentityErrors.invalid_credentials();
      // Only failures count, so a user who re-authenticates often is never locked out of sign-in.
      const key = `reauth:${s.account_id}`;
      const lim = await limiter.peek(defaultRules.signinFailuresPerAccount, key);
      if (!lim.allowed) throw CommonErrors.rate_limited({ retryAfterSeconds: Math.ceil(lim.retryAfterMs / 1000) });
      const a = await kit.account(db, s.account_id);
      const right = await checkPassword(a.password_hash, input.password!, true);
      if (!right) {
        await limiter.consume(defaultRules.signinFailuresPerAccount, key);
        throw IdentityErrors.invalid_credentials();
      }
      // The body names the proof by field; the factor of that kind checks it.
      const given: [SecondFactor, string] | null = input.totpCode
        ? ["totp", input.totpCode]
        : input.recoveryCode
          ? ["recovery_code", input.recoveryCode]
          : input.emailCode
            ? [kit.emailCode.kind, input.emailCode]
            : null;
      let second: Factor | null = null;
      if (given) {
        const f = kit.factors.get(given[0]);
        // A factor weaker than the account requires (the emailed code beside an authenticator) is not offered.
        if (f && (await requiredSecondFactor(a)) > f.strength) {
          throw IdentityErrors.factor_unavailable({ required: "totp" });
        }
        second = await verifyFactor(a, given[0], String(given[1]), { purpose: "step_up", boundTo: s.id, ip });
      }
      return tx(async (t) => {
        const now = clock.now();
        await sessionStore.markStepUp(t, s.id, now, second?.kind ?? null);
        const session = await sessions.rotate(t, s);
        if (second && second.strength >= 2) await cancelFactorResets(t, a.id, `session:${s.id}`, now, ip);
        return { secondFactor: second !== null, session };
      });
    },

    /**
     * Options for navigator.credentials.get(). `signin`: usernameless (discoverable credentials, bound to nothing);
     * `step_up`: bound to the caller's session; `second_factor`: bound to a sign-in challenge — a decoy gets options
     * that look the same and that no passkey can complete.
     */
    async startPasskeySignIn(input: {
      purpose: "signin" | "step_up" | "second_factor";
      session?: SessionWithAccount | undefined;
      challengeToken?: string | undefined;
    }) {
      if (input.purpose === "step_up") {
        if (!input.session || input.session.channel === "app_password") throw IdentityErrors.invalid_credentials();
        return kit.passkey.challenge({
          purpose: "step_up",
          accountId: input.session.account_id,
          boundTo: input.session.id,
        });
      }
      if (input.purpose === "second_factor") {
        const ch = await findChallenge(String(input.challengeToken ?? ""));
        return kit.passkey.challenge({ purpose: "second_factor", accountId: ch.accountId, boundTo: ch.id });
      }
      return kit.passkey.challenge({ purpose: "signin", accountId: null, boundTo: null });
    },

    /**
     * Usernameless sign-in with a passkey: no password, no identifier typed. The passkey is verified first (it names
     * the account), then the account's state and the risk engine are asked like any sign-in; a verified passkey
     * meets a challenge (it is a strong factor), a deny is refused. The session is a normal one, recorded in the
     * login history with the factor `passkey`.
     */
    async signInWithPasskey(input: {
      response: PasskeyAssertion;
      context: RequestContext;
    }): Promise<SignInResult & { status: "signed_in" }> {
      const ctx = deps.enricher.enrich(input.context);
      await limit(defaultRules.signinPerIp, ctx.ip);
      let proved: { accountId: string; itemId: string };
      try {
        proved = await kit.passkey.verify({
          purpose: "signin",
          accountId: null,
          boundTo: null,
          proof: input.response,
          ip: ctx.ip,
        });
      } catch (e) {
        const credential = typeof input.response?.id === "string" ? input.response.id.slice(0, 64) : "?";
        await tx((t) =>
          recordAttempt(t, ctx, {
            accountId: null,
            identifier: `passkey:${credential}`,
            outcome: "failed",
            reason: e instanceof MamoriError ? e.code : "passkey_invalid",
          }),
        );
        throw e;
      }
      const a = await kit.account(db, proved.accountId);
      const identifier = (await kit.verifiedEmails(db, a.id))[0] ?? `passkey:${proved.itemId}`;
      const risk = deps.loginRisk ? await deps.loginRisk.assessLogin({ accountId: a.id, context: ctx }) : null;
      const blocked =
        a.status === "frozen"
          ? IdentityErrors.account_frozen()
          : a.status === "locked"
            ? IdentityErrors.account_locked()
            : a.password_reset_required
              ? IdentityErrors.password_reset_required()
              : risk?.action === "deny"
                ? PasskeyErrors.passkey_signin_denied()
                : null;
      if (blocked) {
        await tx((t) =>
          recordAttempt(t, ctx, {
            accountId: a.id,
            identifier,
            outcome: "denied",
            reason: blocked.code === "passkey_signin_denied" ? "risk_policy" : blocked.code,
          }),
        );
        throw blocked;
      }
      return completeSignIn(a, ctx, "passkey", "passkey", identifier, null, (t, sessionId) =>
        cancelFactorResets(t, a.id, `session:${sessionId}`, clock.now(), ctx.ip).then(() => {}),
      );
    },

    /**
     * Lost the authenticator and every recovery code: from a live sign-in challenge (the password was right), asks
     * to remove it after the waiting period. Every verified address is told at once, with a one-click cancel; signing
     * in with the authenticator cancels it too. A decoy answers the same and does nothing.
     */
    async requestFactorReset(input: { challengeToken: string; context?: RequestContext }): Promise<{ dueAt: string }> {
      const ch = await findChallenge(input.challengeToken);
      const now = clock.now();
      const dueAt = iso(now + config.factorResetDelayMs);
      if (!ch.live) return { dueAt };
      const a = await kit.account(db, ch.accountId);
      if (!(await kit.totp.enrolled(db, a.id))) throw IdentityErrors.totp_not_enrolled();
      const ctx = deps.enricher.enrich(input.context ?? ch.context);
      await limit(defaultRules.resetRequestsPerAccount, `factor-reset:${a.id}`);
      const pending = await db
        .selectFrom("factor_resets")
        .select(["id", "due_at"])
        .where("account_id", "=", a.id)
        .where("cancelled_at", "is", null)
        .where("completed_at", "is", null)
        .executeTakeFirst();
      if (pending) return { dueAt: iso(pending.due_at) };
      await tx(async (t) => {
        const id = newId();
        await t
          .insertInto("factor_resets")
          .values({
            id,
            account_id: a.id,
            factor: "totp",
            requested_at: now,
            due_at: now + config.factorResetDelayMs,
            cancelled_at: null,
            cancelled_by: null,
            completed_at: null,
            context: JSON.stringify({ ip: ctx.ip, userAgent: ctx.userAgent, channel: ctx.channel }),
          })
          .execute();
        const ev = await events.append(t, {
          accountId: a.id,
          type: "factor_reset.requested",
          data: { factorResetId: id, factor: "totp", dueAt: now + config.factorResetDelayMs },
          actor: `challenge:${ch.id}`,
          ip: ctx.ip,
        });
        const cancel = await deps.actionTokens.issue(t, {
          accountId: a.id,
          purpose: "factor_reset_cancel",
          data: { factorResetId: id },
          now,
          ttlMs: config.factorResetDelayMs + DAY,
        });
        await notifier.securityNotice(t, {
          accountId: a.id,
          eventId: ev.id,
          template: "factor_reset_requested",
          vars: {
            at: iso(now),
            dueAt,
            cancelUrl: `${config.publicUrl}/links/cancel-factor-reset?t=${encodeURIComponent(cancel)}`,
            country: ctx.country ?? "unknown",
            device: deviceOf(ctx),
          },
        });
      });
      return { dueAt };
    },

    /** The one-click cancel from the notice. */
    async cancelFactorReset(input: { token: string; context?: RequestContext }): Promise<void> {
      const ip = input.context?.ip ?? null;
      await tx(async (t) => {
        const used = await deps.actionTokens.consume(t, input.token, "factor_reset_cancel", clock.now());
        if (!used) throw IdentityErrors.link_invalid();
        const n = await cancelFactorResets(t, used.accountId, "token:factor_reset_cancel", clock.now(), ip);
        if (n === 0) throw IdentityErrors.link_invalid();
      });
    },
  };

  async function cancelFactorResets(t: Db, accountId: string, by: string, now: number, ip: string | null) {
    const open_ = await t
      .selectFrom("factor_resets")
      .select("id")
      .where("account_id", "=", accountId)
      .where("cancelled_at", "is", null)
      .where("completed_at", "is", null)
      .execute();
    let n = 0;
    for (const r of open_) {
      // Guarded: a reset is cancelled (or completed) once.
      const u = await t
        .updateTable("factor_resets")
        .set({ cancelled_at: now, cancelled_by: by })
        .where("id", "=", r.id)
        .where("cancelled_at", "is", null)
        .where("completed_at", "is", null)
        .executeTakeFirst();
      if (Number(u.numUpdatedRows) !== 1) continue;
      n++;
      const ev = await events.append(t, {
        accountId,
        type: "factor_reset.cancelled",
        data: { factorResetId: r.id },
        actor: by,
        ip,
      });
      await notifier.securityNotice(t, {
        accountId,
        eventId: ev.id,
        template: "factor_reset_cancelled",
        vars: { at: iso(now) },
      });
    }
    return n;
  }

  /** The wait is over and the mailbox answered: the authenticator goes, in the sign-in's transaction. */
  async function completeFactorReset(t: Db, a: AccountRow, resetId: string, sessionId: string, ip: string) {
    const now = clock.now();
    const u = await t
      .updateTable("factor_resets")
      .set({ completed_at: now })
      .where("id", "=", resetId)
      .where("cancelled_at", "is", null)
      .where("completed_at", "is", null)
      .executeTakeFirst();
    if (Number(u.numUpdatedRows) !== 1) return;
    await kit.removeTotp(t, a, `session:${sessionId}`);
    await sessionStore.bumpEpoch(t, a.id, {
      epochs: accountControl,
      keepSessionId: sessionId,
      reason: "second_factor_changed",
      now,
    });
    const ev = await events.append(t, {
      accountId: a.id,
      type: "totp.disabled",
      data: { via: "factor_reset", factorResetId: resetId },
      actor: `session:${sessionId}`,
      ip,
    });
    await notifier.securityNotice(t, { accountId: a.id, eventId: ev.id, template: "totp_disabled", vars: {} });
  }
}

export type SignIn = ReturnType<typeof createSignIn>;
