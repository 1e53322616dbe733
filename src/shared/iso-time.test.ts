import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isoTime } from "./iso-time.ts";

// Introspection answers carry these strings: a store comparing them with its own Date output must see the same text.
describe("isoTime", () => {
  it("gives exactly Date#toISOString for every millisecond it formats, across days, months, leap years and centuries", () => {
    const edges = [
      0,
      1,
      999,
      1000,
      59_999,
      86_399_999,
      86_400_000,
      Date.UTC(2000, 1, 29, 23, 59, 59, 999),
      Date.UTC(2100, 1, 28, 12),
      Date.UTC(2100, 2, 1),
      Date.UTC(2026, 11, 31, 23, 59, 59, 999),
      Date.UTC(2027, 0, 1),
      253402300799999,
    ];
    for (const ms of edges) assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
    let seed = 12345;
    const rnd = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let i = 0; i < 200_000; i++) {
      const ms = Math.floor(rnd() * 253402300800000);
      assert.equal(isoTime(ms), new Date(ms).toISOString());
    }
    const now = Date.now();
    for (let i = 0; i < 100_000; i++) assert.equal(isoTime(now + i * 7919), new Date(now + i * 7919).toISOString());
  });

  it("leaves what Date formats specially to Date: before 1970, past 9999, fractions, and invalid times", () => {
    for (const ms of [-1, -86_400_001, Date.UTC(1969, 11, 31, 23, 59, 59, 999), 253402300800000, 8.64e15, 1.5, -0.5]) {
      assert.equal(isoTime(ms), new Date(ms).toISOString(), String(ms));
    }
    assert.throws(() => isoTime(Number.NaN), RangeError);
    assert.throws(() => isoTime(Number.POSITIVE_INFINITY), RangeError);
  });
});
