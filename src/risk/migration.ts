import { type Kysely, type Migration, SqliteAdapter, sql } from "kysely";
import type { Db, SideFile } from "../db/database.ts";
import { COLUMNS } from "./decision-log.ts";

const ts = "bigint" as const;

/** The risk module's tables (portable: see db/migrations.ts). */
export const riskMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("risk_policy_sets")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("version", "integer", (c) => c.notNull().unique())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("source", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("created_by", "text")
      .addColumn("activated_at", ts)
      .addColumn("retired_at", ts)
      .execute();
    // Exactly one active set and at most one shadow set, whatever two nodes do at once.
    await db.schema
      .createIndex("risk_policy_sets_one_live")
      .on("risk_policy_sets")
      .column("status")
      .unique()
      .where(sql.ref("status"), "in", sql`('active', 'shadow')`)
      .execute();

    await db.schema
      .createTable("risk_decisions")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text")
      .addColumn("event_type", "text", (c) => c.notNull())
      .addColumn("event", "text", (c) => c.notNull())
      .addColumn("decision", "text", (c) => c.notNull())
      .addColumn("factor", "text")
      .addColumn("hold", "integer", (c) => c.notNull())
      .addColumn("reasons", "text", (c) => c.notNull())
      .addColumn("policy_version", "integer", (c) => c.notNull())
      .addColumn("shadow", "text")
      .addColumn("scores", "text", (c) => c.notNull())
      .addColumn("at", ts, (c) => c.notNull())
      .addColumn("latency_us", "integer", (c) => c.notNull())
      .execute();
    await db.schema.createIndex("risk_decisions_account").on("risk_decisions").columns(["account_id", "at"]).execute();
    await db.schema.createIndex("risk_decisions_at").on("risk_decisions").column("at").execute();

    await db.schema
      .createTable("risk_account_settings")
      .addColumn("account_id", "text", (c) => c.primaryKey().references("accounts.id"))
      .addColumn("allowed_countries", "text", (c) => c.notNull())
      .addColumn("updated_at", ts, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("risk_alerts")
      .addColumn("subject", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("sent_at", ts, (c) => c.notNull())
      .execute();

    // Signals read the identity tables by IP (attack IPs) and by account and outcome.
    await db.schema.createIndex("login_attempts_ip").on("login_attempts").columns(["ip", "at"]).execute();
    await db.schema
      .createIndex("signin_challenges_account")
      .on("signin_challenges")
      .columns(["account_id", "created_at"])
      .execute();
    await db.schema.createIndex("login_attempts_at").on("login_attempts").column("at").execute();
  },
};

/**
 * Covering indexes for the reads of every decision (features.ts `snapshot`): the account's sign-ins are walked by time
 * with their outcome, country and device in the index, and an IP's attempts with their outcome and identifier, so no
 * table row is fetched. Measured on the benchmark's 1M-login store (bench/risk-profile.ts data): the snapshot of a
 * sign-in from an unseen device went from 367 µs to 70 µs. They replace the two-column indexes they extend.
 */
export const riskCoveringMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createIndex("login_attempts_account_cover")
      .on("login_attempts")
      .columns(["account_id", "at", "outcome", "country", "device_id"])
      .execute();
    await db.schema.dropIndex("login_attempts_account").execute();
    await db.schema
      .createIndex("login_attempts_ip_cover")
      .on("login_attempts")
      .columns(["ip", "at", "outcome", "identifier"])
      .execute();
    await db.schema.dropIndex("login_attempts_ip").execute();
    // "Time since the last credential change": the newest event of a few types, by seeks instead of the account's log.
    await db.schema.createIndex("events_account_type_at").on("events").columns(["account_id", "type", "at"]).execute();
  },
};

/**
 * The decision log's table in its own file (the store runs this on that file when it opens, see decisionLogSideFile).
 * Columns as migration 0005 creates risk_decisions.
 */
export const DECISION_LOG_SCHEMA = `create table if not exists risk_decisions (
      id text primary key, account_id text, event_type text not null, event text not null,
      decision text not null, factor text, hold integer not null, reasons text not null,
      policy_version integer not null, shadow text, scores text not null, at bigint not null,
      latency_us integer not null
    );
    create index if not exists risk_decisions_account on risk_decisions (account_id, at);
    create index if not exists risk_decisions_at on risk_decisions (at);`;

const DECISION_COLUMNS = COLUMNS.join(", ");

/**
 * The embedded store's decision log moves to its own file (created when the store is opened): the rows so far are
 * copied there and the main file's table is dropped; decisions are then read through `DatabaseHandle.attachedDb`.
 * Copying is idempotent (ids are unique), so a crash between the copy and the drop is resumed by running it again.
 * No change on PostgreSQL or an in-memory store (no file).
 */
