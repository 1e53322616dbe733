// bench/revocation-across-nodes.ts — issue 18: "revocation across nodes ≤ 100 ms under that load". Prints JSON.
// Three nodes on PostgreSQL + Redis (bench/cluster.ts). A steady, open-loop load of session checks over
// BENCH_SESSIONS distinct live sessions (default 10,000) at BENCH_RATE checks/s in all (default 1,500), split evenly
// over the nodes (bench/paced.ts, one client process per node, each cycling through the sessions from its own
// offset). Meanwhile, every BENCH_REVOKE_EVERY_MS (default 100) one more session of its own is signed out on one node
// (round robin), and the others are asked about it until they refuse it: the figure is the time from the sign-out's
// answer (the revocation acknowledged) to the slowest other node's first refusal, p50/p99/max, and how many answers
// said `active: true` for a request sent after the acknowledgement (must be 0).
// Run: npm run bench:revocation   (BENCH_SECONDS, default 20; MAMORI_DATABASE_URL for another PostgreSQL server)
import fs from "node:fs";
import os from "node:os";
import { quantiles, startCluster } from "./cluster.ts";
import { pacedInChild } from "./paced.ts";
import { loadSessions } from "./session-loader.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 10_000);
const RATE = Number(process.env.BENCH_RATE ?? 1_500);
const EVERY_MS = Number(process.env.BENCH_REVOKE_EVERY_MS ?? 100);
const WARM_UP = 3;
const loadAverageAtStart = os.loadavg().map((x) => Number(x.toFixed(2)));

const cluster = await startCluster({ fastHash: true });
try {
  const revocations = Math.ceil((SECONDS * 1000) / EVERY_MS) + 10;
  const loaded = await loadSessions(cluster.app, SESSIONS + revocations, cluster.dir);
  const tokens = fs.readFileSync(loaded.tokensFile, "utf8").trim().split("\n");
  const checked = tokens.slice(0, SESSIONS);
  const toRevoke = tokens.slice(SESSIONS);
  const headers = { authorization: `Bearer ${cluster.key}`, "content-type": "application/json" };
  const n = cluster.urls.length;

  const load = cluster.urls.map((url, i) => {
    const offset = Math.floor((i * checked.length) / n);
    const bodies = [...checked.slice(offset), ...checked.slice(0, offset)].map((token) => JSON.stringify({ token }));
    return pacedInChild({
      url: `${url}/v1/sessions/introspect`,
      headers,
      bodies,
      rate: RATE / n,
      seconds: SECONDS,
      warmUpSeconds: WARM_UP,
    });
  });

  const check = async (url: string, token: string) => {
    const r = await fetch(`${url}/v1/sessions/introspect`, {
      method: "POST",
      headers,
      body: JSON.stringify({ token }),
    });
    if (r.status !== 200) throw new Error(`introspect ${r.status} ${await r.text()}`);
    return ((await r.json()) as { active: boolean }).active;
  };
  const ack: number[] = [];
  const seenEverywhere: number[] = [];
  let acceptedAfterAck = 0;
  await new Promise((r) => setTimeout(r, WARM_UP * 1000 + 500));
  const end = performance.now() + (SECONDS - 1) * 1000;
  for (let k = 0; performance.now() < end && k < toRevoke.length; k++) {
    const next = performance.now() + EVERY_MS;
    const token = toRevoke[k]!;
    const at = cluster.urls[k % n]!;
    const t0 = performance.now();
    const out = await fetch(`${at}/v1/session/sign-out`, {
      method: "POST",
      headers: { ...headers, "x-mamori-session": token },
      body: "{}",
    });
    if (out.status !== 200) throw new Error(`sign-out ${out.status} ${await out.text()}`);
    const acked = performance.now();
    ack.push(acked - t0);
    const others = cluster.urls.filter((u) => u !== at);
    const refusedAt = await Promise.all(
      others.map(async (u) => {
        for (;;) {
          if (!(await check(u, token))) return performance.now();
          acceptedAfterAck++;
          if (performance.now() - acked > 5_000) throw new Error(`${u} still accepts a session revoked 5 s ago`);
        }
      }),
    );
    seenEverywhere.push(Math.max(...refusedAt) - acked);
    const wait = next - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  const perNode = await Promise.all(load);
  const result = {
    machine: {
      cpus: os.cpus().length,
      node: process.version,
      loadAverage: { atStart: loadAverageAtStart, atEnd: os.loadavg().map((x) => Number(x.toFixed(2))) },
    },
    setup: {
      nodes: n,
      store: "postgres",
      redis: "own redis-server",
      sessions: SESSIONS,
      loadSeconds: loaded.loadSeconds,
    },
    load: {
      offeredChecksPerSec: RATE,
      seconds: SECONDS,
      perNode: perNode.map((r, i) => ({ node: i, ...r })),
    },
    revocation: {
      everyMs: EVERY_MS,
      signOutAnswerMs: quantiles(ack),
      // from the sign-out's answer to the last other node's first `active: false`
      refusedOnEveryOtherNodeMs: quantiles(seenEverywhere),
      acceptedAfterAcknowledged: acceptedAfterAck,
      target: "≤ 100 ms",
    },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await cluster.stop();
}
