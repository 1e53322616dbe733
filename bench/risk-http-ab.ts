// bench/risk-http-ab.ts — prints JSON: the assess route of two builds side by side in one run, over copies of one
// prepared `bench:risk-http` store: this checkout (B) and a baseline checkout (A, BENCH_BASE), each serving from its
// own process (`bench/risk-http.ts serve`), loaded in turn A, B, B, A, A, B, … at BENCH_RATE requests/s (bench/paced.ts)
// with the same requests in the same order, so pass k of each build decides the same events over the same counters.
// Per pass and build: completed/s, p50/p99, and the server's CPU a request on its main thread and on its other
// threads (/proc), with the B/A ratio of the main thread's. A shared machine moves the absolute figures; the ratios of
// interleaved passes are what a change is judged by.
// Run: BENCH_DIR=<prepared store> BENCH_BASE=<checkout of the baseline> node --import tsx bench/risk-http-ab.ts
//   (BENCH_PASSES 4, BENCH_RATE 2000, BENCH_SECONDS 10; BENCH_PROFILE=<dir>: both servers run with --cpu-prof, into
//   <dir>/A and <dir>/B; BENCH_NODE_ARGS_A / BENCH_NODE_ARGS_B: node options for one build's server)
import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { pacedInChild } from "./paced.ts";
import { type BenchData, deviceOf } from "./risk-data.ts";
import { cpuPerRequest, threadCpuNs } from "./thread-cpu.ts";

const dir = process.env.BENCH_DIR;
const base = process.env.BENCH_BASE;
if (!dir || !base)
  throw new Error("BENCH_DIR (a prepared bench:risk-http store) and BENCH_BASE (a checkout) are needed");
const PASSES = Number(process.env.BENCH_PASSES ?? 4);
const RATE = Number(process.env.BENCH_RATE ?? 2000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const PROFILE = process.env.BENCH_PROFILE;
// Node options of one build's server only (e.g. a V8 heap flag tried against the same code: BENCH_BASE=. and
// BENCH_NODE_ARGS_B="--max-semi-space-size=64").
const nodeArgsA = (process.env.BENCH_NODE_ARGS_A ?? "").split(" ").filter(Boolean);
const nodeArgsB = (process.env.BENCH_NODE_ARGS_B ?? "").split(" ").filter(Boolean);
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** A copy of the store per build (each server writes its own decision log and API key), without the old log. */
function copyStore(to: string) {
  fs.rmSync(to, { recursive: true, force: true });
  fs.mkdirSync(to, { recursive: true });
  for (const f of fs.readdirSync(dir!)) {
    if (f.startsWith("mamori.decisions.sqlite")) continue;
    fs.copyFileSync(path.join(dir!, f), path.join(to, f));
  }
}

async function serve(root: string, dataDir: string, name: string) {
  const args = [
    // One profile per thread (the main thread's is the largest), in a folder per build.
    ...(PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${path.join(PROFILE, name)}`] : []),
    "--import",
    "tsx",
    "bench/risk-http.ts",
    "serve",
    dataDir,
  ];
  const proc = spawn(process.execPath, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"], env: process.env });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: proc.stdout! }).once("line", resolve);
    proc.once("exit", (c) => reject(new Error(`${name} exited ${c}`)));
  });
  const info = JSON.parse(line) as { port: number; key: string };
  const exited = new Promise((r) => proc.once("exit", r));
  const stop = () => {
    proc.kill("SIGTERM");
    return exited;
  };
  return { ...info, pid: proc.pid!, stop };
}

const data = JSON.parse(fs.readFileSync(path.join(dir, "bench-queries.json"), "utf8")) as BenchData;
const bodies = data.queries.slice(0, 2000).map((r) =>
  JSON.stringify({
    type: "login",
    accountId: r.userId,
    context: { ip: r.ip, userAgent: r.userAgent, deviceId: deviceOf(r), channel: "web" },
  }),
);
const copies = { A: `${dir}-abA`, B: `${dir}-abB` };
copyStore(copies.A);
copyStore(copies.B);
const servers = { A: await serve(base, copies.A, "A"), B: await serve(here, copies.B, "B") };

const pass = async (which: "A" | "B", warmUpSeconds: number) => {
  const s = servers[which];
  let before = new Map<number, number>();
  const r = await pacedInChild(
    {
      url: `http://127.0.0.1:${s.port}/v1/risk/assess`,
      headers: { "content-type": "application/json", authorization: `Bearer ${s.key}` },
      bodies,
      rate: RATE,
      seconds: SECONDS,
      warmUpSeconds,
    },
    () => {
      before = threadCpuNs(s.pid);
    },
  );
  const cpu = cpuPerRequest(s.pid, before, Math.max(1, r.completed));
  return { ...r, ...(cpu ?? { mainThreadUs: 0, otherThreadsUs: 0 }) };
};

const passes: Record<string, unknown>[] = [];
for (let i = 0; i < PASSES; i++) {
  // A then B on even passes, B then A on odd ones (A B B A A B …): whichever runs second shares the machine with the
  // first one's leftovers (its writer thread's last transaction, its GC), so neither build is always second.
  const warm = i < 2 ? 3 : 0;
  let a: Awaited<ReturnType<typeof pass>>;
  let b: Awaited<ReturnType<typeof pass>>;
  if (i % 2 === 0) {
    a = await pass("A", warm);
    b = await pass("B", warm);
  } else {
    b = await pass("B", warm);
    a = await pass("A", warm);
  }
  const row = (x: typeof a) => ({
    completedPerSec: x.reqPerSec,
    p50ms: x.p50ms,
    p99ms: x.p99ms,
    non2xx: x.non2xx,
    errors: x.errors,
    mainThreadUs: x.mainThreadUs,
    otherThreadsUs: x.otherThreadsUs,
  });
  passes.push({
    pass: i + 1,
    order: i % 2 === 0 ? "AB" : "BA",
    A: row(a),
    B: row(b),
    mainRatioBtoA: Number((b.mainThreadUs / a.mainThreadUs).toFixed(3)),
  });
  process.stderr.write(`${JSON.stringify(passes[passes.length - 1])}\n`);
}
await servers.A.stop();
await servers.B.stop();
for (const c of Object.values(copies)) fs.rmSync(c, { recursive: true, force: true });
const mean = (k: "A" | "B") =>
  Number((passes.reduce((s, p) => s + (p[k] as { mainThreadUs: number }).mainThreadUs, 0) / passes.length).toFixed(1));
process.stdout.write(
  `${JSON.stringify({ rate: RATE, seconds: SECONDS, base, nodeArgsA, nodeArgsB, passes, meanMainThreadUs: { A: mean("A"), B: mean("B") } }, null, 2)}\n`,
);
