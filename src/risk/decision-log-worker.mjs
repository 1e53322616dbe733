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

parentPort.on("message", (m) => {
  try {
    insertAll(m.rows);
    parentPort.postMessage({ type: "ack", seq: m.seq });
  } catch (e) {
    parentPort.postMessage({ type: "ack", seq: m.seq, error: String(e instanceof Error ? e.message : e) });
  }
});
