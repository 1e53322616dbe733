import type { Executor } from "../db/database.ts";
import type { AccountsTable, AppPasswordsTable, ContactPointsTable, LoginAttemptsTable } from "../db/schema.ts";
import { newId } from "../shared/crypto.ts";

export type AccountRow = AccountsTable;
export type ContactRow = ContactPointsTable;

/** SQL for accounts and their credentials. Methods that close a race say which, and how, in one line. */
export const identityStore = {
  getAccount(ex: Executor, id: string): Promise<AccountRow | undefined> {
    return ex.selectFrom("accounts").selectAll().where("id", "=", id).executeTakeFirst();
  },

  /** The account that currently holds this address (live contact point; verified or not). */
  async liveOwner(ex: Executor, kind: "email" | "phone", value: string): Promise<string | undefined> {
    const r = await ex
      .selectFrom("contact_points")
      .select("account_id")
      .where("kind", "=", kind)
      .where("value", "=", value)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    return r?.account_id;
  },

  accountIdByEmail(ex: Executor, email: string): Promise<string | undefined> {
    return identityStore.liveOwner(ex, "email", email);
  },

  /**
   * The account an email address is held by: its live owner, or the account that removed it less than the recovery
   * period ago (an email change's old address stays reserved, so nobody can register it and block the revert).
   */
  async emailHolder(ex: Executor, email: string, now: number): Promise<string | undefined> {
    const r = await ex
      .selectFrom("contact_points")
      .select("account_id")
      .where("kind", "=", "email")
      .where("value", "=", email)
      .where((eb) => eb.or([eb("removed_at", "is", null), eb("recovery_until", ">", now)]))
      .orderBy("added_at", "desc")
      .executeTakeFirst();
    return r?.account_id;
  },

  /** Addresses a reset link may go to: live verified ones, and removed ones still inside their recovery period. */
  async recoveryContact(
    ex: Executor,
    email: string,
    now: number,
  ): Promise<{ account_id: string; value: string } | undefined> {
    return ex
      .selectFrom("contact_points")
      .select(["account_id", "value"])
      .where("kind", "=", "email")
      .where("value", "=", email)
      .where((eb) =>
        eb.or([
          eb.and([eb("removed_at", "is", null), eb("verified", "=", 1)]),
          eb.and([eb("removed_at", "is not", null), eb("recovery_until", ">", now)]),
        ]),
      )
      .orderBy("added_at", "desc")
      .executeTakeFirst();
  },

  liveContacts(ex: Executor, accountId: string): Promise<ContactRow[]> {
    return ex
      .selectFrom("contact_points")
      .selectAll()
      .where("account_id", "=", accountId)
      .where("removed_at", "is", null)
      .orderBy("added_at")
      .execute();
  },

  allContacts(ex: Executor, accountId: string): Promise<ContactRow[]> {
    return ex
      .selectFrom("contact_points")
      .selectAll()
      .where("account_id", "=", accountId)
      .orderBy("added_at")
      .execute();
  },

  async insertContact(
    ex: Executor,
    c: Omit<ContactRow, "id" | "removed_at" | "removed_by" | "recovery_until">,
  ): Promise<string> {
    const id = newId();
    await ex
      .insertInto("contact_points")
      .values({ ...c, id, removed_at: null, removed_by: null, recovery_until: null })
      .execute();
    return id;
  },

  /** Guarded on removed_at is null: a contact is removed once; history keeps the row. */
  async removeContact(
    ex: Executor,
    id: string,
    by: string,
    now: number,
    recoveryUntil: number | null,
  ): Promise<boolean> {
    const r = await ex
      .updateTable("contact_points")
      .set({ removed_at: now, removed_by: by, recovery_until: recoveryUntil, is_primary: 0 })
      .where("id", "=", id)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  async recentPasswordHashes(ex: Executor, accountId: string, n: number): Promise<string[]> {
    const rows = await ex
      .selectFrom("password_history")
      .select("hash")
      .where("account_id", "=", accountId)
      .orderBy("created_at", "desc")
      .orderBy("id")
      .limit(n)
      .execute();
    return rows.map((r) => r.hash);
  },

  async setPassword(ex: Executor, accountId: string, hash: string, now: number): Promise<void> {
    await ex
      .updateTable("accounts")
      .set({ password_hash: hash, password_changed_at: now, password_reset_required: 0, updated_at: now })
      .where("id", "=", accountId)
      .execute();
    await ex
      .insertInto("password_history")
      .values({ id: newId(), account_id: accountId, hash, created_at: now })
      .execute();
  },

  async issueCode(
    ex: Executor,
    c: {
      accountId: string;
      purpose: string;
      target: string | null;
      challengeId: string | null;
      hash: string;
      now: number;
      ttlMs: number;
    },
  ): Promise<void> {
    // A new code voids the previous one for the same purpose, so only the latest message works.
    await ex
      .updateTable("one_time_codes")
      .set({ used_at: c.now })
      .where("account_id", "=", c.accountId)
      .where("purpose", "=", c.purpose)
      .where("used_at", "is", null)
      .execute();
    await ex
      .insertInto("one_time_codes")
      .values({
        id: newId(),
        account_id: c.accountId,
        purpose: c.purpose,
        target: c.target,
        challenge_id: c.challengeId,
        code_hash: c.hash,
        attempts: 0,
        created_at: c.now,
        expires_at: c.now + c.ttlMs,
        used_at: null,
      })
      .execute();
  },

  latestCode(ex: Executor, accountId: string, purpose: string) {
    return ex
      .selectFrom("one_time_codes")
      .selectAll()
      .where("account_id", "=", accountId)
      .where("purpose", "=", purpose)
      .where("used_at", "is", null)
      .orderBy("created_at", "desc")
      .limit(1)
      .executeTakeFirst();
  },

  /** Counts a guess against the code before comparing, guarded on attempts < max: no more than max guesses. */
  async countCodeAttempt(ex: Executor, id: string, max: number): Promise<boolean> {
    const r = await ex
      .updateTable("one_time_codes")
      .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
      .where("id", "=", id)
      .where("attempts", "<", max)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /** Guarded on used_at is null: a code is consumed once. */
  async consumeCode(ex: Executor, id: string, now: number): Promise<boolean> {
    const r = await ex
      .updateTable("one_time_codes")
      .set({ used_at: now })
      .where("id", "=", id)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /**
   * Read-only: a reset token's state for the page behind the link. A token issued under an older credential epoch
   * (the password changed, or everyone was signed out, since) reads as used: it can never act again.
   */
  async peekResetToken(
    ex: Executor,
    tokenHash: string,
    now: number,
  ): Promise<{ state: "active" | "used" | "expired"; accountId: string; sentTo: string } | null> {
    const row = await ex
      .selectFrom("reset_tokens")
      .innerJoin("accounts", "accounts.id", "reset_tokens.account_id")
      .select([
        "reset_tokens.account_id",
        "reset_tokens.epoch",
        "reset_tokens.sent_to",
        "reset_tokens.used_at",
        "reset_tokens.expires_at",
        "accounts.credential_epoch",
      ])
      .where("reset_tokens.token_hash", "=", tokenHash)
      .executeTakeFirst();
    if (!row) return null;
    const state =
      row.used_at !== null || row.epoch !== row.credential_epoch
        ? "used"
        : row.expires_at <= now
          ? "expired"
          : "active";
    return { state, accountId: row.account_id, sentTo: row.sent_to };
  },

  /**
   * Guarded update: unused, unexpired, and issued under the account's current credential epoch, so a token sent
   * before a password change or sign-out-everywhere is dead, and two racing uses cannot both succeed.
   */
  async consumeResetToken(
    ex: Executor,
    tokenHash: string,
    now: number,
  ): Promise<{ accountId: string; sentTo: string } | null> {
    const row = await ex
      .selectFrom("reset_tokens")
      .innerJoin("accounts", "accounts.id", "reset_tokens.account_id")
      .select(["reset_tokens.account_id", "reset_tokens.epoch", "reset_tokens.sent_to", "accounts.credential_epoch"])
      .where("reset_tokens.token_hash", "=", tokenHash)
      .executeTakeFirst();
    if (!row || row.epoch !== row.credential_epoch) return null;
    const r = await ex
      .updateTable("reset_tokens")
      .set({ used_at: now })
      .where("token_hash", "=", tokenHash)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) return null;
    return { accountId: row.account_id, sentTo: row.sent_to };
  },

  listAppPasswords(ex: Executor, accountId: string): Promise<AppPasswordsTable[]> {
    return ex
      .selectFrom("app_passwords")
      .selectAll()
      .where("account_id", "=", accountId)
      .orderBy("created_at", "desc")
      .execute();
  },

  /** Guarded on revoked_at is null. */
  async revokeAppPassword(ex: Executor, accountId: string, id: string, reason: string, now: number): Promise<boolean> {
    const r = await ex
      .updateTable("app_passwords")
      .set({ revoked_at: now, revoked_reason: reason })
      .where("id", "=", id)
      .where("account_id", "=", accountId)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  async recordLoginAttempt(ex: Executor, a: Omit<LoginAttemptsTable, "id">): Promise<void> {
    await ex
      .insertInto("login_attempts")
      .values({ ...a, id: newId() })
      .execute();
  },

  listLoginAttempts(ex: Executor, accountId: string, limit: number) {
    return ex
      .selectFrom("login_attempts")
      .selectAll()
      .where("account_id", "=", accountId)
      .orderBy("at", "desc")
      .limit(limit)
      .execute();
  },

  /** Has this device (the store's device cookie) signed in to this account successfully before? */
  async deviceSignedIn(ex: Executor, accountId: string, deviceId: string): Promise<boolean> {
    const r = await ex
      .selectFrom("login_attempts")
      .select("id")
      .where("account_id", "=", accountId)
      .where("device_id", "=", deviceId)
      .where("outcome", "=", "succeeded")
      .limit(1)
      .executeTakeFirst();
    return r !== undefined;
  },

  /**
   * Has this account signed in successfully before from this device (cookie id, else browser+OS+type), country and
   * network (ASN)?
   */
  async familiarity(
    ex: Executor,
    accountId: string,
    d: {
      deviceId: string | null;
      browser: string | null;
      os: string | null;
      deviceType: string | null;
      country: string | null;
      asn?: number | null;
    },
  ): Promise<{ anyBefore: boolean; deviceSeen: boolean; countrySeen: boolean; asnSeen: boolean }> {
    const rows = await ex
      .selectFrom("login_attempts")
      .select(["device_id", "browser", "os", "device_type", "country", "asn"])
      .where("account_id", "=", accountId)
      .where("outcome", "=", "succeeded")
      .orderBy("at", "desc")
      .limit(500)
      .execute();
    const deviceSeen = rows.some((r) =>
      d.deviceId
        ? r.device_id === d.deviceId
        : r.browser === d.browser && r.os === d.os && r.device_type === d.deviceType,
    );
    const countrySeen = rows.some((r) => r.country === d.country);
    const asnSeen = rows.some((r) => r.asn === (d.asn ?? null));
    return { anyBefore: rows.length > 0, deviceSeen, countrySeen, asnSeen };
  },
};
