import type { Kysely, Migration } from "kysely";

const ts = "bigint" as const;

/**
 * 0009: decoy challenges (no oracle), two-step sign-up, delayed factor reset, the kind of a session's second factor,
 * and a version on recovery-code and app-password hashes (1: SHA-256; 2: HMAC keyed by the instance secret over it).
 */
export const identitySigninMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("signin_decoys")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("token_hash", "text", (c) => c.notNull().unique())
      .addColumn("account_id", "text")
      .addColumn("identifier", "text", (c) => c.notNull())
      .addColumn("reason", "text", (c) => c.notNull())
      .addColumn("factors", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("completed_at", ts)
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.createIndex("signin_decoys_expires").on("signin_decoys").column("expires_at").execute();

    await db.schema
      .createTable("pending_signups")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("email", "text", (c) => c.notNull())
      .addColumn("password_hash", "text", (c) => c.notNull())
      .addColumn("language", "text", (c) => c.notNull())
      .addColumn("code_hash", "text", (c) => c.notNull())
      .addColumn("taken", "integer", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("completed_at", ts)
      .addColumn("account_id", "text")
      .execute();
    await db.schema.createIndex("pending_signups_email").on("pending_signups").column("email").execute();

    await db.schema
      .createTable("factor_resets")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("factor", "text", (c) => c.notNull())
      .addColumn("requested_at", ts, (c) => c.notNull())
      .addColumn("due_at", ts, (c) => c.notNull())
      .addColumn("cancelled_at", ts)
      .addColumn("cancelled_by", "text")
      .addColumn("completed_at", ts)
      .addColumn("context", "text", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("factor_resets_account").on("factor_resets").column("account_id").execute();

    // "Has this device signed in to this account?" is asked before every password hash.
    await db.schema
      .createIndex("login_attempts_account_device")
      .on("login_attempts")
      .columns(["account_id", "device_id", "outcome"])
      .execute();

    await db.schema.alterTable("sessions").addColumn("second_factor_kind", "text").execute();
    await db.schema
      .alterTable("recovery_codes")
      .addColumn("hash_version", "integer", (c) => c.notNull().defaultTo(1))
      .execute();
    await db.schema
      .alterTable("app_passwords")
      .addColumn("hash_version", "integer", (c) => c.notNull().defaultTo(1))
      .execute();
  },
};

/** 0021: bulk import's map from the store's external ids to accounts (one row per imported account). */
export const identityImportMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("account_imports")
      .addColumn("external_id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull())
      .addColumn("imported_at", ts, (c) => c.notNull())
      .execute();
  },
};
