import type { Kysely, Migration } from "kysely";
import { sql } from "kysely";

// Migrations are code, portable across SQLite and PostgreSQL: integer-ms timestamps, 0/1 booleans, JSON as text.
// Never edit a released migration; add a new one.
const ts = "bigint" as const;

const m0001: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("instance")
      .addColumn("key", "text", (c) => c.primaryKey())
      .addColumn("value", "text", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("accounts")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("language", "text", (c) => c.notNull())
      .addColumn("credential_epoch", "integer", (c) => c.notNull())
      .addColumn("password_hash", "text")
      .addColumn("password_changed_at", ts)
      .addColumn("password_reset_required", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("totp_secret_enc", "text")
      .addColumn("totp_pending_secret_enc", "text")
      .addColumn("totp_enrolled_at", ts)
      .addColumn("totp_last_step", ts)
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("updated_at", ts, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("contact_points")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("value", "text", (c) => c.notNull())
      .addColumn("verified", "integer", (c) => c.notNull())
      .addColumn("verified_at", ts)
      .addColumn("is_primary", "integer", (c) => c.notNull())
      .addColumn("added_at", ts, (c) => c.notNull())
      .addColumn("added_by", "text")
      .addColumn("removed_at", ts)
      .addColumn("removed_by", "text")
      .addColumn("recovery_until", ts)
      .execute();
    await db.schema.createIndex("contact_points_account").on("contact_points").column("account_id").execute();
    await db.schema.createIndex("contact_points_value").on("contact_points").columns(["kind", "value"]).execute();
    // One live owner per address; history rows (removed_at set) may repeat it.
    await db.schema
      .createIndex("contact_points_live_unique")
      .on("contact_points")
      .columns(["kind", "value"])
      .unique()
      .where(sql.ref("removed_at"), "is", null)
      .execute();

    await db.schema
      .createTable("password_history")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("hash", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .execute();
    await db.schema.createIndex("password_history_account").on("password_history").column("account_id").execute();

    await db.schema
      .createTable("recovery_codes")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("code_hash", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("used_at", ts)
      .execute();
    await db.schema
      .createIndex("recovery_codes_lookup")
      .on("recovery_codes")
      .columns(["account_id", "code_hash"])
      .execute();

    await db.schema
      .createTable("one_time_codes")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("purpose", "text", (c) => c.notNull())
      .addColumn("target", "text")
      .addColumn("challenge_id", "text")
      .addColumn("code_hash", "text", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("used_at", ts)
      .execute();
    await db.schema
      .createIndex("one_time_codes_account")
      .on("one_time_codes")
      .columns(["account_id", "purpose"])
      .execute();

    await db.schema
      .createTable("reset_tokens")
      .addColumn("token_hash", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("epoch", "integer", (c) => c.notNull())
      .addColumn("sent_to", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("used_at", ts)
      .execute();

    await db.schema
      .createTable("app_passwords")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("secret_hash", "text", (c) => c.notNull())
      .addColumn("epoch", "integer", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("created_by_session", "text")
      .addColumn("last_used_at", ts)
      .addColumn("last_used_ip", "text")
      .addColumn("last_used_country", "text")
      .addColumn("revoked_at", ts)
      .addColumn("revoked_reason", "text")
      .execute();
    await db.schema.createIndex("app_passwords_account").on("app_passwords").column("account_id").execute();

    await db.schema
      .createTable("sessions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("token_hash", "text", (c) => c.notNull().unique())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("channel", "text", (c) => c.notNull())
      .addColumn("app_password_id", "text")
      .addColumn("epoch", "integer", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("auth_time", ts, (c) => c.notNull())
      .addColumn("second_factor_at", ts)
      .addColumn("factor", "text", (c) => c.notNull())
      .addColumn("last_seen_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("revoked_at", ts)
      .addColumn("revoked_reason", "text")
      .addColumn("ip", "text", (c) => c.notNull())
      .addColumn("country", "text")
      .addColumn("asn", "integer")
      .addColumn("as_org", "text")
      .addColumn("user_agent", "text", (c) => c.notNull())
      .addColumn("browser", "text")
      .addColumn("os", "text")
      .addColumn("device_type", "text")
      .addColumn("device_id", "text")
      .execute();
    await db.schema.createIndex("sessions_account").on("sessions").column("account_id").execute();

    await db.schema
      .createTable("signin_challenges")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("token_hash", "text", (c) => c.notNull().unique())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("context", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("completed_at", ts)
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .execute();

    await db.schema
      .createTable("login_attempts")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text")
      .addColumn("identifier", "text", (c) => c.notNull())
      .addColumn("outcome", "text", (c) => c.notNull())
      .addColumn("reason", "text")
      .addColumn("channel", "text", (c) => c.notNull())
      .addColumn("ip", "text", (c) => c.notNull())
      .addColumn("country", "text")
      .addColumn("asn", "integer")
      .addColumn("user_agent", "text", (c) => c.notNull())
      .addColumn("browser", "text")
      .addColumn("os", "text")
      .addColumn("device_type", "text")
      .addColumn("device_id", "text")
      .addColumn("session_id", "text")
      .addColumn("at", ts, (c) => c.notNull())
      .execute();
    await db.schema.createIndex("login_attempts_account").on("login_attempts").columns(["account_id", "at"]).execute();

    await db.schema
      .createTable("events")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull())
      .addColumn("seq", "integer", (c) => c.notNull())
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("data", "text", (c) => c.notNull())
      .addColumn("actor", "text", (c) => c.notNull())
      .addColumn("ip", "text")
      .addColumn("at", ts, (c) => c.notNull())
      .addColumn("prev_hash", "text", (c) => c.notNull())
      .addColumn("hash", "text", (c) => c.notNull())
      .addUniqueConstraint("events_account_seq", ["account_id", "seq"])
      .execute();

    await db.schema
      .createTable("notifications")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text")
      .addColumn("event_id", "text")
      .addColumn("channel", "text", (c) => c.notNull())
      .addColumn("recipient", "text", (c) => c.notNull())
      .addColumn("template", "text", (c) => c.notNull())
      .addColumn("language", "text", (c) => c.notNull())
      .addColumn("subject", "text", (c) => c.notNull())
      .addColumn("body", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("next_attempt_at", ts, (c) => c.notNull())
      .addColumn("locked_until", ts)
      .addColumn("last_error", "text")
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("sent_at", ts)
      .execute();
    await db.schema
      .createIndex("notifications_due")
      .on("notifications")
      .columns(["status", "next_attempt_at"])
      .execute();
    await db.schema.createIndex("notifications_account").on("notifications").column("account_id").execute();

    await db.schema
      .createTable("action_tokens")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("token_hash", "text", (c) => c.notNull().unique())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("purpose", "text", (c) => c.notNull())
      .addColumn("data", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("used_at", ts)
      .execute();

    await db.schema
      .createTable("api_keys")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("key_hash", "text", (c) => c.notNull().unique())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("last_used_at", ts)
      .addColumn("revoked_at", ts)
      .execute();

    await db.schema
      .createTable("admin_users")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("username", "text", (c) => c.notNull().unique())
      .addColumn("password_hash", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("disabled_at", ts)
      .execute();

    await db.schema
      .createTable("admin_sessions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("token_hash", "text", (c) => c.notNull().unique())
      .addColumn("admin_id", "text", (c) => c.notNull().references("admin_users.id"))
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("revoked_at", ts)
      .execute();
  },
};

/**
 * db/'s own migration: the first tables, from before modules kept their own. Every later one lives in its module
 * (identity/migration.ts, …) and the composition root lists them (src/store.ts).
 */
export const coreMigrations: Record<string, Migration> = { "0001_core": m0001 };
