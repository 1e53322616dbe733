// Sessions' last-seen times, written in batches off the request path (issue 18). A check that finds a session's
// last-seen older than the touch gap notes the time of that request here (a map write) and answers; a timer writes
// everything noted, at most every `flushMs`, in one transaction (SQLite) or one statement (PostgreSQL).
//
// What it may cost, and why that is safe:
// - The time written is the noted request's own time, never the flush's: a session is never recorded as seen later
//   than it was, so batching cannot keep an idle session alive (the idle limit still counts from a real request).
// - Until written, the time is known only to this process; the session service merges it (`pending`), so this node
//   judges idleness from the latest request it served. Another node sees the older stored time: the session looks
//   more idle there, never less (a refusal, never an acceptance), for at most `flushMs` beyond the touch gap.
// - A crash loses what was noted in the last `flushMs` (by default 5 s): those sessions look idle since the time
//   written before, at most touch gap + `flushMs` earlier than their real last request. Again only toward a refusal.
//   5 s, not 1: a time is written at most once a minute per session anyway, and with many distinct sessions each row
//   of a flush dirties a page of its own, so a flush five times larger shares pages and costs about half as much a
//   row (docs/benchmarks.md); against idle limits of 14 days (15 minutes for staff), 4 s more is nothing.
// - A failed write (the database away) keeps the times and retries; past MAX_PENDING sessions new notes are dropped,
//   which again only makes sessions look more idle.
// - Revocation does not pass through here: it is its own committed write, and a late last-seen write cannot undo it
//   (it sets only last_seen_at, and only forward).

import { Worker } from "node:worker_threads";
import type { SideFile } from "../db/database.ts";
import { pollOnce } from "../shared/clock.ts";

/** How long a noted last-seen time may wait before it is written, by default (ms). */
export const LAST_SEEN_FLUSH_MS = 5000;
/** Sessions whose time may wait at once; past it a note is dropped (the session then only looks more idle). ~100 B
 * each; room for 5 s of 100,000 first checks a second. */
const MAX_PENDING = 500_000;
/** Sessions per write (one SQLite transaction or one PostgreSQL statement each). */
const CHUNK = 1000;
/** Sessions a flush's own loops go through between polls of the event loop (~1–2 ms of work). */
export const SLICE = 4096;

/**
 * A batch of last-seen times as two columns, session `ids[i]` seen at `ats[i]`. Columns, not `[id, at]` pairs: a
 * worker message clones every object it holds through V8's serializer, which records each in an identity map, and
 * posting a flush as pairs cost ~2.5–3 µs a session on the event loop, as columns (an array of strings, a typed
 * array) ~0.1–0.2 µs (docs/benchmarks.md); the writer thread reads them back the same way.
 */
export interface LastSeenBatch {
  ids: readonly string[];
  ats: ArrayLike<number>;
}

export interface LastSeenWriter {
  /** Session `id` was seen live at `at`. Never waits. */
  note(id: string, at: number): void;
  /** The time noted for `id` and not yet written, or 0. */
  pending(id: string): number;
  /** Writes everything noted so far (the timer's job; tests and shutdown call it too). */
  flush(): Promise<void>;
  /** Stops the timer after a last flush. */
  close(): Promise<void>;
}

export function createLastSeenWriter(deps: {
  /** Writes the batch, each session's time only moved forward (sessionStore.advanceLastSeen). */
  write: (seen: LastSeenBatch) => Promise<void>;
  flushMs?: number | undefined;
  /** sessions per `write` call (default CHUNK; Infinity: the whole flush, for a writer that splits it itself) */
  chunk?: number | undefined;
  onError?: ((e: unknown) => void) | undefined;
}): LastSeenWriter {
  const flushMs = deps.flushMs ?? LAST_SEEN_FLUSH_MS;
  const chunk = deps.chunk ?? CHUNK;
  const noted = new Map<string, number>();
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let closed = false;

  const schedule = () => {
    if (timer || closed || noted.size === 0) return;
    timer = setTimeout(() => {
      timer = null;
      flush().catch((e) => deps.onError?.(e));
    }, flushMs);
    // A pending write does not keep a process alive; close() writes what is left.
    timer.unref();
  };

  // The loops over a whole flush (100,000 sessions and more at a million distinct sessions) let the event loop poll
  // every SLICE sessions: done in one go, taking the batch and forgetting it held the loop ~50 ms a flush at 130,000
  // sessions (bench/last-seen.ts), a stall every flush that requests arriving at a steady rate would queue behind.
  async function writeAll(): Promise<void> {
    const ids: string[] = [];
    const ats: number[] = [];
    // The sessions noted when the flush began; those noted meanwhile may join (a later time is only more recent).
    const n = noted.size;
    const entries = noted.entries();
    for (let e = entries.next(); !e.done && ids.length < n; e = entries.next()) {
      ids.push(e.value[0]);
      ats.push(e.value[1]);
      if (ids.length % SLICE === 0) await pollOnce();
    }
    for (let i = 0; i < ids.length; i += chunk)
      await deps.write(
        i === 0 && chunk >= ids.length ? { ids, ats } : { ids: ids.slice(i, i + chunk), ats: ats.slice(i, i + chunk) },
      );
    // Forget only what was written and not noted again meanwhile. A failed write (thrown above) keeps every time for
    // the retry; writing a chunk twice is harmless, as a time only moves forward.
    for (let i = 0; i < ids.length; i++) {
      if (noted.get(ids[i]!) === ats[i]) noted.delete(ids[i]!);
      if ((i + 1) % SLICE === 0) await pollOnce();
    }
  }

  async function flush(): Promise<void> {
    // One write at a time: a second flush waits for the first, then writes what came after.
    while (running) await running.catch(() => {});
    if (noted.size === 0) return;
    running = writeAll().finally(() => {
      running = null;
      schedule();
    });
    await running;
  }

  return {
    note(id, at) {
      const was = noted.get(id);
      if (was === undefined && noted.size >= MAX_PENDING) return;
      if (was === undefined || at > was) noted.set(id, at);
      schedule();
    },
    pending: (id) => noted.get(id) ?? 0,
    flush,
    async close() {
      try {
        await flush();
      } finally {
        closed = true;
        if (timer) clearTimeout(timer);
        timer = null;
      }
    },
  };
}

