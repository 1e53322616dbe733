import type { PublicKeyCredentialCreationOptionsJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import type { Db } from "../db/database.ts";
import type { EventLog } from "../events/store.ts";
import type { AccountControl } from "../identity/account-control.ts";
import { IdentityErrors } from "../identity/errors.ts";
import type { PasskeyView } from "../identity/factors/passkey/service.ts";
import type { NewPasswordRules } from "../identity/new-password.ts";
import { normalizeEmail, normalizePhone } from "../identity/normalize.ts";
import type { PasswordHasher } from "../identity/passwords.ts";
import { defaultRules, type RateLimiter } from "../limits/limiter.ts";
import type { Notifier } from "../notify/notifier.ts";
import type { Clock } from "../shared/clock.ts";
import { hmac, newId, newToken, numericCode, sha256 } from "../shared/crypto.ts";
import { CommonErrors } from "../shared/errors.ts";
import { ResponseErrors } from "./errors.ts";
import { responseStore } from "./store.ts";

export interface RecoveryDeps {
  db: Db;
  clock: Clock;
  events: EventLog;
  notifier: Notifier;
  /** identity's account-control: recovery sets the password and unfreezes through it, and reads the account there */
  accounts: AccountControl;
  hasher: PasswordHasher;
  /** identity's one password policy and history rules (new-password.ts), the same sign-up, change and reset use */
  passwords: NewPasswordRules;
  limiter: RateLimiter;
  codeKey: Buffer;
  /**
   * identity's passkeys (factors/passkey/service.ts), offered before the authenticator app: a challenge bound to the
   * recovery, the answer verified and added with its event and notice.
   */
  passkey: {
    offer(accountId: string, recoveryId: string): Promise<PublicKeyCredentialCreationOptionsJSON>;
    add(
      accountId: string,
      recoveryId: string,
      input: { response: RegistrationResponseJSON; name?: string | undefined },
      ip: string | null,
    ): Promise<PasskeyView>;
    count(accountId: string): Promise<number>;
  };
  /** identity's authenticator enrolment, offered (after a passkey) before the account is unfrozen */
  totp: {
    /** is an authenticator enrolled (identity's factor registry) */
    enrolled(accountId: string): Promise<boolean>;
    offer(accountId: string): Promise<{ secret: string; uri: string } | null>;
    confirm(accountId: string, code: string, ip: string | null): Promise<{ recoveryCodes: string[] }>;
  };
}

const CODE_TTL = 15 * 60_000;
const STEP_TTL = 60 * 60_000;
const MAX_ATTEMPTS = 5;
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * The owner's way back after a lockdown: prove control of an address verified before the compromise window, set a
 * new password (none of the last 5, and none in use during the window), review the devices, and only then unfreeze.
 */
export function createRecovery(deps: RecoveryDeps) {
  const { db, clock, events, notifier, hasher, limiter } = deps;
  const tx = <T>(fn: (t: Db) => Promise<T>) => db.transaction().execute(fn);
  const codeHash = (id: string, code: string) => hmac(deps.codeKey, `recovery:${id}:${code}`);
  const tokenHash = (token: string) => sha256(`recovery-token:${token}`);

  async function limit(key: string) {
    const r = await limiter.consume(defaultRules.codeChecksPerAccount, `recovery:${key}`);
    if (!r.allowed) throw CommonErrors.rate_limited({ retryAfterSeconds: Math.ceil(r.retryAfterMs / 1000) });
  }

  /** A verified, unexpired recovery by its bearer token, with its case. */
  async function byToken(ex: Db, token: string) {
    const r = await ex
      .selectFrom("recoveries")
      .selectAll()
      .where("token_hash", "=", tokenHash(token))
      .executeTakeFirst();
    const now = clock.now();
    if (!r || r.completed_at !== null || r.verified_at === null || r.verified_at + STEP_TTL < now) {
      throw ResponseErrors.recovery_invalid();
    }
    const c = await responseStore.getCase(ex, r.case_id);
    if (!c || c.status === "recovered" || c.status === "closed") throw ResponseErrors.recovery_invalid();
    return { r, c };
  }

  return {
    /**
     * Sends a code to the given address when it was verified on a locked-down account before the window. Answers the
     * same way whether or not it did, so the endpoint tells nobody which addresses are locked down.
     */
    async start(input: { identifier: string; ip: string | null }): Promise<{ recoveryId: string }> {
      if (input.ip) {
        const r = await limiter.consume(defaultRules.resetRequestsPerIp, `recovery:${input.ip}`);
        if (!r.allowed) throw CommonErrors.rate_limited({ retryAfterSeconds: Math.ceil(r.retryAfterMs / 1000) });
      }
      const raw = input.identifier.trim();
      let kind: "email" | "phone";
      let value: string;
      try {
        if (raw.includes("@")) {
          kind = "email";
          value = normalizeEmail(raw);
        } else {
          kind = "phone";
          value = normalizePhone(raw);
        }
      } catch {
        throw CommonErrors.invalid_request(
          { field: "identifier" },
          "identifier is not an email address or phone number",
        );
      }
      const decoy = { recoveryId: newId() };
      const rows = await db
        .selectFrom("contact_points")
        .selectAll()
        .where("kind", "=", kind)
        .where("value", "=", value)
        .where("verified", "=", 1)
        .execute();
      for (const ct of rows) {
        const c = await responseStore.activeCase(db, ct.account_id);
        if (!c || (c.status !== "locked_down" && c.status !== "recovering") || c.since === null) continue;
        // Only an address the owner had, verified, before the window proves anything.
        if (ct.added_at >= c.since || ct.verified_at === null || ct.verified_at >= c.since) continue;
        const peek = await limiter.peek(defaultRules.resetRequestsPerAccount, `recovery:${ct.account_id}`);
        if (!peek.allowed) return decoy;
        await limiter.consume(defaultRules.resetRequestsPerAccount, `recovery:${ct.account_id}`);
        const a = await deps.accounts.getAccount(db, ct.account_id);
        const id = newId();
        const code = numericCode(6);
        const now = clock.now();
        await tx(async (t) => {
          await t
            .insertInto("recoveries")
            .values({
              id,
              case_id: c.id,
              account_id: ct.account_id,
              contact_kind: kind,
              contact_value: value,
              code_hash: codeHash(id, code),
              attempts: 0,
              created_at: now,
              expires_at: now + CODE_TTL,
              verified_at: null,
              token_hash: null,
              password_set_at: null,
              devices_reviewed_at: null,
              completed_at: null,
            })
            .execute();
          await notifier.direct(t, {
            accountId: ct.account_id,
            channel: kind === "phone" ? "sms" : "email",
            recipient: value,
            language: a?.language === "ja" ? "ja" : "en",
            template: "recovery_code",
            vars: { code },
          });
          await events.append(t, {
            accountId: ct.account_id,
            type: "recovery.started",
            data: { caseId: c.id, recoveryId: id, contactKind: kind },
            actor: "recovery",
            ip: input.ip,
          });
        });
        return { recoveryId: id };
      }
      return decoy;
    },

    /** The code proves control of the address; the answer lists the devices to review and offers an authenticator. */
    async verify(input: { recoveryId: string; code: string; ip: string | null }) {
      await limit(input.recoveryId);
      const now = clock.now();
      const r = await db.selectFrom("recoveries").selectAll().where("id", "=", input.recoveryId).executeTakeFirst();
      if (!r || r.verified_at !== null || r.expires_at < now || r.attempts >= MAX_ATTEMPTS) {
        throw ResponseErrors.recovery_invalid();
      }
      if (codeHash(r.id, input.code.trim()) !== r.code_hash) {
        await db
          .updateTable("recoveries")
          .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
          .where("id", "=", r.id)
          .execute();
        throw IdentityErrors.code_invalid();
      }
      const token = newToken("mmr");
      // Guarded on verified_at is null: one code yields one recovery token.
      const u = await tx(async (t) => {
        const res = await t
          .updateTable("recoveries")
          .set({ verified_at: now, token_hash: tokenHash(token) })
          .where("id", "=", r.id)
          .where("verified_at", "is", null)
          .executeTakeFirst();
        if (Number(res.numUpdatedRows) !== 1) return false;
        await t
          .updateTable("cases")
          .set({ status: "recovering", updated_at: now })
          .where("id", "=", r.case_id)
          .execute();
        await events.append(t, {
          accountId: r.account_id,
          type: "recovery.contact_proven",
          data: { recoveryId: r.id, contactKind: r.contact_kind },
          actor: "recovery",
          ip: input.ip,
        });
        return true;
      });
      if (!u) throw ResponseErrors.recovery_invalid();
      return { recoveryToken: token, ...(await this.review(token)) };
    },

    /** Sessions of the account since shortly before the window, each marked attacker or owner. */
    async review(token: string) {
      const { c } = await byToken(db, token);
      const since = c.since ?? 0;
      const marks = await db.selectFrom("case_sessions").selectAll().where("case_id", "=", c.id).execute();
      const sessions = await db
        .selectFrom("sessions")
        .select(["id", "created_at", "ip", "country", "browser", "os", "device_type", "channel"])
        .where("account_id", "=", c.account_id)
        .where("created_at", ">=", since - 30 * 86_400_000)
        .orderBy("created_at", "desc")
        .limit(100)
        .execute();
      return {
        caseId: c.id,
        since: iso(since),
        totpEnabled: await deps.totp.enrolled(c.account_id),
        devices: sessions.map((s) => ({
          sessionId: s.id,
          createdAt: iso(s.created_at),
          ip: s.ip,
          country: s.country,
          device: [s.browser, s.os, s.device_type].filter(Boolean).join(" / "),
          channel: s.channel,
          role:
            marks.find((m) => m.session_id === s.id)?.role ?? (s.created_at >= since ? "attacker" : "before_window"),
        })),
      };
    },

    /** Where a recovery stands, for the hosted pages: which steps are done, and the account's language. */
    async progress(token: string) {
      const { r } = await byToken(db, token);
      const a = await deps.accounts.getAccount(db, r.account_id);
      return {
        passwordSet: r.password_set_at !== null,
        devicesReviewed: r.devices_reviewed_at !== null,
        totpEnabled: a !== undefined && (await deps.totp.enrolled(r.account_id)),
        passkeys: await deps.passkey.count(r.account_id),
        language: a?.language ?? null,
        contactKind: r.contact_kind,
        contactValue: r.contact_value,
      };
    },

    async setPassword(input: { recoveryToken: string; newPassword: string; ip: string | null }): Promise<void> {
      const { r, c } = await byToken(db, input.recoveryToken);
      // The proven address may have been removed by the attacker; it is the owner's all the same. Every password in
      // force during the window is refused too (the attacker knew them): password_used_in_window.
      await deps.passwords.assertAcceptable(db, {
        accountId: r.account_id,
        password: input.newPassword,
        emails: r.contact_kind === "email" ? [r.contact_value] : [],
        inForceSince: c.since ?? 0,
      });
      const hash = await hasher.hash(input.newPassword);
      await tx(async (t) => {
        const now = clock.now();
        await deps.accounts.setPasswordFromRecovery(t, { accountId: r.account_id, hash, now });
        // Still frozen: setPassword cleared the reset flag, the freeze keeps sign-in closed until recovery completes.
        await t.updateTable("recoveries").set({ password_set_at: now }).where("id", "=", r.id).execute();
        await events.append(t, {
          accountId: r.account_id,
          type: "recovery.password_set",
          data: { recoveryId: r.id },
          actor: "recovery",
          ip: input.ip,
        });
      });
    },

    /** The owner says which sessions in the window were theirs; the rest stay attacker sessions. */
    async reviewDevices(input: { recoveryToken: string; claimed: string[]; ip: string | null }): Promise<void> {
      const { r, c } = await byToken(db, input.recoveryToken);
      await tx(async (t) => {
        const now = clock.now();
        const own = await t
          .selectFrom("sessions")
          .select("id")
          .where("account_id", "=", r.account_id)
          .where("id", "in", input.claimed.length ? input.claimed : ["-"])
          .execute();
        for (const s of own) {
          await t
            .updateTable("case_sessions")
            .set({ role: "owner", at: now })
            .where("case_id", "=", c.id)
            .where("session_id", "=", s.id)
            .execute();
        }
        await t.updateTable("recoveries").set({ devices_reviewed_at: now }).where("id", "=", r.id).execute();
        await events.append(t, {
          accountId: r.account_id,
          type: "recovery.devices_reviewed",
          data: { recoveryId: r.id, claimed: own.map((s) => s.id) },
          actor: "recovery",
          ip: input.ip,
        });
      });
    },

    /**
     * Offers a passkey first (issue 17 item 3): unlike an authenticator's code, it cannot be typed into a phishing
     * page, and it signs in without the password. After the new password, like the authenticator's offer; the
     * attacker's passkeys were removed by the lockdown's roll-back, so what is added here is the owner's.
     */
    async offerPasskey(input: { recoveryToken: string }) {
      const { r } = await byToken(db, input.recoveryToken);
      if (r.password_set_at === null) throw ResponseErrors.recovery_step_missing({ passwordSet: false });
      return deps.passkey.offer(r.account_id, r.id);
    },

    async addPasskey(input: {
      recoveryToken: string;
      response: RegistrationResponseJSON;
      name?: string | undefined;
      ip: string | null;
    }) {
      const { r } = await byToken(db, input.recoveryToken);
      if (r.password_set_at === null) throw ResponseErrors.recovery_step_missing({ passwordSet: false });
      return deps.passkey.add(r.account_id, r.id, { response: input.response, name: input.name }, input.ip);
    },

    /** Offers an authenticator app (none enrolled, or the attacker's was rolled back): a secret to scan. */
    async offerTotp(input: { recoveryToken: string }) {
      const { r } = await byToken(db, input.recoveryToken);
      const offer = await deps.totp.offer(r.account_id);
      return offer ? { offered: true as const, ...offer } : { offered: false as const };
    },

    async confirmTotp(input: { recoveryToken: string; code: string; ip: string | null }) {
      const { r } = await byToken(db, input.recoveryToken);
      return deps.totp.confirm(r.account_id, input.code, input.ip);
    },

    /** Unfreezes once the password is new and the devices were reviewed; tells every verified address. */
    async complete(input: { recoveryToken: string; ip: string | null }): Promise<{ accountId: string }> {
      const { r, c } = await byToken(db, input.recoveryToken);
      if (r.password_set_at === null || r.devices_reviewed_at === null) {
        throw ResponseErrors.recovery_step_missing({
          passwordSet: r.password_set_at !== null,
          devicesReviewed: r.devices_reviewed_at !== null,
        });
      }
      await tx(async (t) => {
        const now = clock.now();
        const done = await t
          .updateTable("recoveries")
          .set({ completed_at: now })
          .where("id", "=", r.id)
          .where("completed_at", "is", null)
          .executeTakeFirst();
        if (Number(done.numUpdatedRows) !== 1) throw ResponseErrors.recovery_invalid();
        await deps.accounts.unfreeze(t, { accountId: r.account_id, now });
        await t
          .updateTable("cases")
          .set({ status: "recovered", recovered_at: now, updated_at: now })
          .where("id", "=", c.id)
          .execute();
        const ev = await events.append(t, {
          accountId: r.account_id,
          type: "account.recovered",
          data: { caseId: c.id, recoveryId: r.id },
          actor: "recovery",
          ip: input.ip,
        });
        await notifier.securityNotice(t, {
          accountId: r.account_id,
          eventId: ev.id,
          template: "account_recovered",
          vars: { at: iso(now) },
        });
      });
      return { accountId: r.account_id };
    },
  };
}

export type Recovery = ReturnType<typeof createRecovery>;
