// bench/introspect.ts — prints JSON:
//   HTTP introspectSession vs a bare Fastify route (same run, same load: 50 connections, 3 s warm-up each, then
//   BENCH_ROUNDS alternating rounds of BENCH_SECONDS/BENCH_ROUNDS s per target; each target in its own process;
//   req/s are means over the rounds, p50/p99 the worst round's). Sessions as a store's users make them: each request
//   checks one of BENCH_SESSIONS distinct live sessions (default 10,000; 100000 and 1000000 for the scale runs),
//   picked uniformly, or by a Zipf law (s = 1: a few users very active, most rarely); and, for comparison, one hot
//   token (what earlier runs measured).
//   in-process introspection ops/s, and sign-in latency with production argon2id parameters.
// Run: npm run bench   (MAMORI_DATABASE_URL=postgres://… for the PostgreSQL store; BENCH_SECONDS to change 10;
//   BENCH_STORE_DIR=dir to build the embedded store there once and reuse it in later runs, as for the 1M store;
//   BENCH_BASELINE=/work/main to measure that checkout's build in the same rounds, see below)
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import autocannon from "autocannon";
import { sql } from "kysely";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { openStore } from "../src/store.ts";
import { signUpInProcess } from "../src/testing/signup.ts";

const loadAverageAtStart = os.loadavg().map((x) => Number(x.toFixed(2)));
const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;

// On 2 cores the load generator and the server compete; left to the scheduler, the same target measured 21k–40k
// req/s from run to run. Pinned (load generator on CPU 0, each server on CPU 1), both targets get the same one core.
// BENCH_PIN=0 turns it off.
const PIN =
  process.env.BENCH_PIN !== "0" &&
  os.cpus().length >= 2 &&
  spawnSync("taskset", ["-pc", "0", String(process.pid)], { stdio: "ignore" }).status === 0;

async function child(
  mode: string,
  from?: { cwd: string; storeDir: string | undefined },
): Promise<{ info: Record<string, string | number>; stop: () => void }> {
  const cmd = [process.execPath, "--import", "tsx", "bench/server.ts", mode];
  const [file, ...args] = PIN ? ["taskset", "-c", "1", ...cmd] : cmd;
  const proc = spawn(file as string, args, {
    stdio: ["ignore", "pipe", "inherit"],
    ...(from ? { cwd: from.cwd } : {}),
    env: from ? { ...process.env, BENCH_STORE_DIR: from.storeDir } : process.env,
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once("line", resolve);
    proc.once("exit", (c) => reject(new Error(`${mode} server exited ${c}`)));
  });
  return { info: { ...JSON.parse(line), pid: proc.pid! }, stop: () => proc.kill("SIGTERM") };
}

type Run = {
  reqPerSec: number;
  p50ms: number;
  p99ms: number;
  non2xx: number;
  errors: number;
  /** the server process's CPU time (all its threads) per answered request: on a busy machine req/s fall with the
   * share of the cores the server gets, this much less (Linux /proc; null elsewhere) */
  serverCpuUsPerReq: number | null;
};

/** A process's CPU time so far (user + system, every thread), in µs; null without /proc. */
function cpuUs(pid: number | undefined): number | null {
  if (pid === undefined) return null;
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = f.slice(f.lastIndexOf(")") + 2).split(" ");
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 a second on Linux)
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return null;
  }
}

/** A token per request: fixed (hot), or drawn from the list uniformly or by a Zipf law. */
type Pick = (() => string) | null;

async function measure(
  url: string,
  headers: Record<string, string>,
  body: string,
  seconds: number,
  pick: Pick = null,
  pid?: number,
): Promise<Run> {
  const cpu0 = cpuUs(pid);
  const r = await autocannon({
    url,
    method: "POST",
    connections: CONNECTIONS,
    duration: seconds,
    headers,
    body,
    ...(pick
      ? {
          requests: [
            {
              method: "POST",
              setupRequest: (req: autocannon.Request) => ({ ...req, body: JSON.stringify({ token: pick() }) }),
            },
          ],
        }
      : {}),
  } as autocannon.Options);
  const cpu1 = cpuUs(pid);
  const answered = r.requests.total;
  return {
    reqPerSec: r.requests.average,
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    serverCpuUsPerReq: cpu0 !== null && cpu1 !== null && answered > 0 ? Math.round((cpu1 - cpu0) / answered) : null,
  };
}

/** Zipf (s = 1) over n ranks: the cumulative weights once, then a binary search per draw. */
function zipfPicker(tokens: string[]): () => string {
  const n = tokens.length;
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / (i + 1);
    cdf[i] = sum;
  }
  return () => {
    const u = Math.random() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return tokens[lo]!;
  };
}

const json = { "content-type": "application/json" };

