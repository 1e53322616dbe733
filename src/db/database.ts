import fs from "node:fs";
import path from "node:path";
import { performance } from "node:perf_hooks";
import SqliteDatabase from "better-sqlite3";
import {
  type CompiledQuery,
  Kysely,
  type Migration,
  Migrator,
  PostgresDialect,
  SqliteDialect,
  type Transaction,
} from "kysely";
import pg from "pg";
import { coreMigrations } from "./migrations.ts";
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
  /** How often the embedded store reads data_version for other processes' commits (ms; default FOREIGN_CHECK_MS). */
  foreignCheckMs?: number | undefined;
}

/**
 * A file of its own beside the embedded store's, which a module keeps (risk: the decision log, written by a worker
 * thread). The store creates it with `schema` when it opens and attaches it on the read connection under `alias`;
 * the main connection never attaches it (see openDatabase).
 */
export interface SideFile {
  alias: string;
  /** its path, from the store's file: `mamori.sqlite` → `mamori.decisions.sqlite` */
  path(storeFile: string): string;
  schema: string;
}

/** What the modules bring to the store; the composition root (src/store.ts) assembles it, db/ names no module. */
export interface StoreModules {
  /** every module's migrations by name, beside db/'s own 0001_core */
  migrations: Record<string, Migration>;
  sideFiles?: readonly SideFile[];
}

export interface SyncStatement {
  all(...params: unknown[]): Record<string, unknown>[];
  rows(...params: unknown[]): IterableIterator<unknown[]>;
}

/** A query compiled once and run with new parameters; for the few hot reads (session introspection). */
export type HotQuery = <R>(compiled: CompiledQuery<R>) => (params: readonly unknown[]) => Promise<R[]>;

export interface DatabaseHandle {
  db: Db;
  dialect: Dialect;
  /**
   * Hot-path reads without Kysely's per-call compile and SQLite's per-call prepare. SQLite: a cached statement on a
   * separate read-only connection (WAL readers see every committed write, never another transaction's uncommitted
   * one). PostgreSQL: a named prepared statement on the pool. Autocommit, so each call sees the latest commit.
   */
  hot: HotQuery;
  /**
   * SQLite on a file: a number that changes after every commit of this process (counted exactly) and, within
   * FOREIGN_CHECK_MS, after a commit by another process on the same file (`PRAGMA data_version` on the read
   * connection). Rows kept under one number are as fresh as the store while it stays the same. Absent on PostgreSQL
   * (other nodes write) and in memory (one connection).
   */
  changeCounter?: () => number;
  /**
   * SQLite on a file: a statement prepared on the read connection and run synchronously (risk/fact-index.ts keeps
   * facts in memory from it). `all` gives rows as objects; `rows` iterates them as arrays, for large scans.
   */
  readSync?: (sql: string) => SyncStatement;
  /** SQLite on a file: each module's side file by its alias (risk's decision log: `decision_log`). */
  sideFiles?: Readonly<Record<string, string>>;
  /**
   * SQLite on a file with side files: the read connection, which attaches them, so their tables are read here (risk
   * reads `risk_decisions` through it). Elsewhere absent: those tables are in `db`.
   */
  attachedDb?: Db;
  migrate(): Promise<void>;
  close(): Promise<void>;
}

/** How often the embedded store looks for commits made by other processes (see changeCounter). */
export const FOREIGN_CHECK_MS = 1;
/** Prepared statements kept per SQLite connection (see `counting.prepare`). */
const STATEMENT_CACHE = 500;
/**
 * Address space the read connection maps (not memory: pages are shared with the OS page cache). better-sqlite3's
 * SQLite caps it at 0x7fff0000 (SQLITE_MAX_MMAP_SIZE); a million accounts with a session each is ~1.9 GB, so the cap.
 */
const READER_MMAP_BYTES = 0x7fff0000;

