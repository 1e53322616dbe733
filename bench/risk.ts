/**
 * Login scoring in process: the Freeman RBA score (src/risk/rba.ts) over a generated history of realistic size.
 * Prints JSON. Run: npm run bench:risk  (BENCH_USERS, BENCH_DAYS, BENCH_SEED to change the history).
 */
import { generateLogins } from "../src/risk/generate.ts";
import { RbaHistory } from "../src/risk/rba.ts";

const users = Number(process.env.BENCH_USERS ?? 20_000);
const days = Number(process.env.BENCH_DAYS ?? 50);
const seed = Number(process.env.BENCH_SEED ?? 1);

let t = performance.now();
const rows = generateLogins({ users, days, seed });
const generateMs = performance.now() - t;

// The first 90 % (successful logins) become the history; the last 10 % are the logins scored.
const split = Math.floor(rows.length * 0.9);
const history = new RbaHistory();
t = performance.now();
for (let i = 0; i < split; i++) if (rows[i]!.success) history.add(rows[i]!);
const loadMs = performance.now() - t;
const queries = rows.slice(split);

// Warm-up so the JIT has compiled the scorer before timing.
for (let i = 0; i < Math.min(20_000, queries.length); i++) history.score(queries[i]!);

const latencies = new Float64Array(queries.length);
let sink = 0;
const start = performance.now();
for (let i = 0; i < queries.length; i++) {
  const s = process.hrtime.bigint();
  sink += history.score(queries[i]!).score > 1 ? 1 : 0;
  latencies[i] = Number(process.hrtime.bigint() - s) / 1e3; // µs
}
const elapsedMs = performance.now() - start;
latencies.sort();
const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;

console.log(
  JSON.stringify(
    {
      bench: "rba-score-in-process",
      node: process.version,
      history: {
        logins: history.size,
        users: history.userCount,
        generateMs: Math.round(generateMs),
        loadMs: Math.round(loadMs),
      },
      scored: queries.length,
      decisionsPerSec: Math.round(queries.length / (elapsedMs / 1000)),
      p50Us: Number(q(0.5).toFixed(2)),
      p99Us: Number(q(0.99).toFixed(2)),
      maxUs: Number(latencies[latencies.length - 1]!.toFixed(2)),
      heapMB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
      aboveOne: sink,
    },
    null,
    2,
  ),
);