export const decisionLogFileMigration: Migration = {
  async up(db: Kysely<unknown>) {
    if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return;
    const main = await sql<{ file: string }>`select file from pragma_database_list where name = 'main'`.execute(db);
    const file = main.rows[0]?.file ?? "";
    if (file === "") return;
    // Attached only for the move (SQLite migrations run outside a transaction, where ATTACH is allowed); the file and
    // its table were created when the store was opened (decisionLogSideFile).
    await sql`attach database ${decisionLogPath(file)} as decision_log`.execute(db);
    try {
      await sql
        .raw(
          `insert or ignore into decision_log.risk_decisions (${DECISION_COLUMNS}) select ${DECISION_COLUMNS} from main.risk_decisions`,
        )
        .execute(db);
    } finally {
      await sql`detach database decision_log`.execute(db);
    }
    await sql`drop table main.risk_decisions`.execute(db);
  },
};

/**
 * The decision log's file, which the embedded store opens beside its own through this hook (db/ names no module):
 * created with DECISION_LOG_SCHEMA and read through `DatabaseHandle.attachedDb`; its path is
 * `DatabaseHandle.sideFiles.decision_log`.
 */
export const decisionLogSideFile: SideFile = {
  alias: "decision_log",
  path: (storeFile) => decisionLogPath(storeFile),
  schema: DECISION_LOG_SCHEMA,
};

/**
 * Adds the change feed's triggers (as the migration below) to tables outside FACT_TABLES that the snapshot now reads:
 * the registered factors' (Factor.enrolledSql's `tables`, from app.ts), so an enrolment reaches the in-memory facts.
 * Nothing on PostgreSQL or a store without the feed; a trigger already there is kept.
 */
export async function feedFactTables(db: Db, tables: readonly { table: string; account: string }[]): Promise<void> {
  if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return;
  const feed = await sql<{
    n: number;
  }>`select count(*) as n from sqlite_master where type = 'table' and name = 'risk_changes'`.execute(db);
  if (Number(feed.rows[0]?.n ?? 0) === 0) return;
  const known = new Set(FACT_TABLES.map((t) => t.table));
  for (const t of tables) {
    if (known.has(t.table)) continue;
    // Names are code (a factor's declaration), not input: checked before they are written into the statement.
    if (!/^[a-z_][a-z0-9_]*$/.test(t.table) || !/^[a-z_][a-z0-9_]*$/.test(t.account)) {
      throw new Error(`not a table or column name: ${t.table}.${t.account}`);
    }
    known.add(t.table);
    await createFeedTriggers(db, t, "if not exists ");
  }
}

async function createFeedTriggers(
  db: Kysely<unknown> | Db,
  t: { table: string; account: string; ip?: string },
  ifNot = "",
) {
  const row = (r: "old" | "new") => `(${r}.${t.account}, ${t.ip ? t.ip.replaceAll("{r}", r) : "null"})`;
  const body = {
    insert: `values ${row("new")}`,
    update: `values ${row("old")}, ${row("new")}`,
    delete: `values ${row("old")}`,
  };
  for (const [op, values] of Object.entries(body)) {
    await sql
      .raw(
        `create trigger ${ifNot}risk_changes_${t.table}_${op} after ${op} on ${t.table} begin insert into risk_changes (account_id, ip) ${values}; end`,
      )
      .execute(db);
  }
}

/** The decision log's file beside the store's: `mamori.sqlite` → `mamori.decisions.sqlite`. */
export function decisionLogPath(storeFile: string): string {
  return storeFile.replace(/(\.sqlite)?$/, ".decisions.sqlite");
}

/** The tables a risk snapshot reads, with the column naming the account each row belongs to (fact-index.ts). */
const FACT_TABLES: readonly { table: string; account: string; ip?: string }[] = [
  // The IP only for failed and denied attempts: those are all an IP's facts count.
  {
    table: "login_attempts",
    account: "account_id",
    ip: "case when {r}.outcome in ('failed', 'denied') then {r}.ip end",
  },
  { table: "accounts", account: "id" },
  { table: "contact_points", account: "account_id" },
  { table: "risk_account_settings", account: "account_id" },
  { table: "events", account: "account_id" },
  { table: "signin_challenges", account: "account_id" },
];

/**
 * SQLite on a file: a change feed for the in-memory risk facts (risk/fact-index.ts). Triggers add one row per changed
 * row of the tables a snapshot reads, naming its account (and, for sign-in attempts, its IP), in the writing
 * transaction: whoever writes — this process, the CLI, another server on the file — the feed holds it once committed,
 * and a process reading the feed forgets exactly what changed. PostgreSQL (several nodes) keeps reading the tables.
 */
export const riskChangeFeedMigration: Migration = {
  async up(db: Kysely<unknown>) {
    if (!(db.getExecutor().adapter instanceof SqliteAdapter)) return;
    const main = await sql<{ file: string }>`select file from pragma_database_list where name = 'main'`.execute(db);
    if ((main.rows[0]?.file ?? "") === "") return;
    await sql`create table risk_changes (seq integer primary key autoincrement, account_id text, ip text)`.execute(db);
    for (const t of FACT_TABLES) await createFeedTriggers(db, t);
  },
};
