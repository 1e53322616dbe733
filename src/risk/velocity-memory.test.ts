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
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("a key with thousands of events in its window still answers exactly as it grows and slides", () => {
    const sync = createMemoryVelocityStore({ retentionMs: 60_000 }).sync!;
    const naive = naiveStore(60_000, 100_000);
    for (let i = 0; i < 5000; i++) {
      const at = 1_000_000 + i * 20;
      const m = `acct-${(i * 7919) % 1500}`;
      sync.record("ip:198.51.100.7", { at, member: m });
      naive.record(at, m);
      if (i % 97 === 0) {
        for (const w of [10_000, 60_000]) {
          assert.equal(sync.read("distinct", "ip:198.51.100.7", w, at), naive.distinct(w, at));
        }
      }
    }
  });
});
