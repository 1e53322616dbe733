/**
 * The decision log: every decision's row (features, reasons, versions), written behind the answer in batches. The
 * decision is enforced by its caller whatever happens to its row; a crash loses at most the rows not yet written
 * (≤ BATCH rows or BATCH_WINDOW_MS of decisions; with the writer thread, also what it gathers for its next transaction:
 * ≤ 2,000 rows or 25 ms more). Readers call `flush` first, so they see every decision made before.
 *
 * Two writers, one contract (decision-log.test.ts runs it on both):
 * - `createStatementDecisionLog`: one multi-row INSERT per batch through the store's own connection. PostgreSQL (the
 *   pool's round trip does not block the event loop) and an in-memory SQLite store (one connection, nothing to share).
 * - `createWorkerDecisionLog`: the embedded store on a file. Rows go to a worker thread that owns the only writing
 *   connection to a separate file (read through `DatabaseHandle.decisionsDb`, see database.ts). On the event
 *   loop an insert batch with its fsync and the WAL checkpoints it triggered took p50 5.5 ms, max 29 ms per 200 rows
 *   (~44 µs a decision), and the main file's growing WAL slowed every read in between; a worker writing the same file
 *   as the server stalled reads for ~1 s once in ~20k decisions (docs/risk.md), which a file of its own avoids.
 */
import { Worker } from "node:worker_threads";
import { CompiledQuery } from "kysely";
import type { Db } from "../db/database.ts";
import type { RiskDecisionsTable } from "./tables.ts";

/**
 * A decision's row as the service hands it over: the JSON columns (`JSON_COLUMNS`) as the values themselves, written as
 * their JSON by the log — on the embedded store by the writer thread, so that ~10 µs a decision of `JSON.stringify`
 * (the features, the reasons, the scores; most of a deny's cost after the rules) leaves the event loop. The values
 * belong to the log once appended: nothing changes them after the decision (they are cloned up to a batch later).
 */
export type DecisionRecord = Omit<RiskDecisionsTable, "event" | "reasons" | "scores" | "shadow"> & {
  event: unknown;
  reasons: unknown;
  scores: unknown;
  /** null when no shadow set answered (stored as NULL, not as the JSON `null`) */
  shadow: unknown;
};

/** The columns a `DecisionRecord` holds as values, and whether a null there is stored as NULL. */
export const JSON_COLUMNS: readonly { column: keyof RiskDecisionsTable; nullable: boolean }[] = [
  { column: "event", nullable: false },
  { column: "reasons", nullable: false },
  { column: "scores", nullable: false },
  { column: "shadow", nullable: true },
];

/** The stored row: what the writer thread makes of a record too (decision-log-worker.mjs, `encode`). */
export function rowOf(r: DecisionRecord): RiskDecisionsTable {
  return {
    ...r,
    event: JSON.stringify(r.event),
    reasons: JSON.stringify(r.reasons),
    scores: JSON.stringify(r.scores),
    shadow: r.shadow === null ? null : JSON.stringify(r.shadow),
  };
}

export interface DecisionLog {
  /** Queues one decision's row; never blocks on the store. */
  append(row: DecisionRecord): void;
  /** Resolves once every row appended before the call is written (or its failure reported). */
  flush(): Promise<void>;
  /** Flushes, then releases the writer. */
  close(): Promise<void>;
}

type Report = (e: unknown, what: string) => void;

/** Rows per batch, and the longest a row waits for one. */
const BATCH = 200;
const BATCH_WINDOW_MS = 20;
/**
 * Rows per message to the writer thread, which joins the messages waiting for it into one transaction. Cloning a
 * message stops the event loop for as long as it takes: 200 rows at once held one decision in a hundred up by
 * ~1 ms (the in-process p99), 32 rows of JSON text a sixth of that. Rows cloned as values (`DecisionRecord`) cost
 * ~4 µs each, so 32 of them held the decision that sent them ~130–210 µs (bench:risk-ab's p99 rose from ~300 to
 * ~450 µs); 16 halve that at one more acknowledgement per 16 rows.
 */
const WORKER_MESSAGE = 16;

/** Column order of a row as sent to the worker (an array per row clones faster than an object); migration 0007's. */
export const COLUMNS: readonly (keyof RiskDecisionsTable)[] = [
  "id",
  "account_id",
  "event_type",
  "event",
  "decision",
  "factor",
  "hold",
  "reasons",
  "policy_version",
  "shadow",
  "scores",
  "at",
  "latency_us",
];

/**
 * A row's values in `COLUMNS` order, written out: the hand-over to the writer thread built each row's array with
 * `COLUMNS.map((c) => r[c])`, a closure and thirteen keyed reads of changing names per row (~2 % of the assess
 * route's main thread under load); reading the fields by name is a fixed-shape load each. decision-log.test.ts holds
 * it to `COLUMNS`.
 */
export function rowValues(r: RiskDecisionsTable | DecisionRecord): unknown[] {
  return [
    r.id,
    r.account_id,
    r.event_type,
    r.event,
    r.decision,
    r.factor,
    r.hold,
    r.reasons,
    r.policy_version,
    r.shadow,
    r.scores,
    r.at,
    r.latency_us,
  ];
}

