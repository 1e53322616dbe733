/**
 * Login scoring in process over a generated history of realistic size: the Freeman RBA score (src/risk/rba.ts) alone —
 * the baseline — and, in the same run on the same logins, Freeman plus the takeover model (ato-model.ts: its signals
 * and score), which is what a login decision now computes. Prints JSON.
 * Run: npm run bench:risk  (BENCH_USERS, BENCH_DAYS, BENCH_SEED to change the history).
 */
import { AtoHistory, atoVector, SourceWindow, scoreAto } from "../src/risk/ato-model.ts";
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
const ato = new AtoHistory();
const sources = new SourceWindow();
t = performance.now();
for (let i = 0; i < split; i++) {
  const r = rows[i]!;
  if (r.success) history.add(r);
}
const loadMs = performance.now() - t;
t = performance.now();
for (let i = 0; i < split; i++) {
  const r = rows[i]!;
  if (r.success) ato.add(r, r.at);
  else sources.recordFailure(r.ip, r.userId, r.at);
}
const atoLoadMs = performance.now() - t;
const queries = rows.slice(split);
// The address's failures in the last hour, read before timing: the live decision has them from the snapshot it
// already makes, so the model's own cost is the signals and the score.
const sourceOf = queries.map((r) => {
  const a = sources.activity(r.ip, r.at);
  if (!r.success) sources.recordFailure(r.ip, r.userId, r.at);
  return a;
});

function run(name: string, score: (i: number) => number) {
  // Warm-up so the JIT has compiled the scorer before timing.
  for (let i = 0; i < Math.min(20_000, queries.length); i++) score(i);
  const latencies = new Float64Array(queries.length);
  let sink = 0;
  const start = performance.now();
  for (let i = 0; i < queries.length; i++) {
    const s = process.hrtime.bigint();
    sink += score(i) > 1 ? 1 : 0;
    latencies[i] = Number(process.hrtime.bigint() - s) / 1e3; // µs
  }
  const elapsedMs = performance.now() - start;
  latencies.sort();
  const q = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))]!;
  return {
    name,
    decisionsPerSec: Math.round(queries.length / (elapsedMs / 1000)),
    p50Us: Number(q(0.5).toFixed(2)),
    p99Us: Number(q(0.99).toFixed(2)),
    maxUs: Number(latencies[latencies.length - 1]!.toFixed(2)),
    aboveOne: sink,
  };
}

const freeman = (i: number) => history.quickScore(queries[i]!).score;
const both = (i: number) => {
  const r = queries[i]!;
  const f = history.quickScore(r).score;
  // The live decision reads the previous sign-in from the store's snapshot; here from memory, as the backtest does.
  const x = atoVector({
    login: r,
    at: r.at,
    rba: history,
    history: ato,
    previous: ato.previous(r.userId),
    source: sourceOf[i]!,
  });
  return x ? scoreAto(x).score + (f > 1 ? 1 : 0) : f;
};
// Interleaved twice (baseline, new, baseline, new) so a machine slowing down mid-run shows as a baseline change.
const results = [run("freeman (baseline)", freeman), run("freeman + takeover model", both)];
results.push(run("freeman (baseline, again)", freeman), run("freeman + takeover model (again)", both));

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
        atoLoadMs: Math.round(atoLoadMs),
      },
      scored: queries.length,
      heapMB: Math.round(process.memoryUsage().heapUsed / 2 ** 20),
      results,
    },
    null,
    2,
  ),
);
