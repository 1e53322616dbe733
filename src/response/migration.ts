import type { Kysely, Migration } from "kysely";

const ts = "bigint" as const;

/**
 * 0031: a lease on a running lockdown, so that another node finishes a case whose runner died (issue 18), not only
 * that node at its next start.
 */
export const caseLeaseMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable("cases").addColumn("runner", "text").execute();
    await db.schema.alterTable("cases").addColumn("runner_until", ts).execute();
  },
};

/** The response module's tables (portable: see db/migrations.ts). */
export const responseMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("cases")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("reason", "text", (c) => c.notNull())
      .addColumn("opened_by", "text", (c) => c.notNull())
      .addColumn("since", ts)
      .addColumn("since_source", "text")
      .addColumn("window_basis", "text")
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("updated_at", ts, (c) => c.notNull())
      .addColumn("locked_down_at", ts)
      .addColumn("recovered_at", ts)
      .execute();
    await db.schema.createIndex("cases_account").on("cases").column("account_id").execute();
    await db.schema.createIndex("cases_status").on("cases").column("status").execute();

    await db.schema
      .createTable("case_steps")
      .addColumn("case_id", "text", (c) => c.notNull().references("cases.id"))
      .addColumn("step", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull())
      .addColumn("started_at", ts)
      .addColumn("done_at", ts)
      .addColumn("result", "text")
      .addPrimaryKeyConstraint("case_steps_pk", ["case_id", "step"])
      .execute();

    await db.schema
      .createTable("case_actions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("case_id", "text", (c) => c.notNull().references("cases.id"))
      .addColumn("step", "text", (c) => c.notNull())
      .addColumn("object_type", "text", (c) => c.notNull())
      .addColumn("object_id", "text", (c) => c.notNull())
      .addColumn("action", "text", (c) => c.notNull())
      .addColumn("before", "text")
      .addColumn("after", "text")
      .addColumn("webhook_id", "text")
      .addColumn("note", "text")
      .addColumn("at", ts, (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("case_actions_once")
      .on("case_actions")
      .columns(["case_id", "object_type", "object_id", "action"])
      .unique()
      .execute();

    await db.schema
      .createTable("case_sessions")
      .addColumn("case_id", "text", (c) => c.notNull().references("cases.id"))
      .addColumn("session_id", "text", (c) => c.notNull())
      .addColumn("role", "text", (c) => c.notNull())
      .addColumn("at", ts, (c) => c.notNull())
      .addPrimaryKeyConstraint("case_sessions_pk", ["case_id", "session_id"])
      .execute();

    await db.schema
      .createTable("case_notes")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("case_id", "text", (c) => c.notNull().references("cases.id"))
      .addColumn("author", "text", (c) => c.notNull())
      .addColumn("body", "text", (c) => c.notNull())
      .addColumn("at", ts, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("recoveries")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("case_id", "text", (c) => c.notNull().references("cases.id"))
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("contact_kind", "text", (c) => c.notNull())
      .addColumn("contact_value", "text", (c) => c.notNull())
      .addColumn("code_hash", "text", (c) => c.notNull())
      .addColumn("attempts", "integer", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("expires_at", ts, (c) => c.notNull())
      .addColumn("verified_at", ts)
      .addColumn("token_hash", "text", (c) => c.unique())
      .addColumn("password_set_at", ts)
      .addColumn("devices_reviewed_at", ts)
      .addColumn("completed_at", ts)
      .execute();
    await db.schema.createIndex("recoveries_account").on("recoveries").column("account_id").execute();

    await db.schema
      .createTable("totp_history")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("secret_enc", "text")
      .addColumn("enrolled_at", ts)
      .addColumn("replaced_at", ts, (c) => c.notNull())
      .addColumn("replaced_by", "text", (c) => c.notNull())
      .execute();
    await db.schema
      .createIndex("totp_history_account")
      .on("totp_history")
      .columns(["account_id", "replaced_at"])
      .execute();
  },
};
