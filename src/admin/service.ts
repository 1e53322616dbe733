import type { AuthenticationResponseJSON, RegistrationResponseJSON } from "@simplewebauthn/server";
import type { Db, Executor } from "../db/database.ts";
import { PasskeyErrors } from "../identity/factors/passkey/errors.ts";
import type { PasswordPolicy } from "../identity/password-policy.ts";
import type { PasswordHasher } from "../identity/passwords.ts";
import { generateTotpSecret, totpUri, verifyTotp } from "../identity/totp.ts";
import type { RateLimiter } from "../limits/limiter.ts";
import { SessionErrors } from "../sessions/errors.ts";
import type { Clock } from "../shared/clock.ts";
import { MINUTE } from "../shared/clock.ts";
import { humanCode, newId, newToken, open, seal, sha256 } from "../shared/crypto.ts";
import type { StaffAudit } from "./audit.ts";
import { AdminErrors, StaffSharedErrors } from "./errors.ts";
import { createStaffPasskeys, type StaffPasskeyConfig, staffPasskeyStore } from "./passkeys.ts";
import { StaffThrottle } from "./throttle.ts";

/** The staff session settings (MAMORI_STAFF_SESSION_IDLE_MINUTES, MAMORI_STAFF_SESSION_TTL_HOURS). */
export interface StaffConfig {
  staffSessionIdleMs: number;
  staffSessionTtlMs: number;
}

/** Ends every session and app password of a user, on the user's event chain with a notice; in the caller's tx. */
export type EndUserSessions = (
  tx: Executor,
  input: { accountId: string; staffId: string; staffName: string; reason: string; ip: string | null },
) => Promise<{ sessionsEnded: number; appPasswordsRevoked: number }>;

export interface AdminDeps {
  db: Db;
  clock: Clock;
  hasher: PasswordHasher;
  limiter: RateLimiter;
  passwordPolicy: PasswordPolicy;
  audit: StaffAudit;
  /** seals staff TOTP secrets (derived from the instance secret: staff-totp-seal) */
  totpKey: Buffer;
  config: StaffConfig;
  endUserSessions: EndUserSessions;
  /** the console's relying party: Mamori's own host and origin (MAMORI_PUBLIC_URL), see passkeys.ts */
  passkey: StaffPasskeyConfig;
}

