// The decision log's writer thread (see decision-log.ts). Plain JavaScript: a worker does not inherit the tsx loader
// that bin/mamori.js registers in the main thread. It owns the only writing connection to the decision-log file, so
// the inserts, their fsync and the file's WAL checkpoints never run on the server's event loop.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

const { file, columns, json, gatherMs } = workerData;
const db = new Database(file);
db.pragma("journal_mode = WAL");
// FULL: a batch acknowledged as written survives power loss, as the main store's commits do.
db.pragma("synchronous = FULL");
db.pragma("busy_timeout = 5000");
// A batch is one transaction: a row that fails fails its batch, which the main thread reports (not `or ignore`,
// which would drop such a row silently).
const insert = db.prepare(
  `insert into risk_decisions (${columns.join(", ")}) values (${columns.map(() => "?").join(", ")})`,
);
const insertAll = db.transaction((rows) => {
  for (const r of rows) insert.run(r);
});

// Rows are gathered into large transactions: a transaction's cost is mostly the pages it dirties, and the index on
// (account_id, at) takes each row to a random page, so 77 rows dirtied ~77 index pages where 2,000 rows dirty barely
// more than the index has (bench: 22.6 → 12.4 µs of CPU a row). A transaction starts once TX_ROWS rows wait, TX_WAIT_MS
// after the first waiting message, or at once on a "drain" message (the main thread's `flush`: a reader is waiting).
// If a transaction fails, each of its messages is written on its own, so a bad row fails only its own message.
const TX_ROWS = 2000;
const TX_WAIT_MS = gatherMs ?? 25;
const queue = [];
let queuedRows = 0;
let timer = null;
let immediate = false;
// Set by a "drain" message: everything queued goes now, over as many transactions as it takes.
let urgent = false;
const message = (e) => String(e instanceof Error ? e.message : e);

// The JSON columns arrive as values (decision-log.ts `DecisionRecord`) unless the main thread encoded them: made here
// exactly as `rowOf` makes them there. A row whose values have no JSON (a cycle) is left out and named in the ack.
function encode(m) {
  if (m.encoded) return null;
  let failed = null;
  const rows = [];
  for (const r of m.rows) {
    try {
      for (const { index, nullable } of json) {
        const v = r[index];
        r[index] = nullable && v === null ? null : JSON.stringify(v);
      }
      rows.push(r);
    } catch (e) {
      failed ??= message(e);
    }
  }
  m.rows = rows;
  return failed;
}
const ack = (m, error) =>
  parentPort.postMessage(error ? { type: "ack", seq: m.seq, error } : { type: "ack", seq: m.seq });

function drainSoon() {
  if (timer) clearTimeout(timer);
  timer = null;
  if (!immediate) {
    immediate = true;
    setImmediate(drain);
  }
}

function drain() {
  immediate = false;
  if (timer) clearTimeout(timer);
  timer = null;
  const batch = [];
  let rows = 0;
  while (queue.length && (batch.length === 0 || rows + queue[0].rows.length <= TX_ROWS)) {
    const m = queue.shift();
    batch.push(m);
    rows += m.rows.length;
  }
  queuedRows -= rows;
  if (batch.length === 0) return;
  try {
    insertAll(batch.flatMap((m) => m.rows));
    for (const m of batch) ack(m, m.unencodable);
  } catch (e) {
    for (const m of batch) {
      try {
        insertAll(m.rows);
        ack(m, m.unencodable);
      } catch (e2) {
        ack(m, message(batch.length === 1 ? e : e2));
      }
    }
  }
  // What arrived meanwhile, or did not fit: a full transaction's worth goes now, less waits for the window again
  // (unless a reader is waiting).
  if (queue.length === 0) urgent = false;
  if (urgent || queuedRows >= TX_ROWS) drainSoon();
  else if (queue.length) timer = setTimeout(drain, TX_WAIT_MS);
}

parentPort.on("message", (m) => {
  if (m.type === "drain") {
    if (queue.length) {
      urgent = true;
      drainSoon();
    }
    return;
  }
  m.unencodable = encode(m);
  if (m.rows.length === 0) {
    ack(m, m.unencodable);
    return;
  }
  queue.push(m);
  queuedRows += m.rows.length;
  if (queuedRows >= TX_ROWS) drainSoon();
  else if (!timer && !immediate) timer = setTimeout(drain, TX_WAIT_MS);
});
