// bench/hiccup.ts — how much time this machine takes away from a running thread, alone and with both cores busy.
// Each thread runs a busy loop of memory reads and reads the clock between rounds (~1 µs apart); a gap over 0.5 ms
// is time the thread did not run (the host preempted its virtual CPU, an interrupt storm, a page-table scan). The
// benchmarks' own figures carry these stalls: on the 2-core VM here, the share lost with both cores busy was ~5 %,
// in stalls of up to tens of ms, where a lone thread lost ~0.3 % (docs/benchmarks.md).
// Run: npm run bench:hiccup   (prints JSON; HICCUP_MS per measurement, default 3000)
import { Worker } from "node:worker_threads";

export interface Hiccups {
  threads: number;
  /** Per thread: the share of the run lost in gaps over 0.5 ms, how many gaps over 1 ms, and the longest gap. */
  perThread: { lostPct: number; over1ms: number; maxMs: number }[];
}

const LOOP = `
const { parentPort, workerData } = require("node:worker_threads");
const arr = new Float64Array(1 << 20).fill(1);
let x = 0;
const t0 = performance.now();
let last = t0;
let lost = 0, over1 = 0, max = 0;
while (last - t0 < workerData.ms) {
  for (let i = 0; i < 64; i++) x += arr[(i * 7919 + (x | 0)) & ((1 << 20) - 1)];
  const now = performance.now();
  const gap = now - last;
  if (gap > 0.5) { lost += gap; if (gap > 1) over1++; if (gap > max) max = gap; }
  last = now;
}
parentPort.postMessage({ lostPct: Number((100 * lost / (last - t0)).toFixed(2)), over1ms: over1, maxMs: Number(max.toFixed(2)), x: x > 0 });
`;

/** Runs `threads` busy threads at once for `ms` and reports what each lost. */
export async function measureHiccups(threads: number, ms: number): Promise<Hiccups> {
  const results = await Promise.all(
    Array.from(
      { length: threads },
      () =>
        new Promise<{ lostPct: number; over1ms: number; maxMs: number }>((resolve, reject) => {
          const w = new Worker(LOOP, { eval: true, workerData: { ms } });
          w.once("message", (m: { lostPct: number; over1ms: number; maxMs: number }) => {
            resolve({ lostPct: m.lostPct, over1ms: m.over1ms, maxMs: m.maxMs });
            void w.terminate();
          });
          w.once("error", reject);
        }),
    ),
  );
  return { threads, perThread: results };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const ms = Number(process.env.HICCUP_MS ?? 3000);
  const alone = await measureHiccups(1, ms);
  const both = await measureHiccups(2, ms);
  process.stdout.write(`${JSON.stringify({ durationMs: ms, alone, bothCoresBusy: both }, null, 2)}\n`);
}
