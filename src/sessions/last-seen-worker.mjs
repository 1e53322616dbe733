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
// A flush's rows land on pages all over the file (session ids are random): room for all of them, so a flush's
// transaction writes each dirty page once at its commit instead of spilling.
db.pragma("cache_size = -65536");
// A time only moves forward: a batch landing after a later one (another process's, or a retry) changes nothing.
const upsert = db.prepare(
  `insert into session_last_seen (session_id, at) values (?, ?)
   on conflict (session_id) do update set at = excluded.at where excluded.at > session_last_seen.at`,
);
// One transaction per flush, however many messages carried it: ids are random, so each row dirties a page of its own
// and every commit writes those pages to the WAL again; a transaction of 1,000 rows cost ~26 µs of CPU a row on a
// file of a million sessions, one of 10,000 ~12 µs (docs/benchmarks.md).
const writeAll = db.transaction((parts) => {
  for (const { ids, ats } of parts) for (let i = 0; i < ids.length; i++) upsert.run(ids[i], ats[i]);
});

let parts = [];
parentPort.on("message", (m) => {
  // Two columns (last-seen.ts, LastSeenBatch): session ids, and their times in a Float64Array.
  parts.push(m);
  if (m.more) return;
  const all = parts;
  parts = [];
  try {
    writeAll(all);
    parentPort.postMessage({ seq: m.seq });
  } catch (e) {
    parentPort.postMessage({ seq: m.seq, error: String(e instanceof Error ? e.message : e) });
  }
});
