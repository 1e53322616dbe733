import type { Kysely, Migration } from "kysely";

const ts = "bigint" as const;

/** 0017: the security center's one-time links and its browser sessions. */
export const portalMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("portal_links")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("token_hash", "text", (c) => c.notNull().unique())
      .addColumn("session_id", "text", (c) => c.notNull())
      .addColumn("account_id", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("used_at", ts)
      .execute();
    await db.schema
      .createTable("portal_sessions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("token_hash", "text", (c) => c.notNull().unique())
      .addColumn("session_id", "text", (c) => c.notNull())
      .addColumn("account_id", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("ended_at", ts)
      .execute();
    await db.schema.createIndex("portal_sessions_session").on("portal_sessions").column("session_id").execute();
  },
};