// Both targets run side by side and are measured in alternating rounds: this machine's throughput drifts by ±25 %
// over seconds (the bare route alone measured 41k–63k req/s in consecutive 4 s windows), so measuring one target
// after the other would compare two different machines. Each round measures bare, then Mamori, back to back.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_SECONDS = Math.max(1, Math.round(DURATION / ROUNDS));
// BENCH_BASELINE=<another checkout> (e.g. /work/main) runs that checkout's Mamori too, measured in the same rounds, so
// a change is compared with the build before it on the same machine at the same minute. On a kept store it needs a
// store of its own (BENCH_BASELINE_STORE_DIR, e.g. a copy of BENCH_STORE_DIR): a store migrated by the newer build
// is refused by the older one.
const BASELINE = process.env.BENCH_BASELINE ? path.resolve(process.env.BENCH_BASELINE) : null;
if (BASELINE && process.env.BENCH_STORE_DIR && !process.env.BENCH_BASELINE_STORE_DIR)
  throw new Error("BENCH_BASELINE with BENCH_STORE_DIR needs BENCH_BASELINE_STORE_DIR");
const bare = await child("bare");
const m = await child("mamori");
const base = BASELINE ? await child("mamori", { cwd: BASELINE, storeDir: process.env.BENCH_BASELINE_STORE_DIR }) : null;
const bareTarget = [`http://127.0.0.1:${bare.info.port}/bare`, json, JSON.stringify({ token: "x" })] as const;

type Target = { target: readonly [string, Record<string, string>, string]; uniform: Pick; zipf: Pick; pid: number };
async function mamoriTarget(info: Record<string, string | number>): Promise<Target> {
  const target = [
    `http://127.0.0.1:${info.port}/v1/sessions/introspect`,
    { ...json, authorization: `Bearer ${info.key}` },
    JSON.stringify({ token: info.token }),
  ] as const;
  const tokens = fs.readFileSync(String(info.tokensFile), "utf8").trim().split("\n");
  const uniform: Pick = () => tokens[Math.floor(Math.random() * tokens.length)]!;
  // {"active":false} is a 200 too: make sure the loaded sessions are live, or the figures measure refusals.
  for (let i = 0; i < 20; i++) {
    const r = await fetch(target[0], {
      method: "POST",
      headers: target[1],
      body: JSON.stringify({ token: uniform() }),
    });
    if (!((await r.json()) as { active?: boolean }).active) throw new Error("a loaded session is not active");
  }
  return { target, uniform, zipf: zipfPicker(tokens), pid: Number(info.pid) };
}
const mt = await mamoriTarget(m.info);
const bt = base ? await mamoriTarget(base.info) : null;
// Warm-up (JIT, connection setup) is not measured, for any target.
await measure(...bareTarget, 3);
await measure(...mt.target, 3, mt.uniform);
if (bt) await measure(...bt.target, 3, bt.uniform);
// Then a flush interval, so the warm-ups' last-seen times are written (and each server's writer thread started) before
// any measured round: all servers share the pinned core, and the first flush after a warm-up (~60,000 sessions at a
// million) landed in the next target's first round — the bare route's, or with BENCH_BASELINE the other build's,
// whose first uniform round then measured ~0.27 of the bare route against 0.5–0.7 in its others (2026-12-05).
await new Promise((r) => setTimeout(r, loadConfig(process.env).sessionLastSeenFlushMs + 1000));
type Modes = { uniform: Run; zipf: Run; hot: Run };
const modes = async (t: Target): Promise<Modes> => ({
  uniform: await measure(...t.target, ROUND_SECONDS, t.uniform, t.pid),
  zipf: await measure(...t.target, ROUND_SECONDS, t.zipf, t.pid),
  hot: await measure(...t.target, ROUND_SECONDS, null, t.pid),
});
const rounds: ({ bare: Run } & Modes)[] = [];
const baseRounds: Modes[] = [];
for (let i = 0; i < ROUNDS; i++) {
  const b = await measure(...bareTarget, ROUND_SECONDS, null, Number(bare.info.pid));
  // Which build goes first alternates, so neither always follows the bare route.
  if (bt && i % 2 === 1) baseRounds.push(await modes(bt));
  rounds.push({ bare: b, ...(await modes(mt)) });
  if (bt && i % 2 === 0) baseRounds.push(await modes(bt));
}
bare.stop();
m.stop();
base?.stop();
const summarize = (runs: Run[]) => ({
  reqPerSec: Math.round(runs.reduce((a, r) => a + r.reqPerSec, 0) / runs.length),
  p50ms: Math.max(...runs.map((r) => r.p50ms)),
  p99ms: Math.max(...runs.map((r) => r.p99ms)),
  non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
  errors: runs.reduce((a, r) => a + r.errors, 0),
  serverCpuUsPerReq: runs.every((r) => r.serverCpuUsPerReq !== null)
    ? Math.round(runs.reduce((a, r) => a + r.serverCpuUsPerReq!, 0) / runs.length)
    : null,
});
const bareResult = summarize(rounds.map((r) => r.bare));
const distinct = (k: "uniform" | "zipf" | "hot", of: Modes[] = rounds) => {
  const runs = of.map((r) => r[k]);
  const sum = summarize(runs);
  return {
    ...sum,
    ratioOfBare: Number((sum.reqPerSec / bareResult.reqPerSec).toFixed(3)),
    roundRatios: rounds.map((r, i) => Number((of[i]![k].reqPerSec / r.bare.reqPerSec).toFixed(3))),
  };
};

