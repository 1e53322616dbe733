import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { upperBound } from "../shared/sorted.ts";
import { createMemoryVelocityStore } from "./velocity-memory.ts";

/** The memory store's semantics written plainly: every read scans the retained events. */
function naiveStore(retention: number, maxEvents: number) {
  const at: number[] = [];
  const member: (string | undefined)[] = [];
  return {
    record(t: number, m: string | undefined) {
      const i = upperBound(at, t);
      at.splice(i, 0, t);
      member.splice(i, 0, m);
      const old = upperBound(at, at[at.length - 1]! - retention);
      at.splice(0, old);
      member.splice(0, old);
      const over = Math.max(0, at.length - maxEvents);
      at.splice(0, over);
      member.splice(0, over);
    },
    count(windowMs: number, now: number) {
      let n = 0;
      for (const t of at) if (t > now - Math.min(windowMs, retention) && t <= now) n++;
      return n;
    },
    distinct(windowMs: number, now: number) {
      const seen = new Set<string>();
      for (let i = 0; i < at.length; i++) {
        if (at[i]! > now - Math.min(windowMs, retention) && at[i]! <= now && member[i] !== undefined)
          seen.add(member[i]!);
      }
      return seen.size;
    },
  };
}

type Op =
  | { kind: "record"; step: number; late: number; member: string | undefined }
  | { kind: "read"; window: number; back: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("record" as const),
      // Time moves on by 0–20 ms (several events may share a time); an event is mostly recorded at the current time,
      // sometimes late: before events already recorded.
      step: fc.integer({ min: 0, max: 20 }),
      late: fc.oneof({ weight: 12, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 300 })),
      member: fc.option(fc.constantFrom(...Array.from({ length: 200 }, (_, i) => `m${i}`)), {
        nil: undefined,
        freq: 8,
      }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("read" as const),
      window: fc.constantFrom(100, 500, 2000, 10_000),
      // Mostly at the current time, sometimes further back (a read going back in time).
      back: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, fc.integer({ min: 1, max: 800 })),
    }),
  },
);

describe("memory velocity store: distinct counts on hot keys", () => {
  it("running distinct counts equal a full scan through drops, late events and reads going back in time", () => {
    fc.assert(
      // Many members, so an event leaving a window changes the count; a cap small enough to cut into the windows.
      fc.property(
        fc.array(op, { minLength: 300, maxLength: 800, size: "max" }),
        fc.constantFrom(1500, 5000),
        fc.constantFrom(100, 400),
        (ops, retention, maxEvents) => {
          const store = createMemoryVelocityStore({ retentionMs: retention, maxEventsPerKey: maxEvents });
          const sync = store.sync!;
          const naive = naiveStore(retention, maxEvents);
          let t = 1_000_000;
          for (const o of ops) {
            if (o.kind === "record") {
              t += o.step;
              const at = t - o.late;
              sync.record("k", o.member === undefined ? { at } : { at, member: o.member });
              naive.record(at, o.member);
            } else {
              const now = t - o.back;
              assert.equal(sync.read("distinct", "k", o.window, now), naive.distinct(o.window, now));
              assert.equal(sync.read("count", "k", o.window, now), naive.count(o.window, now));
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  /**
   * Records `n` events `spacing` ms apart on one key (members cycling over `members` accounts) and, every `every`
   * records, compares its count and distinct count over each window with the full scan's. Returns the store.
   */
  function slideAgainstScan(o: {
    key: string;
    retention: number;
    cap: number;
    n: number;
    spacing: number;
    members: number;
    every: number;
    windows: number[];
  }) {
    const sync = createMemoryVelocityStore({ retentionMs: o.retention, maxEventsPerKey: o.cap }).sync!;
    const naive = naiveStore(o.retention, o.cap);
    for (let i = 0; i < o.n; i++) {
      const at = 1_000_000 + i * o.spacing;
      const m = `acct-${(i * 7919) % o.members}`;
      sync.record(o.key, { at, member: m });
      naive.record(at, m);
      if (i % o.every === 0) {
        for (const w of o.windows) {
          assert.equal(sync.read("distinct", o.key, w, at), naive.distinct(w, at));
          assert.equal(sync.read("count", o.key, w, at), naive.count(w, at));
        }
      }
    }
    return sync;
  }

  it("a key with thousands of events in its window still answers exactly as it grows and slides", () => {
    // 3,000 events in the retention, 12,000 recorded: the dropped front is cut from the arrays several times over.
    const [retention, cap] = [60_000, 100_000];
    const [n, spacing, members, every] = [12_000, 20, 1500, 97];
    slideAgainstScan({ key: "ip:198.51.100.7", retention, cap, n, spacing, members, every, windows: [10_000, 60_000] });
  });

  it("a key at its cap answers exactly as the cap slides (the dropped front is cut, not moved on every record)", () => {
    const [retention, cap] = [3_600_000, 2000];
    const [n, spacing, members, every] = [9000, 100, 700, 89];
    const sync = slideAgainstScan({
      key: "asn:64500",
      retention,
      cap,
      n,
      spacing,
      members,
      every,
      windows: [retention],
    });
    assert.equal(sync.read("count", "asn:64500", 3_600_000, 1_000_000 + 8999 * 100), 2000);
  });
});

describe("memory velocity store: keys that left the retention", () => {
  it("are removed as later records pass over them, so every address ever counted does not stay for good", () => {
    const store = createMemoryVelocityStore({ retentionMs: 60_000 });
    const sync = store.sync!;
    // A stuffing run: 5,000 addresses, one attempt each.
    for (let i = 0; i < 5000; i++) sync.record(`ip:10.0.${i >> 8}.${i & 255}`, { at: 1_000_000 + i });
    assert.equal(store.size, 5000);
    // An hour later, ordinary traffic from 100 addresses.
    const later = 1_000_000 + 3_600_000;
    for (let i = 0; i < 6000; i++) sync.record(`ip:192.0.2.${i % 100}`, { at: later + i });
    assert.equal(store.size, 100, "only the addresses seen within the retention are kept");
    assert.equal(sync.read("count", "ip:10.0.0.1", 60_000, later + 6000), 0);
    assert.equal(sync.read("count", "ip:192.0.2.7", 60_000, later + 6000), 60);
  });

  it("a key still inside the retention is kept, whatever else is recorded", () => {
    const store = createMemoryVelocityStore({ retentionMs: 60_000 });
    const sync = store.sync!;
    sync.record("account:a", { at: 1_000_000 });
    for (let i = 0; i < 10_000; i++) sync.record(`ip:${i}`, { at: 1_000_000 + (i % 50_000) });
    assert.equal(sync.read("count", "account:a", 60_000, 1_010_000), 1);
  });
});
