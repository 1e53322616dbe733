// The last-seen writer thread of the embedded store (see last-seen.ts, createWorkerLastSeenWrite). Plain JavaScript: a
// worker does not inherit the tsx loader that bin/mamori.js registers in the main thread. It owns the only writing
// connection to the last-seen file, so the row updates, their fsync and the file's WAL checkpoints never run on the
// server's event loop, and their commits never touch the sessions file (nor its data_version).
import { parentPort, workerData } from "node:worker_threads";
import Database from "better-sqlite3";

const { file } = workerData;
const db = new Database(file);
db.pragma("journal_mode = WAL");
// FULL: a batch acknowledged as written survives power loss, as the main store's commits do.
db.pragma("synchronous = FULL");
db.pragma("busy_timeout = 5000");
// A time only moves forward: a batch landing after a later one (another process's, or a retry) changes nothing.
const upsert = db.prepare(
  `insert into session_last_seen (session_id, at) values (?, ?)
   on conflict (session_id) do update set at = excluded.at where excluded.at > session_last_seen.at`,
);
const writeAll = db.transaction((rows) => {
  for (const [id, at] of rows) upsert.run(id, at);
});

parentPort.on("message", (m) => {
  try {
    writeAll(m.rows);
    parentPort.postMessage({ seq: m.seq });
  } catch (e) {
    parentPort.postMessage({ seq: m.seq, error: String(e instanceof Error ? e.message : e) });
  }
});
