import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import SqliteDatabase from "better-sqlite3";
import { Migrator, sql } from "kysely";
import type { DatabaseHandle } from "../db/database.ts";
import { coreMigrations } from "../db/migrations.ts";
import { openStore, storeModules } from "../store.ts";
import { testStores } from "../testing/stores.ts";
import {
  COLUMNS,
  createStatementDecisionLog,
  createWorkerDecisionLog,
  type DecisionLog,
  type DecisionRecord,
  rowOf,
  rowValues,
} from "./decision-log.ts";
import type { RiskDecisionsTable } from "./tables.ts";

// A decision's row is its audit record and what backtests replay: every row appended must be readable once `flush`
// resolves, whichever writer the store uses, and a failing batch must be reported without losing the next ones.

const T0 = Date.UTC(2026, 10, 30, 12);
let n = 0;
const row = (over: Partial<DecisionRecord> = {}): DecisionRecord => {
  const i = n++;
  return {
    id: `d-${process.pid}-${i}`,
    account_id: `a${i % 7}`,
    event_type: "login",
    event: { event: { type: "login", at: T0 + i }, signals: { newDevice: i % 2 === 0 } },
    decision: i % 3 === 0 ? "challenge" : "allow",
    factor: i % 3 === 0 ? "totp" : null,
    hold: 0,
    reasons: [],
    policy_version: 1,
    shadow: null,
    scores: { rba: i / 10 },
    at: T0 + i,
    latency_us: 100 + i,
    ...over,
  };
};

const tmpDirs: string[] = [];
after(() => {
  for (const d of tmpDirs) fs.rmSync(d, { recursive: true, force: true });
});
const tmpDir = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), "mamori-dlog-"));
  tmpDirs.push(d);
  return d;
};

interface Backend {
  name: string;
  skip: () => Promise<string | null>;
  open: (report: (e: unknown, what: string) => void) => Promise<{ handle: DatabaseHandle; log: DecisionLog }>;
}

const backends: Backend[] = [
  ...testStores.map(
    (s): Backend => ({
      name: `statement (${s.name})`,
      skip: s.skip,
      open: async (report) => {
        const handle = await s.open();
        return { handle, log: createStatementDecisionLog(handle.db, report) };
      },
    }),
  ),
  {
    name: "worker thread (sqlite file)",
    skip: async () => null,
    open: async (report) => {
      const handle = openStore({ dataDir: tmpDir() });
      await handle.migrate();
      assert.ok(handle.sideFiles?.decision_log, "an embedded store on a file has a decision-log file");
      return { handle, log: createWorkerDecisionLog(handle.sideFiles?.decision_log, report) };
    },
  },
];

describe("decision log writer thread: gathering rows into large transactions", () => {
  // A ten-minute window: only a full transaction's worth of rows, or a flush, makes the writer commit.
  const withGatheringLog = async (test: (h: DatabaseHandle, log: DecisionLog) => Promise<void>) => {
    const handle = openStore({ dataDir: tmpDir() });
    await handle.migrate();
    const log = createWorkerDecisionLog(handle.sideFiles!.decision_log!, () => {}, { gatherMs: 600_000 });
    try {
      await test(handle, log);
    } finally {
      await log.close();
      await handle.close();
    }
  };
  /** How many of `rows` a reader finds written. */
  const written = async (h: DatabaseHandle, rows: DecisionRecord[]) =>
    (
      await readAll(
        h,
        rows.map((r) => r.id),
      )
    ).length;
  const appended = (log: DecisionLog, n: number) => {
    const rows = Array.from({ length: n }, () => row());
    for (const r of rows) log.append(r);
    return rows;
  };

  it("flush does not wait for the writer's window: a reader sees the rows at once", { timeout: 20_000 }, () =>
    withGatheringLog(async (handle, log) => {
      const rows = appended(log, 40);
      await new Promise((r) => setTimeout(r, 100));
      // Handed to the writer (two 16-row messages went at once), not yet committed: the window is still open.
      assert.equal(await written(handle, rows), 0);
      await log.flush();
      assert.equal(await written(handle, rows), rows.length);
    }),
  );

  it("flush does not wait for the window when more than a transaction's worth is queued", { timeout: 20_000 }, () =>
    withGatheringLog(async (handle, log) => {
      // Handed over in one go, so the writer holds them all at once: three transactions, the last one short.
      const rows = appended(log, 5000);
      await log.flush();
      assert.equal(await written(handle, rows), rows.length);
    }),
  );

  it("a full transaction's worth of rows is committed without a flush", { timeout: 20_000 }, () =>
    withGatheringLog(async (handle, log) => {
      const rows = appended(log, 2100);
      // Messages go whole into a transaction of at most 2,000 rows: the first 1,984 (124 messages of 16) at least.
      const first = rows.slice(0, 1900);
      let got = 0;
      for (let i = 0; i < 200 && got < first.length; i++) {
        await new Promise((r) => setTimeout(r, 25));
        got = await written(handle, first);
      }
      assert.equal(got, first.length);
    }),
  );
});

