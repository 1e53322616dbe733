import type { Kysely, Migration } from "kysely";

const ts = "bigint" as const;

/** The webhooks module's tables (portable: see db/migrations.ts). */
export const webhooksMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("webhook_endpoints")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("url", "text", (c) => c.notNull())
      .addColumn("secret_enc", "text", (c) => c.notNull())
      .addColumn("description", "text")
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("disabled_at", ts)
      .execute();

    await db.schema
      .createTable("webhook_messages")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("type", "text", (c) => c.notNull())
      .addColumn("object_type", "text", (c) => c.notNull())
      .addColumn("object_id", "text", (c) => c.notNull())
      .addColumn("account_id", "text")
      .addColumn("case_id", "text")
      .addColumn("payload", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("confirmed_at", ts)
      .addColumn("confirmed_note", "text")
      .execute();
    // the verification report and support look messages up by the object they are about, and by case
    await db.schema
      .createIndex("webhook_messages_object")
      .on("webhook_messages")
      .columns(["object_type", "object_id"])
      .execute();
    await db.schema.createIndex("webhook_messages_case").on("webhook_messages").column("case_id").execute();
    await db.schema.createIndex("webhook_messages_created").on("webhook_messages").column("created_at").execute();

    await db.schema
      .createTable("webhook_deliveries")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("message_id", "text", (c) => c.notNull().references("webhook_messages.id"))
      .addColumn("endpoint_id", "text", (c) => c.notNull().references("webhook_endpoints.id"))
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull().defaultTo(0))
      .addColumn("next_attempt_at", ts, (c) => c.notNull())
      .addColumn("locked_until", ts)
      .addColumn("last_status", "integer")
      .addColumn("last_error", "text")
      .addColumn("delivered_at", ts)
      .execute();
    await db.schema
      .createIndex("webhook_deliveries_due")
      .on("webhook_deliveries")
      .columns(["status", "next_attempt_at"])
      .execute();
    await db.schema.createIndex("webhook_deliveries_message").on("webhook_deliveries").column("message_id").execute();
    await db.schema
      .createIndex("webhook_deliveries_endpoint")
      .on("webhook_deliveries")
      .columns(["endpoint_id", "status"])
      .execute();
  },
};