/**
 * The embedded store keeps last-seen times in a file of its own beside the store's (`mamori.sqlite` →
 * `mamori.seen.sqlite`), written by a worker thread (createWorkerLastSeenWrite). Why not the sessions row: on the event
 * loop, the updates and their synced commit were half the cost of a check at 100k sessions (a first check a minute per
 * session), and a second connection writing the sessions file would move its `data_version`, which the session
 * service cannot tell from another process's revocation (it would drop its kept rows on every batch). The session's
 * own `last_seen_at` stays its creation time there; a reader takes the later of the two (sessionStore). The store
 * attaches the file on its read connection only (db/database.ts, SideFile).
 */
export const LAST_SEEN_SCHEMA = `create table if not exists session_last_seen (
      session_id text primary key, at bigint not null
    ) without rowid;`;

export const lastSeenSideFile: SideFile = {
  alias: "last_seen",
  path: (storeFile) => storeFile.replace(/(\.sqlite)?$/, ".seen.sqlite"),
  schema: LAST_SEEN_SCHEMA,
};

/**
 * A batch write that posts the batch to a writer thread owning the last-seen file and resolves once it is committed
 * (synchronous=FULL), or rejects (the writer keeps the notes for the next flush, createLastSeenWriter). The batch goes in
 * messages of CHUNK sessions, a turn of the event loop apart (cloning a whole flush at once would hold the loop), and
 * the thread commits them in one transaction. The thread keeps the process alive only while a batch is
 * unacknowledged; if it dies, its unacknowledged batches reject and a new thread takes the next ones.
 */
export function createWorkerLastSeenWrite(file: string): {
  write: (seen: LastSeenBatch) => Promise<void>;
  close: () => Promise<void>;
} {
  let worker: Worker | null = null;
  let seq = 0;
  const waiting = new Map<number, { resolve: () => void; reject: (e: unknown) => void }>();
  const start = (): Worker => {
    const w = new Worker(new URL("./last-seen-worker.mjs", import.meta.url), { workerData: { file } });
    w.unref();
    w.on("message", (m: { seq: number; error?: string }) => {
      const p = waiting.get(m.seq);
      waiting.delete(m.seq);
      if (waiting.size === 0) w.unref();
      if (m.error) p?.reject(new Error(`last-seen write failed: ${m.error}`));
      else p?.resolve();
    });
    const lost = (why: unknown) => {
      if (worker !== w) return;
      worker = null;
      for (const p of waiting.values()) p.reject(why);
      waiting.clear();
    };
    w.on("error", lost);
    w.on("exit", (code) => lost(new Error(`last-seen writer exited with code ${code}`)));
    return w;
  };
  return {
    async write(seen) {
      worker ??= start();
      const w = worker;
      const n = ++seq;
      const done = new Promise<void>((resolve, reject) => waiting.set(n, { resolve, reject }));
      // Handled now: the thread may die while the batch is still being posted, before `done` is awaited below.
      done.catch(() => {});
      w.ref();
      const { ids, ats } = seen;
      for (let i = 0; i < ids.length || i === 0; i += CHUNK) {
        if (i > 0) await pollOnce();
        // The thread died (or was closed) meanwhile: `done` has rejected; the notes stay for the next flush.
        if (worker !== w) break;
        const end = Math.min(i + CHUNK, ids.length);
        const times = new Float64Array(end - i);
        for (let j = i; j < end; j++) times[j - i] = ats[j]!;
        // The typed array's buffer is handed over, not copied again.
        w.postMessage({ seq: n, ids: ids.slice(i, end), ats: times, more: end < ids.length }, [times.buffer]);
      }
      await done;
    },
    async close() {
      const w = worker;
      worker = null;
      if (w) await w.terminate();
    },
  };
}
