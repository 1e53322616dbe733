// The decision log's writer thread (see decision-log.ts). Plain JavaScript: a worker does not inherit the tsx loader
// that bin/mamori.js registers in the main thread. It owns the only writing connection to the decision-log file, so
// the inserts, their fsync and the file's WAL checkpoints never run on the server's event loop.
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

const { file, columns } = workerData;
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

// Messages that arrive while a transaction runs wait and go into the next one together (at most MAX_ROWS rows), so
// small messages do not mean one fsync each. If that transaction fails, each message is written on its own, so a bad
// row fails only its own message.
const MAX_ROWS = 500;
const queue = [];
let scheduled = false;
const ack = (m, error) =>
  parentPort.postMessage(error ? { type: "ack", seq: m.seq, error } : { type: "ack", seq: m.seq });
const message = (e) => String(e instanceof Error ? e.message : e);

function drain() {
  scheduled = false;
  const batch = [];
  let rows = 0;
  while (queue.length && (batch.length === 0 || rows + queue[0].rows.length <= MAX_ROWS)) {
    const m = queue.shift();
    batch.push(m);
    rows += m.rows.length;
  }
  try {
    insertAll(batch.flatMap((m) => m.rows));
    for (const m of batch) ack(m);
  } catch (e) {
    for (const m of batch) {
      try {
        insertAll(m.rows);
        ack(m);
      } catch (e2) {
        ack(m, message(batch.length === 1 ? e : e2));
      }
    }
  }
  if (queue.length && !scheduled) {
    scheduled = true;
    setImmediate(drain);
  }
}

parentPort.on("message", (m) => {
  queue.push(m);
  if (!scheduled) {
    scheduled = true;
    setImmediate(drain);
  }
});