/** Batches rows in memory and hands each batch to `write` (≤ BATCH rows, ≤ BATCH_WINDOW_MS after its first row). */
function batcher<Row>(write: (rows: Row[]) => Promise<void>, batch = BATCH) {
  const pending: Row[] = [];
  let timer: NodeJS.Timeout | null = null;
  // Batches are handed over at once (a worker takes them in order; a pool may run them side by side); `flush`
  // waits for every one handed over so far.
  let written: Promise<unknown> = Promise.resolve();
  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    while (pending.length) written = Promise.all([written, write(pending.splice(0, batch))]);
    return written.then(() => {});
  };
  return {
    append(row: Row) {
      pending.push(row);
      if (pending.length >= batch) void flush();
      else timer ??= setTimeout(() => void flush(), BATCH_WINDOW_MS);
    },
    flush,
  };
}

/** One multi-row INSERT per batch on the store's connection (PostgreSQL, in-memory SQLite). */
export function createStatementDecisionLog(db: Db, report: Report): DecisionLog {
  // The INSERT's SQL depends only on the row count and the dialect: compiled by Kysely once per batch size, then run
  // with the batch's values (compiling 200 rows × 13 columns per batch cost more than the insert).
  const insertSql = new Map<number, string>();
  const insertOf = (rows: RiskDecisionsTable[]): CompiledQuery => {
    let text = insertSql.get(rows.length);
    if (text === undefined) {
      text = db.insertInto("risk_decisions").values(rows.map(inColumnOrder)).compile().sql;
      insertSql.set(rows.length, text);
    }
    const params: unknown[] = [];
    for (const r of rows) params.push(...rowValues(r));
    return CompiledQuery.raw(text, params);
  };
  const b = batcher((rows: RiskDecisionsTable[]) =>
    db.executeQuery(insertOf(rows)).then(
      () => {},
      (e: unknown) => report(e, "decision log"),
    ),
  );
  // The JSON is made at once, on the event loop: a pool's round trip leaves it free anyway, and the row is then the
  // decision as it was whatever later happens to its objects.
  const append = (r: DecisionRecord) => {
    let row: RiskDecisionsTable;
    try {
      row = rowOf(r);
    } catch (e) {
      // A value JSON cannot hold (a cycle): the row is lost and reported, as the writer thread does; the decision stands.
      report(e, "decision log");
      return;
    }
    b.append(row);
  };
  return { append, flush: b.flush, close: b.flush };
}

function inColumnOrder(r: RiskDecisionsTable): RiskDecisionsTable {
  const o: Record<string, unknown> = {};
  for (const c of COLUMNS) o[c] = r[c];
  return o as unknown as RiskDecisionsTable;
}

/**
 * Batches go to a worker thread that inserts them into the decision-log file (one transaction, synchronous=FULL,
 * per batch). The worker keeps the process alive only while a batch is unacknowledged. If it dies, the rows of the
 * batches it had not acknowledged are reported lost and a new worker takes the next batches.
 */
export function createWorkerDecisionLog(
  file: string,
  report: Report,
  opts: {
    /** How long the writer thread gathers rows for one transaction (default 25 ms; tests set it long). */
    gatherMs?: number;
  } = {},
): DecisionLog {
  let worker: Worker | null = null;
  let seq = 0;
  const waiting = new Map<number, () => void>();
  const start = (): Worker => {
    const w = new Worker(new URL("./decision-log-worker.mjs", import.meta.url), {
      workerData: {
        file,
        columns: COLUMNS,
        json: JSON_COLUMNS.map((j) => ({ index: COLUMNS.indexOf(j.column), nullable: j.nullable })),
        gatherMs: opts.gatherMs,
      },
    });
    w.unref();
    w.on("message", (m: { type: string; seq?: number; error?: string }) => {
      if (m.type !== "ack" || m.seq === undefined) return;
      if (m.error) report(new Error(m.error), "decision log");
      waiting.get(m.seq)?.();
      waiting.delete(m.seq);
      if (waiting.size === 0) w.unref();
    });
    const lost = (why: unknown) => {
      if (worker !== w) return;
      worker = null;
      if (waiting.size) report(why, `decision log: ${waiting.size} batch(es) lost with the writer thread`);
      for (const done of waiting.values()) done();
      waiting.clear();
    };
    w.on("error", lost);
    w.on("exit", (code) => lost(new Error(`decision-log writer exited with code ${code}`)));
    return w;
  };
  const b = batcher(
    (rows: DecisionRecord[]) =>
      new Promise<void>((resolve) => {
        worker ??= start();
        const n = ++seq;
        waiting.set(n, resolve);
        worker.ref();
        try {
          // The records' values are cloned as they are and the writer thread makes the JSON: in a decision the clone
          // took 6–12 µs a row where the JSON took 15–17 (docs/risk.md, 2026-12-05 13:35).
          worker.postMessage({ type: "rows", seq: n, encoded: false, rows: rows.map(rowValues) });
        } catch {
          // A value that cannot be cloned (a function, say): the JSON is made here, where it always was.
          try {
            worker.postMessage({ type: "rows", seq: n, encoded: true, rows: rows.map((r) => rowValues(rowOf(r))) });
          } catch (e) {
            // Never handed over: nothing will acknowledge it, so it must not keep the writer (and the process) alive.
            waiting.delete(n);
            if (waiting.size === 0) worker.unref();
            report(e, "decision log");
            resolve();
          }
        }
      }),
    WORKER_MESSAGE,
  );
  // A reader is waiting: the writer thread commits what it holds at once instead of gathering for its window.
  const flush = (): Promise<void> => {
    const done = b.flush();
    if (worker && waiting.size) worker.postMessage({ type: "drain" });
    return done;
  };
  return {
    append: b.append,
    flush,
    async close() {
      await flush();
      const w = worker;
      worker = null;
      if (w) await w.terminate();
    },
  };
}