/** A sign-in's TOTP step must be finished within this. */
const CHALLENGE_MS = 5 * MINUTE;
const CHALLENGE_ATTEMPTS = 5;
/** last_seen_at is written at most this often per session, whatever the request rate */
const TOUCH_MS = 30_000;
/** Positive API-key lookups are kept this long; a revoked store key stops working within it. */
const KEY_CACHE_MS = 5_000;
/** Adding a staff passkey needs a sign-in with the second factor at most this long ago (a left-open console is not enough). */
const PASSKEY_FRESH_MS = 10 * MINUTE;
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function createAdminService(deps: AdminDeps) {
  const { db, clock, hasher, audit } = deps;
  const throttle = new StaffThrottle(deps.limiter);
  // Keyed by the presented key itself (it is in this process's memory with every request anyway), so a cache hit
  // costs one map lookup and no hash.
  const keyCache = new Map<string, { id: string; until: number }>();
  const dummy = hasher.hash(newToken("dummy"));
  const passkeys = createStaffPasskeys({ db, clock, config: deps.passkey });

  /** A stolen or left-open console session cannot add a way back in: the sign-in must be recent. */
  async function freshSession(staff: { sessionId: string }): Promise<void> {
    const s = await db
      .selectFrom("admin_sessions")
      .select("second_factor_at")
      .where("id", "=", staff.sessionId)
      .executeTakeFirst();
    if (!s || s.second_factor_at === null || s.second_factor_at + PASSKEY_FRESH_MS < clock.now()) {
      throw SessionErrors.reauthentication_required(undefined, "Sign in again (within 10 minutes) to add a passkey.");
    }
  }

  /** Guarded on totp_last_step: two requests with the same code cannot both advance it. */
  async function advanceTotpStep(tx: Executor, adminId: string, step: number): Promise<boolean> {
    const r = await tx
      .updateTable("admin_users")
      .set({ totp_last_step: step })
      .where("id", "=", adminId)
      .where((eb) => eb.or([eb("totp_last_step", "is", null), eb("totp_last_step", "<", step)]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async function createSession(tx: Executor, adminId: string, ip: string, secondFactorAt: number | null) {
    const token = newToken("mad");
    const id = newId();
    const now = clock.now();
    const expiresAt = now + deps.config.staffSessionTtlMs;
    await tx
      .insertInto("admin_sessions")
      .values({
        id,
        token_hash: sha256(token),
        admin_id: adminId,
        created_at: now,
        expires_at: expiresAt,
        revoked_at: null,
        revoked_reason: null,
        last_seen_at: now,
        second_factor_at: secondFactorAt,
        ip,
      })
      .execute();
    return { id, token, expiresAt: iso(expiresAt)! };
  }

  async function endStaffSessions(tx: Executor, adminId: string, reason: string, keep?: string): Promise<void> {
    let q = tx
      .updateTable("admin_sessions")
      .set({ revoked_at: clock.now(), revoked_reason: reason })
      .where("admin_id", "=", adminId)
      .where("revoked_at", "is", null);
    if (keep) q = q.where("id", "!=", keep);
    await q.execute();
  }

  return {
    async createApiKey(name: string): Promise<{ id: string; key: string }> {
      const key = newToken("mk");
      const id = newId();
      await db
        .insertInto("api_keys")
        .values({
          id,
          name: name.slice(0, 100),
          key_hash: sha256(key),
          created_at: clock.now(),
          last_used_at: null,
          revoked_at: null,
        })
        .execute();
      return { id, key };
    },

    async listApiKeys() {
      const rows = await db.selectFrom("api_keys").selectAll().orderBy("created_at").execute();
      return rows.map((r) => ({
        id: r.id,
        name: r.name,
        createdAt: iso(r.created_at),
        lastUsedAt: iso(r.last_used_at),
        revokedAt: iso(r.revoked_at),
      }));
    },

    async revokeApiKey(id: string): Promise<void> {
      const r = await db
        .updateTable("api_keys")
        .set({ revoked_at: clock.now() })
        .where("id", "=", id)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) throw AdminErrors.api_key_not_found();
      keyCache.clear();
    },

    /** Synchronous fast path: true when the key was verified within the last few seconds. */
    cachedApiKey(key: string | undefined): boolean {
      if (!key || key.length > 200) return false;
      const hit = keyCache.get(key);
      return hit !== undefined && hit.until > clock.now();
    },

    /** The store API key check on every request. */
    async verifyApiKey(key: string | undefined): Promise<string | null> {
      if (!key || key.length > 200) return null;
      const hash = sha256(key);
      const now = clock.now();
      const hit = keyCache.get(key);
      if (hit && hit.until > now) return hit.id;
      const row = await db
        .selectFrom("api_keys")
        .select(["id", "last_used_at"])
        .where("key_hash", "=", hash)
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      if (!row) return null;
      if (keyCache.size > 1000) keyCache.clear();
      keyCache.set(key, { id: row.id, until: now + KEY_CACHE_MS });
      if (row.last_used_at === null || row.last_used_at < now - 60_000) {
        await db.updateTable("api_keys").set({ last_used_at: now }).where("id", "=", row.id).execute();
      }
      return row.id;
    },

    async createAdminUser(
      username: string,
      password?: string,
      /** who created it, for the staff log: the CLI, or the first start */
      actor: "cli" | "system" = "cli",
      role: StaffRole = "agent",
    ): Promise<{ id: string; username: string; password: string; role: StaffRole }> {
      const name = username.trim();
      if (!/^[A-Za-z0-9._@-]{1,100}$/.test(name)) throw AdminErrors.admin_username_invalid();
      const pw = password ?? humanCode(20);
      const exists = await db.selectFrom("admin_users").select("id").where("username", "=", name).executeTakeFirst();
      if (exists) throw AdminErrors.admin_exists();
      const id = newId();
      const hash = await hasher.hash(pw);
      await db.transaction().execute(async (tx) => {
        await tx
          .insertInto("admin_users")
          .values({
            id,
            username: name,
            password_hash: hash,
            created_at: clock.now(),
            disabled_at: null,
            // Someone else chose (and saw) this password: the staff member sets their own before anything else.
            password_change_required: 1,
            password_changed_at: null,
            totp_secret_enc: null,
            totp_pending_secret_enc: null,
            totp_enrolled_at: null,
            totp_last_step: null,
            role,
          })
          .execute();
        await audit.append(tx, { type: "staff.created", staffId: id, username: name, data: { role }, actor });
      });
      return { id, username: name, password: pw, role };
    },

    /** An operator's reset: a new setup password, changed at the next sign-in; every session of the staff member ends. */
    async setAdminPassword(username: string, password?: string): Promise<string> {
      const pw = password ?? humanCode(20);
      const hash = await hasher.hash(pw);
      await db.transaction().execute(async (tx) => {
        const u = await tx.selectFrom("admin_users").select("id").where("username", "=", username).executeTakeFirst();
        if (!u) throw AdminErrors.admin_not_found();
        await tx
          .updateTable("admin_users")
          .set({ password_hash: hash, password_change_required: 1 })
          .where("id", "=", u.id)
          .execute();
        await endStaffSessions(tx, u.id, "password_reset");
        await audit.append(tx, { type: "staff.password.reset", staffId: u.id, username, actor: "cli" });
      });
      return pw;
    },

    /**
     * An operator (the CLI) or a lead (the console) disables or re-enables a staff login: a disabled one signs in
     * nowhere and its sessions end at once.
     */
    async setAdminDisabled(
      username: string,
      disabled: boolean,
      by: { actor: string; staffId?: string; ip?: string | null } = { actor: "cli" },
    ): Promise<void> {
      await db.transaction().execute(async (tx) => {
        const u = await tx.selectFrom("admin_users").select("id").where("username", "=", username).executeTakeFirst();
        if (!u) throw AdminErrors.admin_not_found();
        await tx
          .updateTable("admin_users")
          .set({ disabled_at: disabled ? clock.now() : null })
          .where("id", "=", u.id)
          .execute();
        if (disabled) await endStaffSessions(tx, u.id, "disabled");
        await audit.append(tx, {
          type: disabled ? "staff.disabled" : "staff.enabled",
          staffId: u.id,
          username,
          actor: by.actor,
          ip: by.ip ?? null,
        });
      });
    },

    /** An operator's reset of a lost authenticator: the staff member enrols again at the next sign-in. */
    async resetAdminTotp(username: string): Promise<void> {
      await db.transaction().execute(async (tx) => {
        const u = await tx.selectFrom("admin_users").select("id").where("username", "=", username).executeTakeFirst();
        if (!u) throw AdminErrors.admin_not_found();
        await tx
          .updateTable("admin_users")
          .set({ totp_secret_enc: null, totp_pending_secret_enc: null, totp_enrolled_at: null, totp_last_step: null })
          .where("id", "=", u.id)
          .execute();
        await endStaffSessions(tx, u.id, "totp_reset");
        await audit.append(tx, { type: "staff.totp.reset", staffId: u.id, username, actor: "cli" });
      });
    },

    /** An operator or a lead gives a staff login another role; it applies from the login's next request. */
    async setAdminRole(
      username: string,
      role: StaffRole,
      by: { actor: string; ip?: string | null } = { actor: "cli" },
    ): Promise<void> {
      if (!isStaffRole(role)) throw AdminErrors.staff_role_invalid();
      await db.transaction().execute(async (tx) => {
        const u = await tx
          .selectFrom("admin_users")
          .select(["id", "role"])
          .where("username", "=", username)
          .executeTakeFirst();
        if (!u) throw AdminErrors.admin_not_found();
        await tx.updateTable("admin_users").set({ role }).where("id", "=", u.id).execute();
        await audit.append(tx, {
          type: "staff.role.changed",
          staffId: u.id,
          username,
          data: { before: u.role, after: role },
          actor: by.actor,
          ip: by.ip ?? null,
        });
      });
    },

    async listAdminUsers() {
      const rows = await db
        .selectFrom("admin_users")
        .select(["id", "username", "created_at", "disabled_at", "password_change_required", "totp_enrolled_at", "role"])
        .orderBy("created_at")
        .execute();
      return rows.map((r) => ({
        id: r.id,
        username: r.username,
        createdAt: iso(r.created_at),
        disabledAt: iso(r.disabled_at),
        passwordChangeRequired: r.password_change_required === 1,
        totpEnrolled: r.totp_enrolled_at !== null,
        role: asRole(r.role),
      }));
    },

    /**
     * Step 1 of a staff sign-in. A wrong password and an unknown (or disabled) username answer the same 401
     * invalid_credentials after the same argon2 cost, and are counted against the username as typed. A right
     * password never gives a full session by itself: with TOTP enrolled the answer is a challenge for the code;
     * without, a setup session that can only change the password and enrol TOTP.
     */
    async adminSignIn(username: string, password: string, ip: string): Promise<SignInAnswer> {
      const refused = await throttle.before(username, ip);
      if (refused) {
        if (await throttle.logRefusal(username, ip)) {
          await audit.record({
            type: "staff.signin.throttled",
            username,
            data: { rule: refused.rule, retryAfterSeconds: refused.retryAfterSeconds },
            actor: "anonymous",
            ip,
          });
        }
        StaffThrottle.refuse(refused);
      }
      const u = await db.selectFrom("admin_users").selectAll().where("username", "=", username).executeTakeFirst();
      let ok = false;
      if (u && u.disabled_at === null) ok = await hasher.verify(u.password_hash, password);
      else await hasher.verify(await dummy, password); // same cost for unknown names
      if (!u || !ok) {
        await throttle.failed(username, ip);
        await audit.record({
          type: "staff.signin.failed",
          staffId: u?.id ?? null,
          username,
          data: { reason: !u ? "unknown_user" : u.disabled_at !== null ? "disabled" : "wrong_password" },
          actor: "anonymous",
          ip,
        });
        throw StaffSharedErrors.invalid_credentials();
      }
      const now = clock.now();
      if (u.totp_enrolled_at !== null) {
        const challengeId = newToken("msa");
        await db.transaction().execute(async (tx) => {
          await tx
            .insertInto("staff_challenges")
            .values({
              id: newId(),
              token_hash: sha256(challengeId),
              admin_id: u.id,
              ip,
              created_at: now,
              expires_at: now + CHALLENGE_MS,
              completed_at: null,
              attempts: 0,
            })
            .execute();
          await audit.append(tx, {
            type: "staff.signin.password_verified",
            staffId: u.id,
            username: u.username,
            data: { next: "totp" },
            actor: `staff:${u.id}`,
            ip,
          });
        });
        return { status: "totp_required", challengeId, expiresAt: iso(now + CHALLENGE_MS)! };
      }
      // Not enrolled yet: a session for the setup only (requireAdmin refuses it everywhere else).
      await throttle.succeeded(username, ip);
      const s = await db.transaction().execute(async (tx) => {
        const session = await createSession(tx, u.id, ip, null);
        await audit.append(tx, {
          type: "staff.signin.setup",
          staffId: u.id,
          username: u.username,
          data: { sessionId: session.id, required: required(u) },
          actor: `staff:${u.id}`,
          ip,
        });
        return session;
      });
      return { status: "setup_required", token: s.token, expiresAt: s.expiresAt, required: required(u) };
    },

    /** Step 2: the TOTP code for a challenge. At most five codes per challenge; failures count like passwords. */
    async adminSignInVerify(challengeId: string, code: string, ip: string): Promise<SignInAnswer> {
      const now = clock.now();
      const ch = await db
        .selectFrom("staff_challenges")
        .innerJoin("admin_users", "admin_users.id", "staff_challenges.admin_id")
        .select([
          "staff_challenges.id as challenge_id",
          "staff_challenges.expires_at",
          "staff_challenges.completed_at",
          "staff_challenges.attempts",
          "admin_users.id",
          "admin_users.username",
          "admin_users.disabled_at",
          "admin_users.totp_secret_enc",
          "admin_users.totp_last_step",
          "admin_users.password_change_required",
          "admin_users.totp_enrolled_at",
        ])
        .where("staff_challenges.token_hash", "=", sha256(challengeId))
        .executeTakeFirst();
      if (
        !ch ||
        ch.completed_at !== null ||
        ch.expires_at <= now ||
        ch.attempts >= CHALLENGE_ATTEMPTS ||
        ch.disabled_at !== null ||
        !ch.totp_secret_enc
      ) {
        throw AdminErrors.staff_challenge_invalid();
      }
      const refused = await throttle.before(ch.username, ip);
      if (refused) {
        if (await throttle.logRefusal(ch.username, ip)) {
          await audit.record({
            type: "staff.signin.throttled",
            staffId: ch.id,
            username: ch.username,
            data: { rule: refused.rule, retryAfterSeconds: refused.retryAfterSeconds, step: "totp" },
            actor: "anonymous",
            ip,
          });
        }
        StaffThrottle.refuse(refused);
      }
      // Counted before the comparison: parallel guesses cannot exceed the limit.
      const counted = await db
        .updateTable("staff_challenges")
        .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
        .where("id", "=", ch.challenge_id)
        .where("attempts", "<", CHALLENGE_ATTEMPTS)
        .where("completed_at", "is", null)
        .executeTakeFirst();
      if (Number(counted.numUpdatedRows) !== 1) throw AdminErrors.staff_challenge_invalid();
      const secret = open(deps.totpKey, ch.totp_secret_enc);
      const r = verifyTotp({ secret, code, now, lastStep: ch.totp_last_step });
      const fail = async (reason: string) => {
        await throttle.failed(ch.username, ip);
        await audit.record({
          type: "staff.signin.failed",
          staffId: ch.id,
          username: ch.username,
          data: { reason },
          actor: "anonymous",
          ip,
        });
        throw AdminErrors.invalid_code();
      };
      if (!r.ok) return fail(r.reason === "replayed" ? "totp_replayed" : "totp_invalid");
      const session = await db.transaction().execute(async (tx) => {
        if (!(await advanceTotpStep(tx, ch.id, r.step))) return null;
        const done = await tx
          .updateTable("staff_challenges")
          .set({ completed_at: now })
          .where("id", "=", ch.challenge_id)
          .where("completed_at", "is", null)
          .executeTakeFirst();
        if (Number(done.numUpdatedRows) !== 1) throw AdminErrors.staff_challenge_invalid();
        const s = await createSession(tx, ch.id, ip, now);
        await audit.append(tx, {
          type: "staff.signin.succeeded",
          staffId: ch.id,
          username: ch.username,
          data: { sessionId: s.id, factor: "totp" },
          actor: `staff:${ch.id}`,
          ip,
        });
        return s;
      });
      if (!session) return fail("totp_replayed");
      await throttle.succeeded(ch.username, ip);
      const req = required(ch);
      return req.length
        ? { status: "setup_required", token: session.token, expiresAt: session.expiresAt, required: req }
        : { status: "signed_in", token: session.token, expiresAt: session.expiresAt };
    },

    /**
     * Admin sessions are checked against the store on every request, like end-user sessions: revoked, disabled,
     * past their absolute end or idle too long is over. A session whose staff member still owes a password change or
     * a TOTP enrolment passes only where `setup` is allowed.
     */
    async requireAdmin(token: string | undefined, opts: { setup?: boolean } = {}): Promise<StaffIdentity> {
      if (!token || token.length > 200) throw AdminErrors.admin_unauthorized();
      const row = await db
        .selectFrom("admin_sessions")
        .innerJoin("admin_users", "admin_users.id", "admin_sessions.admin_id")
        .select([
          "admin_users.id",
          "admin_users.username",
          "admin_users.password_change_required",
          "admin_users.totp_enrolled_at",
          "admin_users.disabled_at",
          "admin_users.role",
          "admin_sessions.id as session_id",
          "admin_sessions.expires_at",
          "admin_sessions.revoked_at",
          "admin_sessions.last_seen_at",
        ])
        .where("admin_sessions.token_hash", "=", sha256(token))
        .executeTakeFirst();
      const now = clock.now();
      if (!row || row.revoked_at !== null || row.disabled_at !== null || row.expires_at <= now) {
        throw AdminErrors.admin_unauthorized();
      }
      if (row.last_seen_at + deps.config.staffSessionIdleMs <= now) {
        // Over for good: coming back within the absolute lifetime does not revive it.
        await db
          .updateTable("admin_sessions")
          .set({ revoked_at: now, revoked_reason: "idle" })
          .where("id", "=", row.session_id)
          .where("revoked_at", "is", null)
          .execute();
        throw AdminErrors.admin_unauthorized({ reason: "idle_timeout" });
      }
      if (row.last_seen_at < now - TOUCH_MS) {
        await db
          .updateTable("admin_sessions")
          .set({ last_seen_at: now })
          .where("id", "=", row.session_id)
          .where("last_seen_at", "<", now - TOUCH_MS)
          .execute();
      }
      if (!opts.setup) {
        if (row.password_change_required === 1) throw AdminErrors.staff_password_change_required();
        if (row.totp_enrolled_at === null) throw AdminErrors.staff_second_factor_required();
      }
      return { adminId: row.id, username: row.username, sessionId: row.session_id, role: asRole(row.role) };
    },

    /** What a staff member still owes before the admin routes open (setup sessions). */
    async staffStatus(adminId: string) {
      const u = await db.selectFrom("admin_users").selectAll().where("id", "=", adminId).executeTakeFirstOrThrow();
      return { username: u.username, required: required(u), totpEnrolled: u.totp_enrolled_at !== null };
    },

    /**
     * A staff member changes their own password: the current one, and the TOTP code once enrolled. The new one goes
     * through the users' password policy. Every other session of theirs ends.
     */
    async changeStaffPassword(
      staff: { adminId: string; sessionId: string },
      input: { currentPassword: string; newPassword: string; code?: string | undefined },
      ip: string,
    ): Promise<void> {
      const u = await db
        .selectFrom("admin_users")
        .selectAll()
        .where("id", "=", staff.adminId)
        .executeTakeFirstOrThrow();
      const refused = await throttle.before(u.username, ip);
      if (refused) StaffThrottle.refuse(refused);
      const fail = async (reason: string, err: Error) => {
        await throttle.failed(u.username, ip);
        await audit.record({
          type: "staff.password.change_failed",
          staffId: u.id,
          username: u.username,
          data: { reason },
          actor: `staff:${u.id}`,
          ip,
        });
        throw err;
      };
      if (!(await hasher.verify(u.password_hash, input.currentPassword))) {
        return fail("wrong_password", StaffSharedErrors.invalid_credentials());
      }
      let step: number | null = null;
      if (u.totp_enrolled_at !== null && u.totp_secret_enc) {
        if (!input.code) throw AdminErrors.staff_code_required();
        const r = verifyTotp({
          secret: open(deps.totpKey, u.totp_secret_enc),
          code: input.code,
          now: clock.now(),
          lastStep: u.totp_last_step,
        });
        if (!r.ok) return fail(r.reason === "replayed" ? "totp_replayed" : "totp_invalid", AdminErrors.invalid_code());
        step = r.step;
      }
      if (input.newPassword === input.currentPassword) throw AdminErrors.staff_password_unchanged();
      await deps.passwordPolicy.assertAcceptable(input.newPassword, { name: u.username });
      const hash = await hasher.hash(input.newPassword);
      const ok = await db.transaction().execute(async (tx) => {
        if (step !== null && !(await advanceTotpStep(tx, u.id, step))) return false;
        const now = clock.now();
        await tx
          .updateTable("admin_users")
          .set({ password_hash: hash, password_change_required: 0, password_changed_at: now })
          .where("id", "=", u.id)
          .execute();
        await endStaffSessions(tx, u.id, "password_changed", staff.sessionId);
        await audit.append(tx, {
          type: "staff.password.changed",
          staffId: u.id,
          username: u.username,
          data: { forced: u.password_change_required === 1 },
          actor: `staff:${u.id}`,
          ip,
        });
        return true;
      });
      if (!ok) return fail("totp_replayed", AdminErrors.invalid_code());
    },

    /** TOTP enrolment, step 1: a new secret (kept sealed until confirmed). Once enrolled, only an operator resets it. */
    async setupStaffTotp(staff: { adminId: string }): Promise<{ secret: string; uri: string }> {
      const u = await db
        .selectFrom("admin_users")
        .selectAll()
        .where("id", "=", staff.adminId)
        .executeTakeFirstOrThrow();
      if (u.totp_enrolled_at !== null) throw AdminErrors.staff_totp_enrolled();
      const secret = generateTotpSecret();
      await db
        .updateTable("admin_users")
        .set({ totp_pending_secret_enc: seal(deps.totpKey, secret) })
        .where("id", "=", u.id)
        .where("totp_enrolled_at", "is", null)
        .execute();
      return { secret, uri: totpUri({ secret, label: u.username, issuer: "Mamori staff" }) };
    },

    /** TOTP enrolment, step 2: a code from the new authenticator. The session becomes two-factor. */
    async confirmStaffTotp(staff: { adminId: string; sessionId: string }, code: string, ip: string): Promise<void> {
      const u = await db
        .selectFrom("admin_users")
        .selectAll()
        .where("id", "=", staff.adminId)
        .executeTakeFirstOrThrow();
      if (u.totp_enrolled_at !== null) throw AdminErrors.staff_totp_enrolled();
      if (!u.totp_pending_secret_enc) throw AdminErrors.staff_totp_not_started();
      const now = clock.now();
      const r = verifyTotp({ secret: open(deps.totpKey, u.totp_pending_secret_enc), code, now, lastStep: null });
      if (!r.ok) {
        await audit.record({
          type: "staff.totp.confirm_failed",
          staffId: u.id,
          username: u.username,
          actor: `staff:${u.id}`,
          ip,
        });
        throw AdminErrors.invalid_code();
      }
      await db.transaction().execute(async (tx) => {
        // Guarded on totp_enrolled_at is null: two confirmations cannot both enrol.
        const done = await tx
          .updateTable("admin_users")
          .set({
            totp_secret_enc: u.totp_pending_secret_enc,
            totp_pending_secret_enc: null,
            totp_enrolled_at: now,
            totp_last_step: r.step,
          })
          .where("id", "=", u.id)
          .where("totp_enrolled_at", "is", null)
          .executeTakeFirst();
        if (Number(done.numUpdatedRows) !== 1) throw AdminErrors.staff_totp_enrolled();
        await tx
          .updateTable("admin_sessions")
          .set({ second_factor_at: now })
          .where("id", "=", staff.sessionId)
          .execute();
        await audit.append(tx, {
          type: "staff.totp.enrolled",
          staffId: u.id,
          username: u.username,
          data: { sessionId: staff.sessionId },
          actor: `staff:${u.id}`,
          ip,
        });
      });
    },

    /** Options to add a passkey for the signed-in staff member; the sign-in must be under 10 minutes old. */
    async startStaffPasskeyRegistration(staff: Omit<StaffIdentity, "role">) {
      await freshSession(staff);
      return passkeys.registrationOptions({
        adminId: staff.adminId,
        sessionId: staff.sessionId,
        userName: staff.username,
      });
    },

    /** Whether the session may add a passkey now (the console page shows the button or says to sign in again). */
    async canAddStaffPasskey(staff: { sessionId: string }): Promise<boolean> {
      return freshSession(staff).then(
        () => true,
        () => false,
      );
    },

    /** Verifies the browser's answer and adds the passkey; the staff audit log records it. */
    async finishStaffPasskeyRegistration(
      staff: Omit<StaffIdentity, "role">,
      input: { response: RegistrationResponseJSON; name?: string | undefined },
      ip: string,
    ): Promise<StaffPasskeyView> {
      await freshSession(staff);
      // Verified (its challenge spent) before the transaction: a refusal or a roll-back leaves the challenge spent.
      const verified = await passkeys.verifyRegistration({
        adminId: staff.adminId,
        sessionId: staff.sessionId,
        response: input.response,
      });
      return db.transaction().execute(async (tx) => {
        const n = (await staffPasskeyStore.live(tx, staff.adminId)).length;
        const name = input.name?.trim().slice(0, 64) || `Passkey ${n + 1}`;
        const row = await passkeys.addRegistered(tx, { ...verified, name });
        await audit.append(tx, {
          type: "staff.passkey.added",
          staffId: staff.adminId,
          username: staff.username,
          data: { passkeyId: row.id, name, sessionId: staff.sessionId },
          actor: `staff:${staff.adminId}`,
          ip,
        });
        return staffPasskeyView(row);
      });
    },

    async listStaffPasskeys(staff: { adminId: string }): Promise<StaffPasskeyView[]> {
      return (await staffPasskeyStore.live(db, staff.adminId)).map(staffPasskeyView);
    },

    /** A staff member removes one of their own passkeys (another's id is not found). */
    async removeStaffPasskey(staff: Omit<StaffIdentity, "role">, id: string, ip: string): Promise<void> {
      await db.transaction().execute(async (tx) => {
        const row = await staffPasskeyStore.remove(tx, staff.adminId, id, `staff:${staff.adminId}`, clock.now());
        if (!row) throw PasskeyErrors.passkey_not_found();
        await audit.append(tx, {
          type: "staff.passkey.removed",
          staffId: staff.adminId,
          username: staff.username,
          data: { passkeyId: id, name: row.name },
          actor: `staff:${staff.adminId}`,
          ip,
        });
      });
    },

    /** Options for a usernameless staff sign-in with a passkey. */
    startStaffPasskeySignIn() {
      return passkeys.signInOptions();
    },

    /**
     * A staff sign-in with a passkey, no password: possession of the key and its user verification (PIN or
     * biometric) are both factors, so the session counts as two-factor, as after password + TOTP. A disabled staff
     * member is refused like a wrong password; a counter that went backwards is a clone warning in the audit log.
     */
    async staffPasskeySignIn(response: AuthenticationResponseJSON, ip: string): Promise<SignInAnswer> {
      let v: Awaited<ReturnType<typeof passkeys.verifySignIn>>;
      try {
        v = await passkeys.verifySignIn(response);
      } catch (e) {
        await audit.record({
          type: "staff.signin.failed",
          data: { reason: "passkey_invalid" },
          actor: "anonymous",
          ip,
        });
        throw e;
      }
      const u = await db.selectFrom("admin_users").selectAll().where("id", "=", v.adminId).executeTakeFirstOrThrow();
      if (v.clone) {
        await audit.record({
          type: "staff.passkey.clone_warning",
          staffId: u.id,
          username: u.username,
          data: { passkeyId: v.passkey.id, storedCount: v.passkey.sign_count, presentedCount: v.counter },
          actor: "anonymous",
          ip,
        });
        throw PasskeyErrors.passkey_clone_suspected();
      }
      if (u.disabled_at !== null) {
        await audit.record({
          type: "staff.signin.failed",
          staffId: u.id,
          username: u.username,
          data: { reason: "disabled", factor: "passkey" },
          actor: "anonymous",
          ip,
        });
        throw StaffSharedErrors.invalid_credentials();
      }
      const now = clock.now();
      const session = await db.transaction().execute(async (tx) => {
        const s = await createSession(tx, u.id, ip, now);
        await audit.append(tx, {
          type: "staff.signin.succeeded",
          staffId: u.id,
          username: u.username,
          data: { sessionId: s.id, factor: "passkey", passkeyId: v.passkey.id },
          actor: `staff:${u.id}`,
          ip,
        });
        return s;
      });
      await throttle.succeeded(u.username, ip);
      const req = required(u);
      return req.length
        ? { status: "setup_required", token: session.token, expiresAt: session.expiresAt, required: req }
        : { status: "signed_in", token: session.token, expiresAt: session.expiresAt };
    },

    /** Ends the caller's own session. */
    async adminSignOut(staff: { adminId: string; sessionId: string }, ip: string): Promise<void> {
      await db.transaction().execute(async (tx) => {
        await tx
          .updateTable("admin_sessions")
          .set({ revoked_at: clock.now(), revoked_reason: "signed_out" })
          .where("id", "=", staff.sessionId)
          .where("revoked_at", "is", null)
          .execute();
        await audit.append(tx, {
          type: "staff.signed_out",
          staffId: staff.adminId,
          data: { sessionId: staff.sessionId },
          actor: `staff:${staff.adminId}`,
          ip,
        });
      });
    },

    /**
     * Support operation: end every session (and app password) of a user without a lockdown — the account stays
     * active and nothing is rolled back. The reason is required; the user's chain and the staff log both record it,
     * and the user is told.
     */
    async endUserSessions(
      staff: { adminId: string; username: string },
      accountId: string,
      reason: string,
      ip: string,
    ): Promise<{ sessionsEnded: number; appPasswordsRevoked: number }> {
      const why = reason.trim();
      if (why.length < 3) throw AdminErrors.reason_required();
      return db.transaction().execute(async (tx) => {
        const exists = await tx.selectFrom("accounts").select("id").where("id", "=", accountId).executeTakeFirst();
        if (!exists) throw StaffSharedErrors.account_not_found();
        const r = await deps.endUserSessions(tx, {
          accountId,
          staffId: staff.adminId,
          staffName: staff.username,
          reason: why,
          ip,
        });
        await audit.append(tx, {
          type: "support.sessions_ended",
          staffId: staff.adminId,
          username: staff.username,
          data: { accountId, reason: why, ...r },
          actor: `staff:${staff.adminId}`,
          ip,
        });
        return r;
      });
    },

    audit,

    /** First start: one store key and one admin login, shown once. Nothing when either already exists. */
    async bootstrap(): Promise<{ apiKey: string; admin: { username: string; password: string } } | null> {
      const k = await db.selectFrom("api_keys").select("id").limit(1).executeTakeFirst();
      const a = await db.selectFrom("admin_users").select("id").limit(1).executeTakeFirst();
      if (k || a) return null;
      const { key } = await this.createApiKey("default");
      // The first login can do everything (it creates the others); later ones are agents unless said otherwise.
      const admin = await this.createAdminUser("admin", undefined, "system", "lead");
      return { apiKey: key, admin: { username: admin.username, password: admin.password } };
    },
  };
}

export type StaffRequirement = "password_change" | "totp_enrolment";

/** agent: view accounts, write notes, start lockdowns. lead: also risk policies, staff and store keys. */
export type StaffRole = "agent" | "lead";
export const isStaffRole = (v: unknown): v is StaffRole => v === "agent" || v === "lead";
/** A role read from the store; anything unknown is the lesser one. */
const asRole = (v: string): StaffRole => (v === "lead" ? "lead" : "agent");

/** The staff member behind a session, as every admin route and console page sees them. */
export interface StaffIdentity {
  adminId: string;
  username: string;
  sessionId: string;
  role: StaffRole;
}

export interface StaffPasskeyView {
  id: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
}

function staffPasskeyView(p: { id: string; name: string; created_at: number; last_used_at: number | null }) {
  return { id: p.id, name: p.name, createdAt: iso(p.created_at)!, lastUsedAt: iso(p.last_used_at) };
}

export type SignInAnswer =
  | { status: "signed_in"; token: string; expiresAt: string }
  | { status: "setup_required"; token: string; expiresAt: string; required: StaffRequirement[] }
  | { status: "totp_required"; challengeId: string; expiresAt: string };

function required(u: { password_change_required: number; totp_enrolled_at: number | null }): StaffRequirement[] {
  const r: StaffRequirement[] = [];
  if (u.password_change_required === 1) r.push("password_change");
  if (u.totp_enrolled_at === null) r.push("totp_enrolment");
  return r;
}

export type AdminService = ReturnType<typeof createAdminService>;
