import { upperBound } from "../shared/sorted.ts";
import type { CounterStore } from "./counters.ts";

export interface MemoryCounterStore extends CounterStore {
  /** Drops keys with no event left in their window; returns how many were dropped. Also runs on a timer. */
  sweep(): number;
  /** Keys currently held. */
  readonly size: number;
}

export interface MemoryCounterOptions {
  /** How often idle keys are swept (real time). */
  sweepIntervalMs?: number;
  /** Per-key cap: beyond it the oldest events are dropped, so counts saturate here (far above any limit). */
  maxEventsPerKey?: number;
}

interface Entry {
  /** Event times, ascending. */
  times: number[];
  /** Largest window this key was used with: the sweep must not drop events a caller still counts. */
  windowMs: number;
}

/**
 * Single-process counters (tests, single-node installs). Operations run synchronously inside the promise, so
 * concurrent hits cannot interleave. Memory: expired events are dropped on every access, idle keys by the sweep.
 */
export function createMemoryCounterStore(opts: MemoryCounterOptions = {}): MemoryCounterStore {
  const maxEvents = opts.maxEventsPerKey ?? 10_000;
  const entries = new Map<string, Entry>();
  // Callers pass `now` (it may be a manual clock), so "idle" is judged against the latest time seen, not Date.now().
  let latest = Number.NEGATIVE_INFINITY;

  const trim = (e: Entry, cutoff: number) => {
    const drop = upperBound(e.times, cutoff);
    if (drop > 0) e.times.splice(0, drop);
  };

  const sweep = () => {
    let dropped = 0;
    for (const [key, e] of entries) {
      const newest = e.times[e.times.length - 1];
      if (newest === undefined || newest <= latest - e.windowMs) {
        entries.delete(key);
        dropped++;
      }
    }
    return dropped;
  };

  // unref: a rate limiter must never be what keeps the process (or a test run) alive.
  const timer = setInterval(sweep, opts.sweepIntervalMs ?? 60_000);
  timer.unref();

  return {
    async hit(key, windowMs, now) {
      if (now > latest) latest = now;
      let e = entries.get(key);
      if (!e) {
        e = { times: [], windowMs };
        entries.set(key, e);
      }
      if (windowMs > e.windowMs) e.windowMs = windowMs;
      trim(e, now - windowMs);
      const at = upperBound(e.times, now);
      if (at === e.times.length) e.times.push(now);
      else e.times.splice(at, 0, now);
      if (e.times.length > maxEvents) e.times.splice(0, e.times.length - maxEvents);
      return upperBound(e.times, now);
    },
    async count(key, windowMs, now) {
      const e = entries.get(key);
      if (!e) return 0;
      const cutoff = now - windowMs;
      return Math.max(0, upperBound(e.times, now) - upperBound(e.times, cutoff));
    },
    async oldest(key, windowMs, now) {
      const e = entries.get(key);
      if (!e) return null;
      const t = e.times[upperBound(e.times, now - windowMs)];
      return t !== undefined && t <= now ? t : null;
    },
    async reset(key) {
      entries.delete(key);
    },
    async close() {
      clearInterval(timer);
      entries.clear();
    },
    sweep,
    get size() {
      return entries.size;
    },
  };
}
