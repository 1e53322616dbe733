// bench/signin-mix.ts — issue 18: the sign-in mix, known device against new device. Prints JSON.
// Three nodes on PostgreSQL + Redis (bench/cluster.ts) with production argon2id (m=19456 KiB, t=2, p=1). BENCH_ACCOUNTS
// accounts (default 100), each signed up from its owner's device. Then an open loop of password sign-ins at
// BENCH_RATE/s (default 20) for BENCH_SECONDS (default 30), round robin over the nodes and the accounts: a share
// BENCH_KNOWN_SHARE (default 0.8) from the owner's known device, the rest from a device the account has never seen;
// each from an address of its own (Japanese residential ranges), so no per-address limit is what answers. Latency is
// from the time a sign-in was due, not sent (no coordinated omission). Per class: p50/p99/max and the answers
// (signed in, challenged, refused by status).
// Run: npm run bench:signin-mix   (MAMORI_DATABASE_URL for another PostgreSQL server)
import os from "node:os";
import { signUpInProcess } from "../src/testing/signup.ts";
import { quantiles, startCluster } from "./cluster.ts";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 30);
const RATE = Number(process.env.BENCH_RATE ?? 20);
const ACCOUNTS = Number(process.env.BENCH_ACCOUNTS ?? 100);
const KNOWN_SHARE = Number(process.env.BENCH_KNOWN_SHARE ?? 0.8);
const PASSWORD = "amber lantern drifts past quiet harbors 47";
const UA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0";
const loadAverageAtStart = os.loadavg().map((x) => Number(x.toFixed(2)));

const cluster = await startCluster({ fastHash: false });
try {
  const run = Math.random().toString(36).slice(2, 8);
  const emails: string[] = [];
  for (let i = 0; i < ACCOUNTS; i++) {
    const email = `mix${i}.${run}@example.jp`;
    await signUpInProcess(cluster.app, {
      email,
      password: PASSWORD,
      context: {
        ip: `153.150.${Math.floor(i / 254) & 255}.${(i % 254) + 1}`,
        userAgent: UA,
        deviceId: `owner-${i}`,
        channel: "web",
      },
    });
    emails.push(email);
  }
  const headers = { authorization: `Bearer ${cluster.key}`, "content-type": "application/json" };
  type Sample = { ms: number; answer: string };
  const by: Record<"known" | "new", Sample[]> = { known: [], new: [] };
  const total = Math.floor(RATE * SECONDS);
  const start = performance.now() + 200;
  const inFlight: Promise<void>[] = [];
  // A deterministic mix: sign-in k is from a new device when the running share of known ones is above KNOWN_SHARE.
  let known = 0;
  for (let k = 0; k < total; k++) {
    const due = start + (k * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const kind: "known" | "new" = known < KNOWN_SHARE * (k + 1) ? "known" : "new";
    if (kind === "known") known++;
    const i = k % ACCOUNTS;
    const context = {
      // host part 1–254: `.256` (k & 255 = 255, plus one) is no address, and was answered 400
      ip: `153.${160 + (k % 40)}.${Math.floor(k / 254) & 255}.${(k % 254) + 1}`,
      userAgent: UA,
      deviceId: kind === "known" ? `owner-${i}` : `new-${run}-${k}`,
      channel: "web",
    };
    const url = cluster.urls[k % cluster.urls.length]!;
    inFlight.push(
      (async () => {
        let answer: string;
        try {
          const r = await fetch(`${url}/v1/sign-in`, {
            method: "POST",
            headers,
            body: JSON.stringify({ email: emails[i], password: PASSWORD, context }),
          });
          const body = (await r.json()) as { status?: string; error?: { code: string } };
          answer = r.status === 200 ? String(body.status) : `${r.status} ${body.error?.code ?? ""}`.trim();
        } catch (e) {
          answer = `no answer: ${(e as Error).message}`;
        }
        by[kind].push({ ms: performance.now() - due, answer });
      })(),
    );
  }
  await Promise.all(inFlight);
  const summary = (xs: Sample[]) => ({
    latencyMs: quantiles(xs.map((x) => x.ms)),
    answers: xs.reduce<Record<string, number>>((a, x) => {
      a[x.answer] = (a[x.answer] ?? 0) + 1;
      return a;
    }, {}),
  });
  const result = {
    machine: {
      cpus: os.cpus().length,
      node: process.version,
      loadAverage: { atStart: loadAverageAtStart, atEnd: os.loadavg().map((x) => Number(x.toFixed(2))) },
    },
    setup: {
      nodes: cluster.urls.length,
      store: "postgres",
      redis: "own redis-server",
      accounts: ACCOUNTS,
      argon2: "argon2id m=19456 t=2 p=1",
    },
    load: { offeredSignInsPerSec: RATE, seconds: SECONDS, knownDeviceShare: KNOWN_SHARE },
    knownDevice: summary(by.known),
    newDevice: summary(by.new),
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await cluster.stop();
}
