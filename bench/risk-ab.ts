// bench/risk-ab.ts — prints JSON: whole decisions in process (risk.assessEvent) of two builds side by side in one run,
// over copies of one prepared `bench:risk-http` store: this checkout (B) and a baseline checkout (A, BENCH_BASE). Each
// build runs in BENCH_PROCESSES processes of its own (this file's `run` mode, importing the app from its checkout),
// each deciding a warm-up pass over the queries and then, pass by pass in the order A1 B1 A2 B2 … (reversed every
// other pass), the store's 20,000 queries one by one. Per pass and process: the main thread's CPU a decision (/proc,
// which a shared machine disturbs less than the wall clock), decisions/s, p50/p99, the decision mix, and a hash of
// every decision (decision, factor, hold, reasons, scores) — equal hashes in a pass are the proof that every process
// decided the same.
// A build's figure is the median over its processes of each process's mean (one process per build was not enough:
// on 2026-12-05 an A/A run — the same code as A and B — measured B/A 1.161, its passes 0.96–1.71).
// Run: BENCH_DIR=<prepared store> BENCH_BASE=<checkout of the baseline> node --import tsx bench/risk-ab.ts
//   (BENCH_PASSES 6, BENCH_PROCESSES 3; BENCH_A_NODE_FLAGS / BENCH_B_NODE_FLAGS: node flags for one build's
//   processes, space-separated, to compare a runtime setting on one checkout: BENCH_BASE=.
//   BENCH_B_NODE_FLAGS=--max-semi-space-size=64; an A/A run, BENCH_BASE=. alone, shows the harness's own noise)
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath, pathToFileURL } from "node:url";
import { type BenchData, deviceOf } from "./risk-data.ts";
import { threadCpuNs } from "./thread-cpu.ts";

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const self = fileURLToPath(import.meta.url);

if (process.argv[2] === "run") await run(process.argv[3]!, process.argv[4]!);
else await main();

/** One build: its app over its copy of the store, a pass per line read from stdin, a JSON line per pass. */
async function run(root: string, dataDir: string) {
  const { buildApp } = (await import(
    pathToFileURL(path.join(root, "src/app.ts")).href
  )) as typeof import("../src/app.ts");
  const { loadConfig } = (await import(
    pathToFileURL(path.join(root, "src/config.ts")).href
  )) as typeof import("../src/config.ts");
  const data = JSON.parse(fs.readFileSync(path.join(dataDir, "bench-queries.json"), "utf8")) as BenchData;
  const app = await buildApp(loadConfig({ ...process.env, MAMORI_DATA_DIR: dataDir, MAMORI_DISPATCHER: "off" }));
  const q = data.queries;
  const contexts = q.map((r) => ({ ip: r.ip, userAgent: r.userAgent, deviceId: deviceOf(r), channel: "web" as const }));
  const once = (i: number) =>
    app.risk.assessEvent({ type: "login", accountId: q[i % q.length]!.userId, context: contexts[i % q.length]! });
  // Warm-up: a whole pass over the queries. After 2,000 decisions the optimizing compiler was still at work (~1 s of
  // its helper threads' CPU during the first measured pass, on a machine of two cores), and every process's first
  // pass measured ~1.4× its later ones.
  for (let i = 0; i < q.length; i++) await once(i);
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
  const lat = new Float64Array(q.length);
  for await (const line of createInterface({ input: process.stdin })) {
    if (line !== "pass") break;
    const hash = createHash("sha256");
    const mix: Record<string, number> = {};
    const cpu0 = threadCpuNs(process.pid).get(process.pid) ?? 0;
    const t0 = performance.now();
    for (let i = 0; i < q.length; i++) {
      const t = performance.now();
      const d = await once(i);
      lat[i] = performance.now() - t;
      mix[d.decision] = (mix[d.decision] ?? 0) + 1;
      hash.update(JSON.stringify([d.decision, d.factor ?? null, d.hold, d.reasons, d.scores]));
    }
    const ms = performance.now() - t0;
    const cpu = (threadCpuNs(process.pid).get(process.pid) ?? 0) - cpu0;
    const sorted = Float64Array.from(lat).sort();
    const at = (p: number) => Number((sorted[Math.floor(p * sorted.length)]! * 1000).toFixed(1));
    process.stdout.write(
      `${JSON.stringify({
        mainThreadUs: Number((cpu / 1e3 / q.length).toFixed(1)),
        perSec: Math.round((q.length / ms) * 1000),
        p50us: at(0.5),
        p99us: at(0.99),
        mix,
        hash: hash.digest("hex").slice(0, 16),
      })}\n`,
    );
  }
  await app.close();
  process.exit(0);
}

