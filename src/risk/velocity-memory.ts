import { upperBound } from "../shared/sorted.ts";
import { DEFAULT_RETENTION_MS, type VelocityEvent, type VelocityStore } from "./velocity.ts";

export interface MemoryVelocityOptions {
  /** How long events are kept: the largest window callers ask about. */
  retentionMs?: number;
  /** Per-key cap; beyond it the oldest events are dropped, so one hammered key cannot grow without bound. */
  maxEventsPerKey?: number;
}

export interface MemoryVelocityStore extends VelocityStore {
  /** Keys currently held. */
  readonly size: number;
}

interface Series {
  /** Parallel arrays sorted by time: cheaper than an array of objects for large windows. */
  at: number[];
  /**
   * Created on the first event that needs them (most series only count): a series is kept per key for the retention,
   * and a decision adds several new keys, so three arrays per key were most of what each decision left on the heap.
   * Absent `value` means every value is 1; absent `member` means no event has a member.
   */
  value: number[] | undefined;
  member: (string | undefined)[] | undefined;
  /**
   * Running distinct counts, one per window size read on this key, once a window holds more than RUNNING_FROM events:
   * the members of events [lo, to) with how often each occurs. The next read with the same window size only adds the
   * events that entered and removes those that left. Without it, every read hashed every member in the window: under
   * credential stuffing one IP's "distinct accounts in 1 h" window holds thousands, read on every attempt.
   */
  running: RunningDistinct[] | undefined;
}

interface RunningDistinct {
  windowMs: number;
  lo: number;
  to: number;
  counts: Map<string, number>;
}

/** Windows of at most this many events are counted afresh with a Set on each read (cheaper than keeping a map). */
const RUNNING_FROM = 64;
/** Running counts kept per key (one per window size read on it). */
const MAX_RUNNING = 8;

function addMember(counts: Map<string, number>, m: string | undefined) {
  if (m !== undefined) counts.set(m, (counts.get(m) ?? 0) + 1);
}

function removeMember(counts: Map<string, number>, m: string | undefined) {
  if (m === undefined) return;
  const c = counts.get(m)!;
  if (c === 1) counts.delete(m);
  else counts.set(m, c - 1);
}

/**
 * Velocity counters for the embedded (single-process) mode. Each operation runs synchronously inside its promise,
 * so concurrent records cannot interleave. Events older than the retention, relative to the latest time recorded on
 * the key, are dropped on each record; keys left empty are removed then too.
 */
export function createMemoryVelocityStore(opts: MemoryVelocityOptions = {}): MemoryVelocityStore {
  const retention = opts.retentionMs ?? DEFAULT_RETENTION_MS;
  const maxEvents = opts.maxEventsPerKey ?? 100_000;
  const series = new Map<string, Series>();

  const drop = (s: Series, n: number) => {
    if (n <= 0) return;
    // Running counts move with the indices; dropped events they counted leave their counts first.
    if (s.running && s.member) {
      for (const r of s.running) {
        for (let i = r.lo; i < Math.min(n, r.to); i++) removeMember(r.counts, s.member[i]);
        r.lo = Math.max(0, r.lo - n);
        r.to = Math.max(0, r.to - n);
      }
    }
    s.at.splice(0, n);
    s.value?.splice(0, n);
    s.member?.splice(0, n);
  };

  /** The events in (now − windowMs, now] are [from(…), upperBound(at, now)). */
  // Windows longer than the retention are clamped to it, so reads agree with the Redis store whatever was pruned.
  const from = (s: Series, windowMs: number, now: number) => upperBound(s.at, now - Math.min(windowMs, retention));

  function record(key: string, event: VelocityEvent): void {
    const value = event.value ?? 1;
    let s = series.get(key);
    if (!s) {
      // Sized for the one event: most keys see few, and a pushed-to empty array reserves room for 17.
      // Every series has the same four fields from the start (one object shape for every read), the optional ones
      // undefined until needed.
      s = {
        at: [event.at],
        value: value !== 1 ? [value] : undefined,
        member: event.member !== undefined ? [event.member] : undefined,
        running: undefined,
      };
      series.set(key, s);
      return;
    }
    // The optional arrays start filled with the defaults of the events recorded before them.
    if (value !== 1 && !s.value) s.value = s.at.map(() => 1);
    if (event.member !== undefined && !s.member) {
      s.member = s.at.map(() => undefined);
      s.running = undefined;
    }
    // Insert in time order (events usually arrive in order, so this is a push).
    const i = upperBound(s.at, event.at);
    if (i === s.at.length) {
      s.at.push(event.at);
      s.value?.push(value);
      s.member?.push(event.member);
    } else {
      // An event inserted before the end shifts the indices the running counts hold: they start again.
      s.running = undefined;
      s.at.splice(i, 0, event.at);
      s.value?.splice(i, 0, value);
      s.member?.splice(i, 0, event.member);
    }
    const newest = s.at[s.at.length - 1]!;
    drop(s, upperBound(s.at, newest - retention));
    drop(s, s.at.length - maxEvents);
  }
  function count(key: string, windowMs: number, now: number): number {
    const s = series.get(key);
    if (!s) return 0;
    return Math.max(0, upperBound(s.at, now) - from(s, windowMs, now));
  }
  function sum(key: string, windowMs: number, now: number): number {
    const s = series.get(key);
    if (!s) return 0;
    const to = upperBound(s.at, now);
    let total = 0;
    const lo = from(s, windowMs, now);
    if (!s.value) return Math.max(0, to - lo);
    for (let i = lo; i < to; i++) total += s.value[i]!;
    return total;
  }
  function distinct(key: string, windowMs: number, now: number): number {
    const s = series.get(key);
    if (!s) return 0;
    const members = s.member;
    if (!members) return 0;
    const to = upperBound(s.at, now);
    const lo = from(s, windowMs, now);
    if (to - lo <= RUNNING_FROM) {
      const seen = new Set<string>();
      for (let i = lo; i < to; i++) {
        const m = members[i];
        if (m !== undefined) seen.add(m);
      }
      return seen.size;
    }
    s.running ??= [];
    let r: RunningDistinct | undefined;
    for (const x of s.running) if (x.windowMs === windowMs) r = x;
    if (r === undefined) {
      // Policies read a handful of window sizes per key; past MAX_RUNNING the oldest running count is let go.
      if (s.running.length >= MAX_RUNNING) s.running.shift();
      r = { windowMs, lo, to: lo, counts: new Map() };
      s.running.push(r);
    } else if (lo < r.lo || to < r.to) {
      // A read further back in time than the last one: count afresh.
      r.lo = lo;
      r.to = lo;
      r.counts = new Map();
    }
    // From an empty count this adds the whole window and removes nothing.
    for (let i = r.to; i < to; i++) addMember(r.counts, members[i]);
    for (let i = r.lo; i < lo; i++) removeMember(r.counts, members[i]);
    r.lo = lo;
    r.to = to;
    return r.counts.size;
  }

  return {
    async record(key, event) {
      record(key, event);
    },
    async count(key, windowMs, now) {
      return count(key, windowMs, now);
    },
    async sum(key, windowMs, now) {
      return sum(key, windowMs, now);
    },
    async distinct(key, windowMs, now) {
      return distinct(key, windowMs, now);
    },
    sync: {
      record,
      read: (agg, key, windowMs, now) =>
        agg === "count"
          ? count(key, windowMs, now)
          : agg === "sum"
            ? sum(key, windowMs, now)
            : distinct(key, windowMs, now),
    },
    async close() {
      series.clear();
    },
    get size() {
      return series.size;
    },
  };
}
