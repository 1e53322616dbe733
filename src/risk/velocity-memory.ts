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
  /**
   * Events [0, head) are dropped (out of retention or past the cap) and no longer counted; the arrays are cut once
   * they are half of them, so a cut of n events comes after n records at least. Cutting the front on every record
   * moved the whole window each time: ~1 µs a record at 50,000 events in a window, 12–300 µs past ~90,000
   * (bench:velocity), a cliff a busy key (an address behind carrier-grade NAT, a network's counter) reaches in an hour.
   */
  head: number;
  /** The store's latest time (`latest`) when this key was last recorded: it expires a retention after that. */
  touched: number;
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
/** Keys a record looks at for expiry (see `expireSome`): enough to pass over every key while keys are added. */
const EXPIRE_PER_RECORD = 2;

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
 * the key, are dropped on each record; a key not recorded while the store's time (the latest time recorded on any
 * key) moved on by a retention is removed, as Redis expires it a retention after its last record, by records passing
 * over the keys a few at a time.
 */
export function createMemoryVelocityStore(opts: MemoryVelocityOptions = {}): MemoryVelocityStore {
  const retention = opts.retentionMs ?? DEFAULT_RETENTION_MS;
  const maxEvents = opts.maxEventsPerKey ?? 100_000;
  const series = new Map<string, Series>();
  // The latest time recorded on any key, and where the expiry pass is in the keys.
  let latest = Number.NEGATIVE_INFINITY;
  let cursor: MapIterator<[string, Series]> | null = null;

  /**
   * Looks at the next `n` keys and removes those not recorded for a retention: without it every address,
   * account and device ever counted kept a series for the life of the process. A few keys per record, so there is
   * no pause and no timer; a pass ends before the keys can double, since each new key comes with a record.
   */
  const expireSome = (n: number) => {
    for (let i = 0; i < n; i++) {
      cursor ??= series.entries();
      const next = cursor.next();
      if (next.done) {
        cursor = null;
        return;
      }
      const [key, s] = next.value;
      if (s.touched <= latest - retention) series.delete(key);
    }
  };

  /** Drops the events before index `to` (absolute): they leave the running counts and are skipped from now on. */
  const drop = (s: Series, to: number) => {
    if (to <= s.head) return;
    if (s.running && s.member) {
      for (const r of s.running) {
        for (let i = Math.max(r.lo, s.head); i < Math.min(to, r.to); i++) removeMember(r.counts, s.member[i]);
        if (r.lo < to) r.lo = to;
        if (r.to < to) r.to = to;
      }
    }
    s.head = to;
    if (to * 2 < s.at.length) return;
    // Amortized: at least as many records as were cut happen before the next cut.
    s.at.splice(0, to);
    s.value?.splice(0, to);
    s.member?.splice(0, to);
    if (s.running) {
      for (const r of s.running) {
        r.lo -= to;
        r.to -= to;
      }
    }
    s.head = 0;
  };

  /** The events in (now − windowMs, now] are [from(…), end(…)). */
  // Windows longer than the retention are clamped to it, so reads agree with the Redis store whatever was pruned.
  const from = (s: Series, windowMs: number, now: number) =>
    upperBound(s.at, now - Math.min(windowMs, retention), s.head);
  const end = (s: Series, now: number) => upperBound(s.at, now, s.head);

  function record(key: string, event: VelocityEvent): void {
    if (event.at > latest) latest = event.at;
    expireSome(EXPIRE_PER_RECORD);
    const value = event.value ?? 1;
    let s = series.get(key);
    if (!s) {
      // Sized for the one event: most keys see few, and a pushed-to empty array reserves room for 17.
      // Every series has the same four fields from the start (one object shape for every read), the optional ones
      // undefined until needed.
      s = {
        head: 0,
        touched: latest,
        at: [event.at],
        value: value !== 1 ? [value] : undefined,
        member: event.member !== undefined ? [event.member] : undefined,
        running: undefined,
      };
      series.set(key, s);
      return;
    }
    s.touched = latest;
    // The optional arrays start filled with the defaults of the events recorded before them.
    if (value !== 1 && !s.value) s.value = s.at.map(() => 1);
    if (event.member !== undefined && !s.member) {
      s.member = s.at.map(() => undefined);
      s.running = undefined;
    }
    // Insert in time order (events usually arrive in order, so this is a push), never among the dropped ones.
    const i = upperBound(s.at, event.at, s.head);
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
    drop(s, upperBound(s.at, newest - retention, s.head));
    drop(s, s.at.length - maxEvents);
  }
  function count(key: string, windowMs: number, now: number): number {
    const s = series.get(key);
    if (!s) return 0;
    return Math.max(0, end(s, now) - from(s, windowMs, now));
  }
  function sum(key: string, windowMs: number, now: number): number {
    const s = series.get(key);
    if (!s) return 0;
    const to = end(s, now);
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
    const to = end(s, now);
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