export function openDatabase(config: StoreConfig, modules: StoreModules): DatabaseHandle {
  const migrations = { ...coreMigrations, ...modules.migrations };
  if (config.databaseUrl?.startsWith("postgres")) {
    const pool = new pg.Pool({
      connectionString: config.databaseUrl,
      max: 10,
      ...(config.pgSchema ? { options: `-c search_path=${config.pgSchema}` } : {}),
    });
    // A connection whose server goes away (a restart, a failover) emits 'error': an idle one through the pool, one
    // checked out (Kysely holds one for a whole transaction) on the client itself, where pg-pool listens only while it
    // is idle. With no listener either is an uncaught exception and the whole node exits (seen in
    // test/cluster/postgres-restarts-under-load.test.ts). The query in flight fails by itself and is answered 503
    // (api/errors.ts); the pool drops the dead connection when it is released and opens a new one on the next query.
    pool.on("error", () => {});
    pool.on("connect", (client) => client.on("error", () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    let n = 0;
    const hot: HotQuery = (compiled) => {
      const name = `mamori_hot_${++n}`;
      return async (params) => (await pool.query({ name, text: compiled.sql, values: [...params] })).rows;
    };
    return {
      db,
      dialect: "postgres",
      hot,
      migrate: async () => {
        if (config.pgSchema) {
          await pool.query(`CREATE SCHEMA IF NOT EXISTS "${config.pgSchema}"`);
        }
        // Kysely looks for its bookkeeping tables in every schema it can see; pin it to the one we write to (the
        // URL's search_path may name one), or it finds another schema's lock table and fails.
        const schema =
          config.pgSchema ?? ((await pool.query("select current_schema() as s")).rows[0] as { s: string }).s;
        await runMigrations(db, migrations, schema);
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
  // 64 MiB of page cache for the writer (SQLite's default is 2 MiB): with a million accounts the indexes an insert
  // walks no longer fit in 2 MiB, and every write paid page reads (bench/import.ts).
  sqlite.pragma("cache_size = -65536");
  // A module's side file (risk's decision log, written by a worker thread) is created here. This connection never
  // attaches it: BEGIN IMMEDIATE takes the write lock of every attached file, so each store transaction would wait
  // for the writer thread's commits. Its tables are read on the read connection (`attachedDb`), which attaches it.
  const sideFiles =
    filename === ":memory:" ? [] : (modules.sideFiles ?? []).map((f) => ({ alias: f.alias, file: f.path(filename) }));
  for (const [i, f] of sideFiles.entries()) {
    const c = new SqliteDatabase(f.file);
    c.pragma("journal_mode = WAL");
    c.exec(modules.sideFiles![i]!.schema);
    c.close();
  }
  // Counts this process's commits: after a writing statement, if no transaction is open any more, it committed (an
  // autocommit write, or COMMIT itself). Read by changeCounter below.
  let localCommits = 0;
  // Kysely's SQLite driver prepares every query anew; preparing was a fifth of a lockdown's CPU (measured with
  // bench/lockdown.ts under the profiler). Statements are kept by SQL text, at most STATEMENT_CACHE of them (the oldest
  // prepared goes first), and reused: calls are synchronous, so a statement is never in use twice — except one still
  // iterating (`busy`), which gets a fresh one. SQLite re-prepares a kept statement itself after a schema change.
  const statements = new Map<string, SqliteDatabase.Statement>();
  const prepare = (sql: string): SqliteDatabase.Statement => {
    const stmt = sqlite.prepare(sql);
    const run = stmt.run.bind(stmt);
    const all = stmt.all.bind(stmt);
    // A commit is a write outside a transaction, or a statement that closed one (COMMIT, END, RELEASE: SQLite calls
    // those read-only, so they are not told apart by `readonly`; a ROLLBACK counts too, which is merely cautious).
    const writes = !stmt.readonly;
    const counted =
      <R>(call: (...a: unknown[]) => R) =>
      (...a: unknown[]): R => {
        const open = sqlite.inTransaction;
        const r = call(...a);
        if (!sqlite.inTransaction && (open || writes)) localCommits++;
        return r;
      };
    return Object.assign(stmt, { run: counted(run), all: counted(all) });
  };
  const counting = {
    close: () => sqlite.close(),
    prepare: (text: string) => {
      // Kysely begins transactions DEFERRED: such a transaction reads a snapshot, and when it then writes after another
      // connection (the CLI, a second process on the file) committed, SQLite refuses at once (SQLITE_BUSY_SNAPSHOT)
      // instead of waiting. IMMEDIATE takes the write lock first, waiting up to busy_timeout for the other writer to finish.
      // In this process every query already runs one at a time on this connection, so nothing here waits longer.
      const sql = text === "begin" ? "begin immediate" : text;
      const kept = statements.get(sql);
      if (kept && !kept.busy) return kept;
      const stmt = prepare(sql);
      if (!kept) {
        if (statements.size >= STATEMENT_CACHE) statements.delete(statements.keys().next().value as string);
        statements.set(sql, stmt);
      }
      return stmt;
    },
  };
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: counting as never }) });
  // An in-memory database has no second connection; tests then read on the one connection.
  let reader: SqliteDatabase.Database | null = null;
  const readerConn = () => {
    if (filename === ":memory:") return sqlite;
    if (!reader) {
      reader = new SqliteDatabase(filename, { readonly: true, fileMustExist: true });
      reader.pragma("busy_timeout = 5000");
      for (const f of sideFiles) reader.prepare(`attach database ? as "${f.alias}"`).run(f.file);
      // Hot reads walk index pages all over a large file; through mmap they are memory reads, not one pread() per page
      // (the risk snapshot on the 1M-login benchmark store: 56 → 39 µs). Only this read-only connection maps the file.
      reader.pragma(`mmap_size = ${READER_MMAP_BYTES}`);
    }
    return reader;
  };
  const hot: HotQuery = (compiled) => {
    let stmt: SqliteDatabase.Statement | null = null;
    return async (params) => {
      stmt ??= readerConn().prepare(compiled.sql);
      return stmt.all(...(params as unknown[])) as never;
    };
  };
  // Commits by other processes on the same file (the CLI, a second server): SQLite's data_version on the writer
  // connection, which moves on every other connection's commit but not on its own (on the read connection this
  // process's own commits moved it too). Reading it takes a read lock (~5 µs, measured: 15 %
  // of an introspection's CPU when read per request), so it is read at most once a millisecond; this process's own
  // commits are counted exactly, above. The writer begins every transaction IMMEDIATE, so while one is open no other
  // process can commit, and the value read inside it is not behind.
  const foreignCheckMs = config.foreignCheckMs ?? FOREIGN_CHECK_MS;
  let versionStmt: SqliteDatabase.Statement | null = null;
  let foreignChanges = 0;
  let lastVersion = -1;
  let checkedAt = 0;
  const changeCounter =
    filename === ":memory:"
      ? undefined
      : () => {
          const t = performance.now();
          if (t - checkedAt >= foreignCheckMs) {
            checkedAt = t;
            versionStmt ??= sqlite.prepare("PRAGMA data_version").pluck();
            const v = versionStmt.get() as number;
            if (v !== lastVersion) {
              lastVersion = v;
              foreignChanges++;
            }
          }
          // Both only grow, so the sum changes whenever either does.
          return localCommits + foreignChanges;
        };
  return {
    db,
    dialect: "sqlite",
    hot,
    ...(changeCounter ? { changeCounter } : {}),
    ...(filename === ":memory:"
      ? {}
      : {
          readSync: (text: string): SyncStatement => {
            const objects = readerConn().prepare(text);
            const arrays = readerConn().prepare(text).raw(true);
            return {
              all: (...params) => objects.all(...params) as Record<string, unknown>[],
              rows: (...params) => arrays.iterate(...params) as IterableIterator<unknown[]>,
            };
          },
        }),
    ...(sideFiles.length > 0
      ? {
          sideFiles: Object.fromEntries(sideFiles.map((f) => [f.alias, f.file])),
          attachedDb: new Kysely<Database>({ dialect: new SqliteDialect({ database: async () => readerConn() }) }),
        }
      : {}),
    migrate: () => runMigrations(db, migrations),
    close: async () => {
      reader?.close();
      await db.destroy();
    },
  };
}

async function runMigrations(db: Db, migrations: Record<string, Migration>, schema?: string): Promise<void> {
  // Kysely looks for its bookkeeping tables in every schema; name ours so parallel schemas do not see each other's.
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations },
    // Numbers are reserved per module ahead of time (0010–0020 are gaps), so one may land after a higher one ran.
    allowUnorderedMigrations: true,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });
  const { error, results } = await migrator.migrateToLatest();
  const failed = results?.find((r) => r.status === "Error");
  if (error || failed) {
    throw new Error(`migration failed${failed ? ` at ${failed.migrationName}` : ""}: ${String(error)}`);
  }
}
