import { type Kysely, type Migration, sql } from "kysely";

const ts = "bigint" as const;

/**
 * 0014: staff accounts, stricter than users' — a forced password change, a TOTP second factor, idle-limited sessions,
 * two-step sign-in challenges and the hash-chained staff audit log. Logins that exist already must change nothing
 * at once, but they get no admin route until they enrol TOTP (their sessions end here: they were 12 h, password only).
 */
export const staffMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable("admin_users")
      .addColumn("password_change_required", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable("admin_users").addColumn("password_changed_at", ts).execute();
    await db.schema.alterTable("admin_users").addColumn("totp_secret_enc", "text").execute();
    await db.schema.alterTable("admin_users").addColumn("totp_pending_secret_enc", "text").execute();
    await db.schema.alterTable("admin_users").addColumn("totp_enrolled_at", ts).execute();
    await db.schema.alterTable("admin_users").addColumn("totp_last_step", ts).execute();

    await db.schema
      .alterTable("admin_sessions")
      .addColumn("last_seen_at", ts, (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable("admin_sessions").addColumn("revoked_reason", "text").execute();
    await db.schema.alterTable("admin_sessions").addColumn("second_factor_at", ts).execute();
    await db.schema.alterTable("admin_sessions").addColumn("ip", "text").execute();
    await sql`update admin_sessions set revoked_at = ${Date.now()}, revoked_reason = 'staff_upgrade' where revoked_at is null`.execute(
      db,
    );
    await db.schema.createIndex("admin_sessions_admin").on("admin_sessions").column("admin_id").execute();

    await db.schema
      .createTable("staff_challenges")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("token_hash", "text", (c) => c.notNull().unique())
      .addColumn("admin_id", "text", (c) => c.notNull().references("admin_users.id"))
      .addColumn("ip", "text")
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("completed_at", ts)
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .execute();

    await db.schema
      .createTable("staff_events")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("seq", "integer", (c) => c.notNull().unique())
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("staff_id", "text")
      .addColumn("username", "text")
      .addColumn("data", "text", (c) => c.notNull())
      .addColumn("actor", "text", (c) => c.notNull())
      .addColumn("ip", "text")
      .addColumn("at", ts, (c) => c.notNull())
      .addColumn("prev_hash", "text", (c) => c.notNull())
      .addColumn("hash", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("staff_events_staff").on("staff_events").columns(["staff_id", "seq"]).execute();
  },
};

/** 0032: staff passkeys for the console (admin/passkeys.ts) and their single-use challenges. */
export const staffPasskeyMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("staff_passkeys")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("admin_id", "text", (c) => c.notNull().references("admin_users.id"))
      .addColumn("credential_id", "text", (c) => c.notNull().unique())
      .addColumn("public_key", "text", (c) => c.notNull())
      .addColumn("sign_count", ts, (c) => c.notNull())
      .addColumn("transports", "text", (c) => c.notNull())
      .addColumn("user_handle", "text", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .addColumn("last_used_at", ts)
      .addColumn("removed_at", ts)
      .addColumn("removed_by", "text")
      .execute();
    await db.schema.createIndex("staff_passkeys_admin").on("staff_passkeys").column("admin_id").execute();
    await db.schema
      .createTable("staff_passkey_challenges")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("challenge", "text", (c) => c.notNull().unique())
      .addColumn("purpose", "text", (c) => c.notNull())
      .addColumn("admin_id", "text")
      .addColumn("bound_to", "text")
      .addColumn("user_handle", "text")
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("used_at", ts)
      .execute();
    await db.schema
      .createIndex("staff_passkey_challenges_expires")
      .on("staff_passkey_challenges")
      .column("expires_at")
      .execute();
  },
};