it("a value that cannot be cloned to the writer thread is written as the event loop's JSON of it", async () => {
  const handle = openStore({ dataDir: tmpDir() });
  await handle.migrate();
  const reported: unknown[] = [];
  const log = createWorkerDecisionLog(handle.sideFiles!.decision_log!, (e) => reported.push(e));
  try {
    // A function is not cloneable (DataCloneError); JSON leaves it out.
    const odd = row({ event: { event: { type: "login", data: { callback: () => 1, amount: 3 } } } });
    await storedAsItsJson(handle, log, [odd, row()]);
    assert.deepEqual(reported, []);
  } finally {
    await log.close();
    await handle.close();
  }
});

it("a batch that can be neither cloned nor made JSON is reported, and the next rows are written", async () => {
  const handle = openStore({ dataDir: tmpDir() });
  await handle.migrate();
  const reported: string[] = [];
  const log = createWorkerDecisionLog(handle.sideFiles!.decision_log!, (_e, what) => reported.push(what));
  try {
    const data: Record<string, unknown> = { callback: () => 1 };
    data.self = data;
    await reportedThenNextWritten(handle, log, reported, row({ event: { event: { type: "login", data } } }));
  } finally {
    await log.close();
    await handle.close();
  }
});

// Both writers insert `rowValues(r)` under the column list `COLUMNS`: a value out of place would file a decision under
// another account, or a deny as an allow, in the audit record and in every replay.
it("a row's values go to the writers in the order of the columns they name (no decision filed under another field)", () => {
  const r = row();
  assert.deepEqual(
    rowValues(r),
    COLUMNS.map((c) => r[c]),
  );
  assert.equal(new Set(COLUMNS).size, Object.keys(r).length, "every column of the table is written");
});

const readAll = (h: DatabaseHandle, ids: string[]) =>
  (h.attachedDb ?? h.db).selectFrom("risk_decisions").selectAll().where("id", "in", ids).orderBy("at").execute();
const normal = (r: RiskDecisionsTable) => ({ ...r, at: Number(r.at), hold: Number(r.hold) });
/** Appends a row the log cannot write, which it must report as "decision log", then one it must write. */
async function reportedThenNextWritten(h: DatabaseHandle, log: DecisionLog, reported: string[], bad: DecisionRecord) {
  log.append(bad);
  await log.flush();
  assert.deepEqual(reported, ["decision log"]);
  const next = row();
  log.append(next);
  await log.flush();
  assert.equal((await readAll(h, [next.id])).length, 1);
}

/** Appends `rows`, flushes, and holds what was stored to the event loop's JSON of them (`rowOf`); returns the rows read. */
async function storedAsItsJson(h: DatabaseHandle, log: DecisionLog, rows: DecisionRecord[]) {
  for (const r of rows) log.append(r);
  await log.flush();
  const got = await readAll(
    h,
    rows.map((r) => r.id),
  );
  assert.deepEqual(got.map(normal), rows.map(rowOf));
  return got;
}

for (const b of backends) {
  describe(`DecisionLog contract: ${b.name}`, async () => {
    const skip = await b.skip();
    if (skip) console.log(`skipping ${b.name} decision-log tests: ${skip}`);
    const opts = { skip: skip ?? false };

    it("every row appended is readable, unchanged, once flush resolves (several batches)", opts, async () => {
      const { handle, log } = await b.open(() => {});
      try {
        const rows = Array.from({ length: 450 }, () => row());
        for (const r of rows) log.append(r);
        await log.flush();
        const got = await readAll(
          handle,
          rows.map((r) => r.id),
        );
        assert.deepEqual(got.map(normal), rows.map(rowOf));
      } finally {
        await log.close();
        await handle.close();
      }
    });

    it("a lone row is written within the batch window without a flush; close writes the rest", opts, async () => {
      const { handle, log } = await b.open(() => {});
      try {
        const lone = row();
        log.append(lone);
        let got: unknown[] = [];
        for (let i = 0; i < 100 && got.length === 0; i++) {
          await new Promise((r) => setTimeout(r, 20));
          got = await readAll(handle, [lone.id]);
        }
        assert.equal(got.length, 1);
        const last = [row(), row()];
        for (const r of last) log.append(r);
        await log.close();
        assert.equal(
          (
            await readAll(
              handle,
              last.map((r) => r.id),
            )
          ).length,
          2,
        );
      } finally {
        await handle.close();
      }
    });

    // The JSON columns are written from the decision's objects: on the worker thread from their clone, so what it
    // writes must be exactly the text the event loop would have made (a replay parses it back; a support view shows it).
    it("the JSON columns are stored as the decision's own JSON, whoever makes it", opts, async () => {
      const { handle, log } = await b.open(() => {});
      try {
        const odd = row({
          event: {
            event: { type: "login", at: T0, ip: "2001:db8::1", userAgent: 'Mozilla/5.0 ☃ \u2028 "q"', data: {} },
            account: { id: "a1", exists: true, allowedCountries: ["JP", "US"], ageDays: 1 / 3, nothing: undefined },
            signals: { travelKmh: 1e9, zero: -0, notANumber: Number.NaN, tiny: 5e-324, huge: 1.7976931348623157e308 },
            velocity: { "100": 1, b: null, a: 2 },
          },
          reasons: [{ ruleId: "r1", inputs: { "scores.ato": 0.123456789012345, list: [1, "two", null] } }],
          scores: { rba: 0.000123, atoContributions: { newAsn: 1.5, hostingAsn: -0.25 } },
          shadow: { policyVersion: 2, decision: "deny", hold: false, reasons: [] },
        });
        const got = await storedAsItsJson(handle, log, [odd, row()]);
        assert.equal(got[1]!.shadow, null, "no shadow answer is NULL, not the text null");
      } finally {
        await log.close();
        await handle.close();
      }
    });

    it(
      "a row whose values have no JSON (a cycle) is reported and lost; the decision's others are written",
      opts,
      async () => {
        const reported: string[] = [];
        const { handle, log } = await b.open((_e, what) => reported.push(what));
        try {
          const cyclic: Record<string, unknown> = { type: "login" };
          cyclic.self = cyclic;
          const bad = row({ event: { event: cyclic } });
          const good = row();
          log.append(bad);
          log.append(good);
          await log.flush();
          assert.deepEqual(reported, ["decision log"]);
          const after = row();
          log.append(after);
          await log.flush();
          const got = await readAll(handle, [bad.id, good.id, after.id]);
          assert.deepEqual(
            got.map((r) => r.id),
            [good.id, after.id],
          );
        } finally {
          await log.close();
          await handle.close();
        }
      },
    );

    it("a batch that fails is reported, and the batches after it are written", opts, async () => {
      const reported: string[] = [];
      const { handle, log } = await b.open((_e, what) => reported.push(what));
      try {
        await reportedThenNextWritten(handle, log, reported, row({ event_type: null as unknown as string }));
      } finally {
        await log.close();
        await handle.close();
      }
    });
  });
}

