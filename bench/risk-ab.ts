// bench/risk-ab.ts — prints JSON: whole decisions in process (risk.assessEvent) of two builds side by side in one run,
// over copies of one prepared `bench:risk-http` store: this checkout (B) and a baseline checkout (A, BENCH_BASE). Each
// build runs in a process of its own (this file's `run` mode, importing the app from its checkout), decides 2,000
// warm-up logins and then, pass by pass in the order A B B A A B …, the store's 20,000 queries one by one. Per pass and
// build: the main thread's CPU a decision (/proc, which a shared machine disturbs less than the wall clock), decisions/s,
// p50/p99, the decision mix, and a hash of every decision (decision, factor, hold, reasons, scores) — equal hashes are
// the proof that both builds decided the same.
// Run: BENCH_DIR=<prepared store> BENCH_BASE=<checkout of the baseline> node --import tsx bench/risk-ab.ts
//   (BENCH_PASSES 6)
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
  for (let i = 0; i < 2000; i++) await once(i);
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
  const start = (root: string, dataDir: string, name: string) => {
    const proc = spawn(process.execPath, ["--import", "tsx", self, "run", root, dataDir], {
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

  const copies = { A: `${dir}-inA`, B: `${dir}-inB` };
  copyStore(copies.A);
  copyStore(copies.B);
  const load = [os.loadavg()[0]!];
  const builds = { A: start(base, copies.A, "A"), B: start(here, copies.B, "B") };
  await builds.A.ready;
  await builds.B.ready;
  const passes: Record<string, unknown>[] = [];
  for (let i = 0; i < PASSES; i++) {
    load.push(os.loadavg()[0]!);
    // A then B on even passes, B then A on odd ones: neither build always runs right after the other's leftovers.
    const order = i % 2 === 0 ? (["A", "B"] as const) : (["B", "A"] as const);
    const r: Record<string, Record<string, unknown>> = {};
    for (const k of order) r[k] = await builds[k].pass();
    const a = r.A!;
    const b = r.B!;
    passes.push({
      pass: i + 1,
      order: order.join(""),
      A: a,
      B: b,
      mainRatioBtoA: Number(((b.mainThreadUs as number) / (a.mainThreadUs as number)).toFixed(3)),
      sameDecisions: a.hash === b.hash,
    });
    process.stderr.write(`${JSON.stringify(passes[passes.length - 1])}\n`);
  }
  load.push(os.loadavg()[0]!);
  await builds.A.stop();
  await builds.B.stop();
  for (const c of Object.values(copies)) fs.rmSync(c, { recursive: true, force: true });
  const mean = (k: "A" | "B") =>
    Number(
      (passes.reduce((s, p) => s + ((p[k] as { mainThreadUs: number }).mainThreadUs ?? 0), 0) / passes.length).toFixed(
        1,
      ),
    );
  process.stdout.write(
    `${JSON.stringify(
      {
        base,
        passes,
        meanMainThreadUs: { A: mean("A"), B: mean("B") },
        meanRatioBtoA: Number((mean("B") / mean("A")).toFixed(3)),
        allSameDecisions: passes.every((p) => p.sameDecisions),
        loadAverage1m: load.map((l) => Number(l.toFixed(2))),
      },
      null,
      2,
    )}\n`,
  );
}