// In process: the service call without HTTP, and sign-in latency (BENCH_HTTP_ONLY=1 leaves both out).
async function inProcess() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mamori-bench-"));
  const inprocConfig = loadConfig({ ...process.env, MAMORI_DATA_DIR: dataDir, MAMORI_DISPATCHER: "off" });
  // On PostgreSQL, a schema of this run's own: the risk engine's population statistics in a shared database (other runs'
  // and other benchmarks' sign-ins) made this account's second sign-in look unlike its history, and it was challenged.
  const inprocSchema = `bench_${Math.random().toString(36).slice(2, 10)}`;
  const inprocDb = inprocConfig.databaseUrl
    ? openStore({ dataDir, databaseUrl: inprocConfig.databaseUrl, pgSchema: inprocSchema })
    : undefined;
  await inprocDb?.migrate();
  const app = await buildApp(inprocConfig, inprocDb ? { database: inprocDb } : {});
  // One device (the store's device cookie) on many addresses of one network: a known device signs straight in.
  const ctx = (i: number) => ({
    ip: `133.0.${(i >> 8) & 255}.${i & 255}`,
    userAgent: "Mozilla/5.0 Chrome/120.0",
    deviceId: "bench-device",
    channel: "web" as const,
  });
  const password = "amber lantern drifts past quiet harbors 47";
  const inprocEmail = `inproc-${Date.now()}@example.jp`;
  const created = await signUpInProcess(app, { email: inprocEmail, password, context: ctx(1) });
  const N = 50_000;
  for (let i = 0; i < 1000; i++) await app.sessions.introspect(created.session.token);
  let t0 = performance.now();
  for (let i = 0; i < N; i++) await app.sessions.introspect(created.session.token);
  const inProcessOpsPerSec = Math.round(N / ((performance.now() - t0) / 1000));

  // Sign-in with production argon2id (m=19456, t=2, p=1), sequential, distinct IPs so no rate limit applies.
  const lat: number[] = [];
  for (let i = 0; i < 200; i++) {
    t0 = performance.now();
    const r = await app.identity.signIn({ email: inprocEmail, password, context: ctx(i + 2) });
    lat.push(performance.now() - t0);
    if (r.status !== "signed_in") throw new Error(`sign-in failed: ${JSON.stringify(r).slice(0, 300)}`);
  }
  lat.sort((a, b) => a - b);
  const q = (p: number) => Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!.toFixed(2));
  await app.close();
  if (inprocDb) {
    await sql`drop schema ${sql.id(inprocSchema)} cascade`.execute(inprocDb.db);
    await inprocDb.close();
  }
  fs.rmSync(dataDir, { recursive: true, force: true });
  return {
    inProcessIntrospectionOpsPerSec: inProcessOpsPerSec,
    signInLatencyMs: { n: lat.length, p50: q(0.5), p99: q(0.99), argon2: "argon2id m=19456 t=2 p=1" },
  };
}
const inProcessResult = process.env.BENCH_HTTP_ONLY === "1" ? {} : await inProcess();

const result = {
  machine: {
    cpus: os.cpus().length,
    node: process.version,
    store: String(m.info.store),
    pinned: PIN,
    // 1/5/15-minute load averages: on a shared machine, what else was running
    loadAverage: { atStart: loadAverageAtStart, atEnd: os.loadavg().map((x) => Number(x.toFixed(2))) },
  },
  load: { connections: CONNECTIONS, rounds: ROUNDS, secondsPerRoundPerTarget: ROUND_SECONDS },
  sessions: {
    distinct: m.info.sessions,
    // last-seen times spread over the minute before the run (session-loader.ts): sessions cross the once-a-minute
    // last-seen threshold throughout the measurement, as in a store's steady state
    lastSeenSpreadSeconds: m.info.storeReused ? null : 60,
    // BENCH_STORE_DIR: a store built by an earlier run; its sessions were last seen then, so every first check notes
    storeReused: m.info.storeReused,
    loadSeconds: m.info.loadSeconds,
    diskBytesPerAccountWithSession: m.info.diskBytesPerAccountWithSession,
    serverRssGrowthMiB: m.info.rssGrowthMiB,
    // the server's warm-up (server.ts): live sessions loaded into memory before listening; its time and RSS growth
    keptRowsWarm: (m.info as Record<string, unknown>).keptRowsWarm ?? null,
  },
  bareRoute: bareResult,
  introspectUniform: distinct("uniform"),
  introspectZipf: distinct("zipf"),
  introspectOneHotToken: distinct("hot"),
  ...(BASELINE
    ? {
        baseline: {
          checkout: BASELINE,
          introspectUniform: distinct("uniform", baseRounds),
          introspectZipf: distinct("zipf", baseRounds),
          introspectOneHotToken: distinct("hot", baseRounds),
        },
      }
    : {}),
  ...inProcessResult,
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