describe("the embedded store's decision log file", () => {
  it("holds the rows: another connection to the data dir reads them after the writer closed", async () => {
    const dir = tmpDir();
    const h = openStore({ dataDir: dir });
    await h.migrate();
    const log = createWorkerDecisionLog(h.sideFiles!.decision_log!, () => {});
    const rows = [row(), row(), row()];
    for (const r of rows) log.append(r);
    await log.close();
    await h.close();
    const again = openStore({ dataDir: dir });
    try {
      assert.deepEqual(
        (
          await readAll(
            again,
            rows.map((r) => r.id),
          )
        ).map(normal),
        rows.map(rowOf),
      );
    } finally {
      await again.close();
    }
  });

  it("a store transaction does not wait for the decision log's writer (the file is not attached to it)", async () => {
    const h = openStore({ dataDir: tmpDir() });
    await h.migrate();
    // Another connection holds the decision-log file's write lock, as the writer thread does while it commits. With
    // the file attached to the store's connection, BEGIN IMMEDIATE would wait for it (and fail after busy_timeout).
    const other = new SqliteDatabase(h.sideFiles!.decision_log!);
    try {
      other.exec("begin immediate");
      other
        .prepare(
          "insert into risk_decisions (id, event_type, event, decision, hold, reasons, policy_version, scores, at, latency_us) values ('x', 'login', '{}', 'allow', 0, '[]', 1, '{}', 0, 0)",
        )
        .run();
      await h.db.transaction().execute(async (tx) => {
        await tx.insertInto("risk_alerts").values({ subject: "s", account_id: "a", kind: "k", sent_at: 1 }).execute();
      });
      assert.equal((await h.db.selectFrom("risk_alerts").select("subject").execute()).length, 1);
      other.exec("commit");
    } finally {
      other.close();
      await h.close();
    }
  });

  it("migration 0007 moves the decisions a store already had into it, and leaves none in the main file", async () => {
    const dir = tmpDir();
    const h = openStore({ dataDir: dir });
    const old = [row(), row()].map(rowOf);
    try {
      await new Migrator({
        db: h.db,
        provider: { getMigrations: async () => ({ ...coreMigrations, ...storeModules.migrations }) },
      }).migrateTo("0006_risk_covering_indexes");
      // Before 0007 the table is the main file's (it shadows the attached one).
      await h.db.insertInto("risk_decisions").values(old).execute();
      const inMain = await sql<{ n: number }>`select count(*) as n from main.risk_decisions`.execute(h.db);
      assert.equal(Number(inMain.rows[0]!.n), 2);
      await h.migrate();
      const left = await sql`select name from main.sqlite_master where name = 'risk_decisions'`.execute(h.db);
      assert.equal(left.rows.length, 0);
      assert.deepEqual(
        (
          await readAll(
            h,
            old.map((r) => r.id),
          )
        ).map(normal),
        old,
      );
      const moved = await sql<{ n: number }>`select count(*) as n from risk_decisions`.execute(h.attachedDb!);
      assert.equal(Number(moved.rows[0]!.n), 2);
    } finally {
      await h.close();
    }
  });
});
