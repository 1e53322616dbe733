// bench/last-seen.ts — prints JSON: how long a batch of last-seen writes holds the embedded store's event loop.
// On SQLite every write runs on the event loop (better-sqlite3 is synchronous), so while a batch is written no session
// check is answered; with many distinct sessions a store notes hundreds to thousands of sessions a second, and this
// stall was the p99 of the distinct-session benchmark (docs/benchmarks.md).
//   baseline: a statement per session, 1,000 per synced transaction, in a plain transaction.
//   current:  the session service's own flush (src/sessions/last-seen.ts): on the embedded store the batch goes to a
//             writer thread that owns the last-seen file, so the event loop only posts it and waits. Earlier variants
//             on the event loop (a statement per session through an uncounted transaction; one json_each statement per
//             100 sessions, unsynced, which halved the CPU but held the loop far longer) are in docs/benchmarks.md.
// For each, BENCH_ROUNDS rounds (interleaved) of BENCH_NOTED sessions (default 2,000) out of BENCH_SESSIONS (default
// 20,000): the longest event-loop stall (perf_hooks monitorEventLoopDelay, 1 ms resolution), the flush's wall time and
// its CPU time.
// Run: npm run bench:last-seen
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { loadSessions } from "./session-loader.ts";

const N = Number(process.env.BENCH_SESSIONS ?? 20_000);
const NOTED = Number(process.env.BENCH_NOTED ?? 2_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const loadAverageAtStart = os.loadavg().map((x) => Number(x.toFixed(2)));

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mamori-last-seen-"));
let offset = 0;
const app = await buildApp(
  loadConfig({
    ...process.env,
    MAMORI_DATA_DIR: dataDir,
    MAMORI_DISPATCHER: "off",
    MAMORI_FAST_HASH: "1",
    // This bench flushes by hand: the writer's timer must not write a round's sessions behind its back.
    MAMORI_SESSION_LAST_SEEN_FLUSH_MS: "3600000",
  }),
  { clock: { now: () => Date.now() + offset } },
);
if (app.database.dialect !== "sqlite") throw new Error("bench/last-seen.ts measures the embedded store");
const { tokensFile } = await loadSessions(app, N, dataDir);
const tokens = fs.readFileSync(tokensFile, "utf8").split("\n").filter(Boolean);
const db = app.database.db;

type Sample = { stallMs: number; wallMs: number; cpuMs: number };
async function timed(run: () => Promise<void>): Promise<Sample> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  // Let the monitor's timer start before the write begins.
  await new Promise((r) => setTimeout(r, 5));
  h.enable();
  const c0 = process.cpuUsage();
  const w0 = performance.now();
  await run();
  const wallMs = performance.now() - w0;
  const c = process.cpuUsage(c0);
  await new Promise((r) => setTimeout(r, 5));
  h.disable();
  return { stallMs: h.max / 1e6, wallMs, cpuMs: (c.user + c.system) / 1000 };
}

const pick = (round: number) => {
  const out: string[] = [];
  for (let i = 0; i < NOTED; i++) out.push(tokens[(round * 7919 + i * 104729) % tokens.length] as string);
  return out;
};

// The old write, kept here as the baseline: a statement per session, 1,000 sessions per synced transaction.
async function baseline(ids: string[], at: number): Promise<void> {
  for (let i = 0; i < ids.length; i += 1000) {
    await db.transaction().execute(async (tx) => {
      for (const id of ids.slice(i, i + 1000)) {
        await tx
          .updateTable("sessions")
          .set({ last_seen_at: at })
          .where("id", "=", id)
          .where("last_seen_at", "<", at)
          .execute();
      }
    });
  }
}

const results: Record<string, Sample[]> = { baseline: [], current: [] };
for (let round = 0; round < ROUNDS; round++) {
  for (const target of round % 2 === 0 ? ["baseline", "current"] : ["current", "baseline"]) {
    // Two minutes later each time: every picked session is past the once-a-minute touch gap again.
    offset += 120_000;
    const chosen = pick(round * 2 + (target === "current" ? 1 : 0));
    if (target === "current") {
      // The real path: each check notes the session's time (sessions/service.ts `checked`); the flush writes them.
      for (const t of chosen) if (!(await app.sessions.lookup(t))) throw new Error("a loaded session is not live");
      results.current!.push(await timed(() => app.sessions.flushLastSeen()));
    } else {
      const ids: string[] = [];
      for (const t of chosen) {
        const s = await app.sessions.lookup(t);
        if (!s) throw new Error("a loaded session is not live");
        ids.push(s.id);
      }
      // The checks above noted these sessions too; write them the old way, then let the service's flush find
      // nothing newer to write (its guarded update changes no row).
      const at = Date.now() + offset;
      results.baseline!.push(await timed(() => baseline(ids, at)));
      await app.sessions.flushLastSeen();
    }
  }
}

const summary = (xs: Sample[]) => {
  const r = (v: number) => Math.round(v * 10) / 10;
  const med = (k: keyof Sample) => r([...xs].sort((a, b) => a[k] - b[k])[Math.floor(xs.length / 2)]![k]);
  return {
    maxStallMs: r(Math.max(...xs.map((x) => x.stallMs))),
    medianStallMs: med("stallMs"),
    medianWallMs: med("wallMs"),
    medianCpuMs: med("cpuMs"),
  };
};
process.stdout.write(
  `${JSON.stringify(
    {
      bench: "last-seen",
      sessions: N,
      notedPerRound: NOTED,
      rounds: ROUNDS,
      baseline: summary(results.baseline!),
      current: summary(results.current!),
      loadAverageAtStart,
      loadAverageAtEnd: os.loadavg().map((x) => Number(x.toFixed(2))),
    },
    null,
    2,
  )}\n`,
);
await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });
