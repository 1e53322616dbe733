// Three (BENCH_NODES) Mamori nodes as the multi-node setup: child processes of `bin/mamori.js start` on one
// PostgreSQL database made for the run (on the server of MAMORI_DATABASE_URL, default the local one; dropped at the
// end) and a redis-server of the run's own on a free port (so earlier runs' rate-limit counters never answer), plus
// the app in this process on the same database, for loading accounts and sessions the way bench/session-loader.ts
// does. Used by bench/revocation-across-nodes.ts and bench/signin-mix.ts.
import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { type App, buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";

export interface Cluster {
  urls: string[];
  /** a store API key, for the Authorization header */
  key: string;
  dbUrl: string;
  /** the app in this process, on the nodes' database */
  app: App;
  dir: string;
  stop(): Promise<void>;
}

function waitFor(proc: ChildProcess, text: string, what: string, ms: number): Promise<string> {
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start: ${out.slice(-2000)}`)), ms);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes(text)) {
        clearTimeout(timer);
        resolve(out);
      }
    };
    proc.stdout?.on("data", onData);
    proc.stderr?.on("data", onData);
    proc.once("exit", (c) => reject(new Error(`${what} exited ${c}: ${out.slice(-2000)}`)));
  });
}

/** `fastHash`: the nodes hash passwords with test parameters (benches that do not sign in with passwords). */
export async function startCluster(opts: { fastHash: boolean; nodes?: number }): Promise<Cluster> {
  const base = process.env.MAMORI_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  if (!base.startsWith("postgres")) throw new Error("the cluster benches run on PostgreSQL: set MAMORI_DATABASE_URL");
  const name = `bench_cluster_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: base });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const dbUrl = base.replace(/\/[^/]*$/, `/${name}`);
  const redisPort = 30000 + Math.floor(Math.random() * 10000);
  const redis = spawn(
    "redis-server",
    ["--port", String(redisPort), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const procs: ChildProcess[] = [redis];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mamori-cluster-bench-"));
  const env = {
    ...process.env,
    MAMORI_DATABASE_URL: dbUrl,
    MAMORI_REDIS_URL: `redis://127.0.0.1:${redisPort}`,
    MAMORI_SECRET: "ab".repeat(32),
    MAMORI_LOG_LEVEL: "warn",
    MAMORI_DATA_DIR: dir,
    ...(opts.fastHash ? { MAMORI_FAST_HASH: "1" } : {}),
  };
  if (!opts.fastHash) delete env.MAMORI_FAST_HASH;
  let app: App | null = null;
  const stop = async () => {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill("SIGTERM");
    await Promise.all(procs.map((p) => (p.exitCode !== null ? null : new Promise((r) => p.once("exit", r)))));
    await app?.close();
    const a = new pg.Client({ connectionString: base });
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await a.end();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitFor(redis, "Ready to accept connections", "redis-server", 10_000);
    // The app in this process migrates the database before any node starts on it.
    app = await buildApp(loadConfig({ ...env, MAMORI_DISPATCHER: "off" }));
    const { key } = await app.admin.createApiKey("bench");
    const n = opts.nodes ?? Number(process.env.BENCH_NODES ?? 3);
    const ports = Array.from({ length: n }, (_, i) => 31000 + i * 100 + Math.floor(Math.random() * 100));
    await Promise.all(
      ports.map((port) => {
        const proc = spawn(process.execPath, ["bin/mamori.js", "start"], {
          env: { ...env, MAMORI_PORT: String(port) },
          stdio: ["ignore", "pipe", "pipe"],
        });
        procs.push(proc);
        return waitFor(proc, "listening on", `node on ${port}`, 120_000);
      }),
    );
    return { urls: ports.map((p) => `http://127.0.0.1:${p}`), key, dbUrl, app, dir, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

/** p50, p99, max of a list of milliseconds, rounded to 0.01 ms. */
export function quantiles(xs: number[]): { n: number; p50: number; p99: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p: number) => Number((s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? Number.NaN).toFixed(2));
  return { n: s.length, p50: q(0.5), p99: q(0.99), max: Number((s.at(-1) ?? Number.NaN).toFixed(2)) };
}
