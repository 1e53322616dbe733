import type { Kysely, Migration } from "kysely";

const ts = "bigint" as const;

/** 0030: passkeys (WebAuthn credentials) and their single-use challenges. */
export const passkeyMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("passkeys")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("credential_id", "text", (c) => c.notNull().unique())
      .addColumn("public_key", "text", (c) => c.notNull())
      .addColumn("sign_count", ts, (c) => c.notNull())
      .addColumn("transports", "text", (c) => c.notNull())
      .addColumn("user_handle", "text", (c) => c.notNull())
      .addColumn("aaguid", "text", (c) => c.notNull())
      .addColumn("device_type", "text", (c) => c.notNull())
      .addColumn("backed_up", "integer", (c) => c.notNull())
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("created_by", "text", (c) => c.notNull())
      .addColumn("last_used_at", ts)
      .addColumn("removed_at", ts)
      .addColumn("removed_by", "text")
      .execute();
    await db.schema.createIndex("passkeys_account").on("passkeys").column("account_id").execute();

    await db.schema
      .createTable("passkey_challenges")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("challenge", "text", (c) => c.notNull().unique())
      .addColumn("purpose", "text", (c) => c.notNull())
      .addColumn("account_id", "text")
      .addColumn("bound_to", "text")
      .addColumn("user_handle", "text")
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("used_at", ts)
      .execute();
    await db.schema.createIndex("passkey_challenges_expires").on("passkey_challenges").column("expires_at").execute();
  },
};
