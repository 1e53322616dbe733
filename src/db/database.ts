import fs from "node:fs";
import path from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, Migrator, PostgresDialect, SqliteDialect, type Transaction } from "kysely";
import pg from "pg";
import { migrationProvider } from "./migrations.ts";
import type { Database } from "./schema.ts";

// int8 (bigint) columns hold millisecond timestamps, well inside Number.MAX_SAFE_INTEGER.
pg.types.setTypeParser(20, (v) => Number.parseInt(v, 10));

export type Dialect = "sqlite" | "postgres";
export type Db = Kysely<Database>;
export type Tx = Transaction<Database>;
/** Either the root handle or a transaction: store methods take this so callers decide the transaction. */
export type Executor = Kysely<Database>;

export interface StoreConfig {
  /** postgres://… for PostgreSQL; otherwise the embedded SQLite store in dataDir */
  databaseUrl?: string | undefined;
  dataDir: string;
  /** PostgreSQL schema to use (tests isolate themselves in one) */
  pgSchema?: string | undefined;
  /** SQLite file name inside dataDir, or ":memory:" */
  sqliteFile?: string | undefined;
}

export interface DatabaseHandle {
  db: Db;
  dialect: Dialect;
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export function openDatabase(config: StoreConfig): DatabaseHandle {
  if (config.databaseUrl?.startsWith("postgres")) {
    const pool = new pg.Pool({
      connectionString: config.databaseUrl,
      max: 10,
      ...(config.pgSchema ? { options: `-c search_path=${config.pgSchema}` } : {}),
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    return {
      db,
      dialect: "postgres",
      migrate: async () => {
        if (config.pgSchema) {
          await pool.query(`CREATE SCHEMA IF NOT EXISTS "${config.pgSchema}"`);
        }
        await runMigrations(db, config.pgSchema);
      },
      close: () => db.destroy(),
    };
  }
  const file = config.sqliteFile ?? "mamori.sqlite";
  let filename = file;
  if (file !== ":memory:") {
    fs.mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
    filename = path.join(config.dataDir, file);
  }
  const sqlite = new SqliteDatabase(filename);
  sqlite.pragma("journal_mode = WAL");
  // FULL: a committed revocation or event survives power loss, not only a process crash.
  sqlite.pragma("synchronous = FULL");
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  return {
    db,
    dialect: "sqlite",
    migrate: () => runMigrations(db),
    close: () => db.destroy(),
  };
}

async function runMigrations(db: Db, schema?: string): Promise<void> {
  // Kysely looks for its bookkeeping tables in every schema; name ours so parallel schemas do not see each other's.
  const migrator = new Migrator({
    db,
    provider: migrationProvider,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error || failed) {
    throw new Error(`migration failed${failed ? ` at ${failed.migrationName}` : ""}: ${String(error)}`);
  }
}
