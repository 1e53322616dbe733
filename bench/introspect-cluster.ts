// bench/introspect-cluster.ts — the multi-node figure of issue 18 item 1 beside `npm run bench` (bench/introspect.ts,
// one node). Prints JSON. Three nodes on PostgreSQL + Redis (bench/cluster.ts), BENCH_SESSIONS distinct live sessions
// (default 10,000; built as bench/session-loader.ts builds them), checked round robin over the nodes (one autocannon
// instance per node, CONNECTIONS split between them, each request drawing a session uniformly); beside the bare
// Fastify route of bench/server.ts, in the same alternating rounds as bench/introspect.ts (bare, then the nodes).
// The nodes, PostgreSQL and the load generator share the machine's cores: the ratio to the bare route in the same run
// is what travels, not the absolute req/s.
// Run: npm run bench:introspect-cluster   (BENCH_SECONDS, default 10; BENCH_NODES, default 3)
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import { createInterface } from "node:readline";
import autocannon from "autocannon";
import { startCluster } from "./cluster.ts";
import { loadSessions } from "./session-loader.ts";

const DURATION = Number(process.env.BENCH_SECONDS ?? 10);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const ROUND_SECONDS = Math.max(1, Math.round(DURATION / ROUNDS));
const CONNECTIONS = 48;
const loadAverageAtStart = os.loadavg().map((x) => Number(x.toFixed(2)));

type Run = { reqPerSec: number; p50ms: number; p99ms: number; non2xx: number; errors: number };

function measure(url: string, connections: number, seconds: number, body: () => string, auth?: string): Promise<Run> {
  return (
    autocannon({
      url,
      method: "POST",
      connections,
      duration: seconds,
      headers: { "content-type": "application/json", ...(auth ? { authorization: `Bearer ${auth}` } : {}) },
      requests: [{ method: "POST", setupRequest: (req: autocannon.Request) => ({ ...req, body: body() }) }],
    } as autocannon.Options) as unknown as Promise<autocannon.Result>
  ).then((r) => ({
    reqPerSec: r.requests.average,
    p50ms: r.latency.p50,
    p99ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
  }));
}

/** All nodes at once, CONNECTIONS split between them: req/s summed, latencies the worst node's. */
async function measureNodes(urls: string[], seconds: number, body: () => string, key: string): Promise<Run> {
  const runs = await Promise.all(
    urls.map((u) => measure(`${u}/v1/sessions/introspect`, CONNECTIONS / urls.length, seconds, body, key)),
  );
  return {
    reqPerSec: runs.reduce((a, r) => a + r.reqPerSec, 0),
    p50ms: Math.max(...runs.map((r) => r.p50ms)),
    p99ms: Math.max(...runs.map((r) => r.p99ms)),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
  };
}

const bare = spawn(process.execPath, ["--import", "tsx", "bench/server.ts", "bare"], {
  stdio: ["ignore", "pipe", "inherit"],
});
const barePort = (
  JSON.parse(await new Promise<string>((r) => createInterface({ input: bare.stdout! }).once("line", r))) as {
    port: number;
  }
).port;
const cluster = await startCluster({ fastHash: true });
try {
  const loaded = await loadSessions(cluster.app, SESSIONS, cluster.dir);
  const tokens = fs.readFileSync(loaded.tokensFile, "utf8").trim().split("\n");
  const uniform = () => JSON.stringify({ token: tokens[Math.floor(Math.random() * tokens.length)] });
  // {"active":false} is a 200 too: the loaded sessions must be live on every node, or the figures measure refusals.
  for (const [i, u] of cluster.urls.entries()) {
    const r = await fetch(`${u}/v1/sessions/introspect`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${cluster.key}` },
      body: JSON.stringify({ token: tokens[i] }),
    });
    if (!((await r.json()) as { active?: boolean }).active) throw new Error(`a loaded session is not active on ${u}`);
  }
  const bareUrl = `http://127.0.0.1:${barePort}/bare`;
  await measure(bareUrl, CONNECTIONS, 2, () => '{"token":"x"}');
  await measureNodes(cluster.urls, 3, uniform, cluster.key);
  const rounds: { bare: Run; nodes: Run }[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    rounds.push({
      bare: await measure(bareUrl, CONNECTIONS, ROUND_SECONDS, () => '{"token":"x"}'),
      nodes: await measureNodes(cluster.urls, ROUND_SECONDS, uniform, cluster.key),
    });
  }
  const mean = (runs: Run[]) => ({
    reqPerSec: Math.round(runs.reduce((a, r) => a + r.reqPerSec, 0) / runs.length),
    p50ms: Math.max(...runs.map((r) => r.p50ms)),
    p99ms: Math.max(...runs.map((r) => r.p99ms)),
    non2xx: runs.reduce((a, r) => a + r.non2xx, 0),
    errors: runs.reduce((a, r) => a + r.errors, 0),
  });
  const b = mean(rounds.map((r) => r.bare));
  const n = mean(rounds.map((r) => r.nodes));
  const result = {
    machine: {
      cpus: os.cpus().length,
      node: process.version,
      loadAverage: { atStart: loadAverageAtStart, atEnd: os.loadavg().map((x) => Number(x.toFixed(2))) },
    },
    setup: { nodes: cluster.urls.length, store: "postgres", redis: "own redis-server", sessions: SESSIONS },
    load: { connections: CONNECTIONS, rounds: ROUNDS, secondsPerRoundPerTarget: ROUND_SECONDS },
    bareRoute: b,
    introspectRoundRobinUniform: {
      ...n,
      ratioOfBare: Number((n.reqPerSec / b.reqPerSec).toFixed(3)),
      roundRatios: rounds.map((r) => Number((r.nodes.reqPerSec / r.bare.reqPerSec).toFixed(3))),
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  bare.kill("SIGTERM");
  await cluster.stop();
}