async function main() {
  const dir = process.env.BENCH_DIR;
  const base = process.env.BENCH_BASE;
  if (!dir || !base)
    throw new Error("BENCH_DIR (a prepared bench:risk-http store) and BENCH_BASE (a checkout) are needed");
  const PASSES = Number(process.env.BENCH_PASSES ?? 6);

  /** A copy of the store per build (each writes its own decision log), without the old log. */
  const copyStore = (to: string) => {
    fs.rmSync(to, { recursive: true, force: true });
    fs.mkdirSync(to, { recursive: true });
    for (const f of fs.readdirSync(dir)) {
      if (f.startsWith("mamori.decisions.sqlite")) continue;
      fs.copyFileSync(path.join(dir, f), path.join(to, f));
    }
  };
  const flagsOf = (v: string | undefined) => (v ?? "").split(" ").filter((f) => f !== "");
  const start = (root: string, dataDir: string, name: string) => {
    const flags = flagsOf(name.startsWith("A") ? process.env.BENCH_A_NODE_FLAGS : process.env.BENCH_B_NODE_FLAGS);
    const proc = spawn(process.execPath, [...flags, "--import", "tsx", self, "run", root, dataDir], {
      cwd: root,
      stdio: ["pipe", "pipe", "inherit"],
      env: process.env,
    });
    const lines = createInterface({ input: proc.stdout! })[Symbol.asyncIterator]();
    const next = async () => {
      const r = await lines.next();
      if (r.done) throw new Error(`${name} exited`);
      return JSON.parse(r.value) as Record<string, unknown>;
    };
    return {
      ready: next(),
      pass: async () => {
        proc.stdin!.write("pass\n");
        return next();
      },
      stop: () => {
        proc.stdin!.end();
        return new Promise((r) => proc.once("exit", r));
      },
    };
  };

  // Several processes per build: a process on this machine runs the whole measurement either fast or slow (its p50
  // stays ~35–40 µs or ~60–80 µs for all its passes; an A/A run of one process each measured 1.16 with the same
  // code), so a build is judged by the median of its processes, each over every pass.
  const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 3);
  const names = (k: "A" | "B") => Array.from({ length: PROCESSES }, (_, i) => `${k}${i + 1}`);
  const all = [...names("A"), ...names("B")];
  const copies = Object.fromEntries(all.map((n) => [n, `${dir}-in${n}`]));
  for (const n of all) copyStore(copies[n]!);
  const load = [os.loadavg()[0]!];
  // Started one at a time: the warm-ups do not share the cores.
  const procs: Record<string, ReturnType<typeof start>> = {};
  for (const n of all) {
    procs[n] = start(n.startsWith("A") ? base : here, copies[n]!, n);
    await procs[n].ready;
  }
  const passes: Record<string, unknown>[] = [];
  const perProcess: Record<string, number[]> = Object.fromEntries(all.map((n) => [n, []]));
  for (let i = 0; i < PASSES; i++) {
    load.push(os.loadavg()[0]!);
    // A1 B1 A2 B2 … on even passes, reversed on odd ones: no process always runs right after another's leftovers.
    const order = names("A").flatMap((a, j) => [a, names("B")[j]!]);
    if (i % 2 === 1) order.reverse();
    const r: Record<string, Record<string, unknown>> = {};
    for (const n of order) r[n] = await procs[n]!.pass();
    for (const n of all) perProcess[n]!.push(r[n]!.mainThreadUs as number);
    const hashes = new Set(all.map((n) => r[n]!.hash));
    passes.push({ pass: i + 1, order: order.join(" "), ...r, sameDecisions: hashes.size === 1 });
    process.stderr.write(`${JSON.stringify(passes[passes.length - 1])}\n`);
  }
  load.push(os.loadavg()[0]!);
  for (const n of all) await procs[n]!.stop();
  for (const c of Object.values(copies)) fs.rmSync(c, { recursive: true, force: true });
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const median = (xs: number[]) => {
    const a = [...xs].sort((x, y) => x - y);
    return a.length % 2 ? a[a.length >> 1]! : (a[a.length / 2 - 1]! + a[a.length / 2]!) / 2;
  };
  const processMeans = Object.fromEntries(all.map((n) => [n, Number(mean(perProcess[n]!).toFixed(1))]));
  const buildMedian = (k: "A" | "B") => Number(median(names(k).map((n) => processMeans[n]!)).toFixed(1));
  process.stdout.write(
    `${JSON.stringify(
      {
        base,
        nodeFlags: { A: process.env.BENCH_A_NODE_FLAGS ?? "", B: process.env.BENCH_B_NODE_FLAGS ?? "" },
        processes: PROCESSES,
        passes,
        processMeanMainThreadUs: processMeans,
        medianMainThreadUs: { A: buildMedian("A"), B: buildMedian("B") },
        medianRatioBtoA: Number((buildMedian("B") / buildMedian("A")).toFixed(3)),
        allSameDecisions: passes.every((p) => p.sameDecisions),
        loadAverage1m: load.map((l) => Number(l.toFixed(2))),
      },
      null,
      2,
    )}\n`,
  );
}
