/**
 * The memory velocity store under a hot key: one IP hammering sign-ins (credential stuffing), each attempt recording
 * its account as the member and reading "distinct accounts from this IP in the last hour", as a policy does. Prints
 * JSON: µs per record+read pair (20,000 timed attempts) with the window holding about `eventsInWindow` attempts.
 * Run: npm run bench:velocity   (BENCH_SIZES=50,1000 to choose the window sizes; BENCH_BASE=<checkout> times that
 * checkout's store too, in the same run, each size's passes alternating between the two)
 */
import path from "node:path";
import { pathToFileURL } from "node:url";
import { createMemoryVelocityStore } from "../src/risk/velocity-memory.ts";

type Create = typeof createMemoryVelocityStore;
const BASE = process.env.BENCH_BASE;
const baseline: Create | null = BASE
  ? (
      (await import(pathToFileURL(path.resolve(BASE, "src/risk/velocity-memory.ts")).href)) as {
        createMemoryVelocityStore: Create;
      }
    ).createMemoryVelocityStore
  : null;

const HOUR = 3_600_000;

function attempts(events: number, create: Create = createMemoryVelocityStore): Record<string, number> {
  const sync = create().sync!;
  const spacing = HOUR / events; // once full, the window holds `events` attempts
  const accounts = Math.max(10, Math.floor(events / 3));
  const member = (i: number) => `acct-${(i * 7919) % accounts}`;
  let t = 1_700_000_000_000;
  // Fill the window, then time the attempts that slide it.
  for (let i = 0; i < events; i++) {
    t += spacing;
    sync.record("ip:203.0.113.9", { at: t, member: member(i) });
    sync.read("distinct", "ip:203.0.113.9", HOUR, t);
  }
  const n = 20_000;
  let sink = 0;
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    t += spacing;
    sync.record("ip:203.0.113.9", { at: t, member: member(events + i) });
    sink += sync.read("distinct", "ip:203.0.113.9", HOUR, t);
  }
  const us = ((performance.now() - start) * 1000) / n;
  return {
    eventsInWindow: events,
    distinctAccounts: Math.min(accounts, events),
    usPerAttempt: Number(us.toFixed(2)),
    meanDistinct: Math.round(sink / n),
  };
}

const SIZES = process.env.BENCH_SIZES ? process.env.BENCH_SIZES.split(",").map(Number) : [50, 1_000, 10_000, 50_000];
// A first pass so the JIT has compiled the store before the pass that is reported.
for (const events of SIZES) {
  attempts(events);
  if (baseline) attempts(events, baseline);
}
const rows = SIZES.map((events) => {
  if (!baseline) return attempts(events);
  // Twice each, in the order baseline, this, this, baseline: the one timed second inherits the first's garbage.
  const b1 = attempts(events, baseline).usPerAttempt!;
  const t1 = attempts(events).usPerAttempt!;
  const t2 = attempts(events).usPerAttempt!;
  const b2 = attempts(events, baseline).usPerAttempt!;
  const mean = (x: number, y: number) => Number(((x + y) / 2).toFixed(2));
  return { eventsInWindow: events, usPerAttempt: mean(t1, t2), baselineUsPerAttempt: mean(b1, b2) };
});
console.log(
  JSON.stringify({ bench: "velocity-memory-hot-key", node: process.version, baseline: BASE ?? null, rows }, null, 2),
);
