import { randomBytes } from "node:crypto";
import pg from "pg";
import type { DatabaseHandle } from "../db/database.ts";
import type { AccountsTable } from "../db/schema.ts";
import { openStore } from "../store.ts";

/**
 * Test stores: the embedded SQLite store always; PostgreSQL when reachable. Each call gets a fresh, migrated,
 * isolated database (SQLite in memory; a new PostgreSQL schema), so test files can run in parallel.
 */
export const PG_URL = process.env.MAMORI_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
export const REDIS_URL = process.env.MAMORI_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

let pgReachable: Promise<string | null> | undefined;
let redisReachable: Promise<string | null> | undefined;

/** In CI's PostgreSQL + Redis run a missing service is a failure, not a skip. */
function required(reason: string | null): string | null {
  if (reason && process.env.MAMORI_TEST_REQUIRE_SERVICES === "1") {
    throw new Error(`MAMORI_TEST_REQUIRE_SERVICES=1 but ${reason}`);
  }
  return reason;
}

/**
 * Asks a service if it is there. Where it must be (CI's PostgreSQL + Redis run), a connect that times out while a
 * busy machine starts dozens of test files at once is asked again, longer, before it fails the file; elsewhere one
 * short try, so a machine without the service skips quickly.
 */
async function probe(attempt: (timeoutMs: number) => Promise<string | null>): Promise<string | null> {
  const mustBeThere = process.env.MAMORI_TEST_REQUIRE_SERVICES === "1";
  const timeouts = mustBeThere ? [1500, 5000, 10000] : [1500];
  let why: string | null = null;
  for (const t of timeouts) {
    why = await attempt(t);
    if (why === null) return null;
  }
  return why;
}

/** null when Redis answers PING, otherwise why not. */
export function redisUnavailable(): Promise<string | null> {
  if (process.env.MAMORI_TEST_REDIS === "off") return Promise.resolve("MAMORI_TEST_REDIS=off");
  redisReachable ??= probe(async (timeoutMs) => {
    const { Redis } = await import("ioredis");
    const r = new Redis(REDIS_URL, {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      connectTimeout: timeoutMs,
      retryStrategy: () => null,
    });
    r.on("error", () => {});
    try {
      await r.connect();
      await r.ping();
      return null;
    } catch (e) {
      return `Redis not reachable at ${REDIS_URL} (${(e as Error).message}); set MAMORI_TEST_REDIS_URL`;
    } finally {
      r.disconnect();
    }
  }).then(required);
  return redisReachable;
}

/** null when PostgreSQL is usable, otherwise why not (printed as the skip reason). */
export function postgresUnavailable(): Promise<string | null> {
  if (process.env.MAMORI_TEST_POSTGRES === "off") return Promise.resolve("MAMORI_TEST_POSTGRES=off");
  pgReachable ??= probe(async (timeoutMs) => {
    const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: timeoutMs });
    try {
      await client.connect();
      await client.query("select 1");
      return null;
    } catch (e) {
      return `PostgreSQL not reachable at ${PG_URL} (${(e as Error).message}); set MAMORI_TEST_DATABASE_URL`;
    } finally {
      await client.end().catch(() => {});
    }
  }).then(required);
  return pgReachable;
}

export interface TestStore {
  name: "sqlite" | "postgres";
  /** null if usable; otherwise the skip reason */
  skip: () => Promise<string | null>;
  open: () => Promise<DatabaseHandle>;
}

export const testStores: TestStore[] = [
  {
    name: "sqlite",
    skip: async () => null,
    open: async () => {
      const h = openStore({ dataDir: "", sqliteFile: ":memory:" });
      await h.migrate();
      return h;
    },
  },
  {
    name: "postgres",
    skip: postgresUnavailable,
    open: async () => {
      const schema = `t_${randomBytes(6).toString("hex")}`;
      const h = openStore({ dataDir: "", databaseUrl: PG_URL, pgSchema: schema });
      await migrateAmongTests(h);
      const close = h.close;
      return {
        ...h,
        close: async () => {
          await close();
          const c = new pg.Client({ connectionString: PG_URL });
          await c.connect();
          await c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await c.end();
        },
      };
    },
  },
];

/**
 * Migrates a test's PostgreSQL schema. Kysely's migrator introspects every schema's tables; another test file (or a
 * test's child process) dropping its schema at that moment makes the catalog query fail with "schema … does not
 * exist". A test-only race: try again.
 */
export async function migrateAmongTests(h: { migrate(): Promise<void> }): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await h.migrate();
      return;
    } catch (e) {
      if (attempt >= 5 || !/does not exist/.test(String(e))) throw e;
    }
  }
}

/** An account row without credentials, for tests and benchmarks that only need the account to exist. */
export function bareAccount(id: string, createdAt: number, updatedAt = createdAt): AccountsTable {
  return {
    id,
    status: "active",
    language: "en",
    credential_epoch: 1,
    password_hash: null,
    password_changed_at: null,
    password_reset_required: 0,
    totp_secret_enc: null,
    totp_pending_secret_enc: null,
    totp_enrolled_at: null,
    totp_last_step: null,
    created_at: createdAt,
    updated_at: updatedAt,
  };
}
