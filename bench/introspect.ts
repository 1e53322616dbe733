// bench/introspect.ts — prints JSON:
//   HTTP introspectSession vs a bare Fastify route (same run, same load: 50 connections, 3 s warm-up, then
//   DURATION s measured, each target in its own process),
//   in-process introspection ops/s, and sign-in latency with production argon2id parameters.
// Run: npm run bench   (MAMORI_DATABASE_URL=postgres://… for the PostgreSQL store; BENCH_SECONDS to change 10)
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import autocannon from "autocannon";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 50;

async function child(mode: string): Promise<{ info: Record<string, string | number>; stop: () => void }> {
  const proc = spawn(process.execPath, ["--import", "tsx", "bench/server.ts", mode], {
    stdio: ["ignore", "pipe", "inherit"],
    env: process.env,
  });
  const line = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: proc.stdout! });
    rl.once("line", resolve);
    proc.once("exit", (c) => reject(new Error(`${mode} server exited ${c}`)));
  });
  return { info: JSON.parse(line), stop: () => proc.kill("SIGTERM") };
}

async function load(url: string, headers: Record<string, string>, body: string) {
  // Warm-up (JIT, connection setup) is not measured, for either target.
  await autocannon({ url, method: "POST", connections: CONNECTIONS, duration: 3, headers, body });
  const r = await autocannon({ url, method: "POST", connections: CONNECTIONS, duration: DURATION, headers, body });
  return {
    reqPerSec: Math.round(r.requests.average),
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
  };
}

const json = { "content-type": "application/json" };

const bare = await child("bare");
const bareResult = await load(`http://127.0.0.1:${bare.info.port}/bare`, json, JSON.stringify({ token: "x" }));
bare.stop();

const m = await child("mamori");
const introspect = await load(
  `http://127.0.0.1:${m.info.port}/v1/sessions/introspect`,
  { ...json, authorization: `Bearer ${m.info.key}` },
  JSON.stringify({ token: m.info.token }),
);
m.stop();

// In process: the service call without HTTP.
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "mamori-bench-"));
const app = await buildApp(loadConfig({ ...process.env, MAMORI_DATA_DIR: dataDir, MAMORI_DISPATCHER: "off" }));
const ctx = (i: number) => ({
  ip: `133.0.${(i >> 8) & 255}.${i & 255}`,
  userAgent: "Mozilla/5.0 Chrome/120.0",
  channel: "web" as const,
});
const password = "correct horse battery staple 47";
const inprocEmail = `inproc-${Date.now()}@example.jp`;
const created = await app.identity.createAccount({ email: inprocEmail, password, context: ctx(1) });
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
  if (r.status !== "signed_in") throw new Error("sign-in failed");
}
lat.sort((a, b) => a - b);
const q = (p: number) => Number(lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]!.toFixed(2));
await app.close();
fs.rmSync(dataDir, { recursive: true, force: true });

const result = {
  machine: { cpus: os.cpus().length, node: process.version, store: String(m.info.store) },
  load: { connections: CONNECTIONS, durationSeconds: DURATION },
  bareRoute: bareResult,
  introspectSession: introspect,
  ratioOfBare: Number((introspect.reqPerSec / bareResult.reqPerSec).toFixed(3)),
  inProcessIntrospectionOpsPerSec: inProcessOpsPerSec,
  signInLatencyMs: { n: lat.length, p50: q(0.5), p99: q(0.99), argon2: "argon2id m=19456 t=2 p=1" },
};
process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
