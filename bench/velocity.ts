/**
 * The memory velocity store under a hot key: one IP hammering sign-ins (credential stuffing), each attempt recording
 * its account as the member and reading "distinct accounts from this IP in the last hour", as a policy does. Prints
 * JSON: µs per record+read pair (20,000 timed attempts) with the window holding about `eventsInWindow` attempts.
 * Run: npm run bench:velocity   (BENCH_SIZES=50,1000 to choose the window sizes)
 */
import { createMemoryVelocityStore } from "../src/risk/velocity-memory.ts";

const HOUR = 3_600_000;

function attempts(events: number): Record<string, number> {
  const sync = createMemoryVelocityStore().sync!;
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
for (const events of SIZES) attempts(events);
const rows = SIZES.map(attempts);
console.log(JSON.stringify({ bench: "velocity-memory-hot-key", node: process.version, rows }, null, 2));
