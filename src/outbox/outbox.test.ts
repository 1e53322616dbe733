import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import type { Kysely } from "kysely";
import pg from "pg";
import { type DatabaseHandle, openDatabase } from "../db/database.ts";
import { PG_URL, postgresUnavailable } from "../testing/stores.ts";
import { claimDue, heldRows, type LeaseColumns } from "./lease.ts";
import { createPoller } from "./poller.ts";

/**
 * The outbox contract every dispatcher relies on (notifications, webhooks), on both stores: concurrent claimers never
 * claim the same row, a crashed claimer's lease expires and another takes the row, rows go out in due-then-id order.
 * Two handles on one store stand for two processes (SQLite: two connections on one file; PostgreSQL: two pools).
 */

const TABLE = "outbox_contract";
/** the contract needs none of the modules' tables: its table is made here */
const NO_MODULES = { migrations: {} };
const LEASE = 60_000;
const T0 = 1_800_000_000_000;

interface Pair {
  a: DatabaseHandle;
  b: DatabaseHandle;
  close(): Promise<void>;
}

const stores: { name: string; skip: () => Promise<string | null>; open: () => Promise<Pair> }[] = [
  {
    name: "sqlite",
    skip: async () => null,
    open: async () => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mamori-outbox-"));
      const a = openDatabase({ dataDir: dir, sqliteFile: "outbox.sqlite" }, NO_MODULES);
      await createTable(a);
      const b = openDatabase({ dataDir: dir, sqliteFile: "outbox.sqlite" }, NO_MODULES);
      return {
        a,
        b,
        close: async () => {
          await b.close();
          await a.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    name: "postgres",
    skip: postgresUnavailable,
    open: async () => {
      const schema = `t_${randomBytes(6).toString("hex")}`;
      const admin = new pg.Client({ connectionString: PG_URL });
      await admin.connect();
      await admin.query(`CREATE SCHEMA "${schema}"`);
      const a = openDatabase({ dataDir: "", databaseUrl: PG_URL, pgSchema: schema }, NO_MODULES);
      await createTable(a);
      const b = openDatabase({ dataDir: "", databaseUrl: PG_URL, pgSchema: schema }, NO_MODULES);
      return {
        a,
        b,
        close: async () => {
          await b.close();
          await a.close();
          await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
          await admin.end();
        },
      };
    },
  },
];

async function createTable(h: DatabaseHandle): Promise<void> {
  await h.db.schema
    .createTable(TABLE)
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("attempts", "integer", (c) => c.notNull())
    .addColumn("next_attempt_at", "bigint", (c) => c.notNull())
    .addColumn("locked_until", "bigint")
    .execute();
}

// the contract table exists only in this test, not in the store's schema
const rowsOf = (h: DatabaseHandle) => h.db as unknown as Kysely<Record<string, LeaseColumns>>;

async function enqueue(h: DatabaseHandle, rows: { id: string; due: number }[]): Promise<void> {
  for (const r of rows) {
    await rowsOf(h)
      .insertInto(TABLE)
      .values({ id: r.id, status: "queued", attempts: 0, next_attempt_at: r.due, locked_until: null })
      .execute();
  }
}

async function withPair(open: () => Promise<Pair>, fn: (p: Pair) => Promise<void>): Promise<void> {
  const p = await open();
  try {
    await fn(p);
  } finally {
    await p.close();
  }
}

for (const store of stores) {
  describe(`outbox lease claim contract (${store.name})`, async () => {
    const skip = (await store.skip()) ?? false;

    it("concurrent claimers never claim the same row, and every due row is claimed", { skip }, () =>
      withPair(store.open, async ({ a, b }) => {
        const ids = Array.from({ length: 60 }, () => randomUUID());
        await enqueue(
          a,
          ids.map((id) => ({ id, due: T0 })),
        );
        const opts = { limit: 25, leaseMs: LEASE, now: T0 };
        // Claimers racing for the same candidates lose some rows to each other; rounds go on until none is left.
        const claimed: string[] = [];
        for (let round = 0; round < 20 && claimed.length < ids.length; round++) {
          const claims = await Promise.all([
            claimDue(a.db, TABLE, opts),
            claimDue(b.db, TABLE, opts),
            claimDue(a.db, TABLE, opts),
            claimDue(b.db, TABLE, opts),
          ]);
          claimed.push(...claims.flatMap((c) => c.ids));
        }
        assert.equal(new Set(claimed).size, claimed.length, "a row was claimed twice");
        assert.deepEqual(new Set(claimed), new Set(ids), "every due row claimed once");
        // claimed rows are not due again within their lease
        const again = await Promise.all([claimDue(a.db, TABLE, opts), claimDue(b.db, TABLE, opts)]);
        assert.deepEqual(
          again.flatMap((c) => c.ids),
          [],
        );
        // expired leases re-claimed concurrently: still each row once
        const later = { ...opts, limit: 100, now: T0 + LEASE };
        const retaken = await Promise.all([claimDue(a.db, TABLE, later), claimDue(b.db, TABLE, later)]);
        const re = retaken.flatMap((c) => c.ids);
        assert.equal(new Set(re).size, re.length, "an expired lease was re-claimed twice");
        assert.ok(re.length > 0);
      }),
    );

    it(
      "a crashed claimer's lease expires and another claimer takes the row; the first no longer holds it",
      { skip },
      () =>
        withPair(store.open, async ({ a, b }) => {
          const id = randomUUID();
          await enqueue(a, [{ id, due: T0 }]);
          // a claims, then "crashes": it never marks the row sent or failed
          const crashed = await claimDue(a.db, TABLE, { limit: 10, leaseMs: LEASE, now: T0 });
          assert.deepEqual(crashed.ids, [id]);
          // within the lease the row is a's
          const early = await claimDue(b.db, TABLE, { limit: 10, leaseMs: LEASE, now: T0 + LEASE - 1 });
          assert.deepEqual(early.ids, []);
          // the lease has run out: b takes the row under a new lease
          const taken = await claimDue(b.db, TABLE, { limit: 10, leaseMs: LEASE, now: T0 + LEASE });
          assert.deepEqual(taken.ids, [id]);
          const rows = await rowsOf(b).selectFrom(TABLE).selectAll().execute();
          assert.equal(rows[0]?.status, "sending");
          assert.equal(Number(rows[0]?.locked_until), T0 + 2 * LEASE);
          // read back, the row is held by b's claim only: a late reader with a's stale claim leaves it alone
          assert.deepEqual(
            heldRows(taken, rows).map((r) => r.id),
            [id],
          );
          assert.deepEqual(heldRows(crashed, rows), []);
        }),
    );

    it("rows are claimed in order: the earliest due first, then by id; a batch takes the first ones", { skip }, () =>
      withPair(store.open, async ({ a, b }) => {
        const sameTime = Array.from({ length: 8 }, () => randomUUID());
        const early = randomUUID();
        const notYet = randomUUID();
        // inserted in neither order, so the claim cannot lean on insertion order
        await enqueue(a, [
          ...sameTime.map((id) => ({ id, due: T0 })),
          { id: early, due: T0 - 5_000 },
          { id: notYet, due: T0 + 1 },
        ]);
        const sorted = [...sameTime].sort();
        const first = await claimDue(a.db, TABLE, { limit: 4, leaseMs: LEASE, now: T0 });
        assert.deepEqual(first.ids, [early, ...sorted.slice(0, 3)]);
        const rest = await claimDue(b.db, TABLE, { limit: 100, leaseMs: LEASE, now: T0 });
        assert.deepEqual(rest.ids, sorted.slice(3), "a row not yet due is not claimed");
        // heldRows keeps the claim's order whatever order the rows were read back in
        const read = await rowsOf(b).selectFrom(TABLE).selectAll().orderBy("id", "desc").execute();
        assert.deepEqual(
          heldRows(rest, read).map((r) => r.id),
          sorted.slice(3),
        );
      }),
    );
  });
}

describe("outbox poller", () => {
  it("runs never overlap, and a full batch is followed by another run until the outbox is drained", async () => {
    let pending = 7;
    let inFlight = 0;
    let maxInFlight = 0;
    let runs = 0;
    const poller = createPoller({
      batch: 3,
      failureMessage: "test poller run failed",
      handled: (n: number) => n,
      dispatch: async () => {
        runs++;
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setImmediate(r));
        const n = Math.min(3, pending);
        pending -= n;
        inFlight--;
        return n;
      },
    });
    await Promise.all([poller.runOnce(), poller.runOnce()]);
    assert.equal(maxInFlight, 1, "two runOnce calls ran one after the other");
    pending = 10;
    runs = 0;
    poller.start(3_600_000);
    poller.kick();
    // the loop keeps running while batches come back full; stop() waits for the run in flight
    while (pending > 0) await new Promise((r) => setImmediate(r));
    await poller.stop();
    assert.equal(pending, 0);
    assert.equal(maxInFlight, 1);
    assert.equal(runs, 4, "three full batches of 3, then the last row");
  });
});
