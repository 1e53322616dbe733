import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { newTimeOrderedId } from "./crypto.ts";

// Decision rows are replayed in (at, id) order: two decisions of one millisecond must replay in the order they were
// made, or a replayed velocity counter would count them in another order than the live one did.
describe("time-ordered ids (UUIDv7)", () => {
  it("are RFC 9562 version 7, carry their millisecond, and sort in creation order within one", () => {
    const ms = Date.UTC(2026, 10, 30, 12, 0, 0, 123);
    const ids = Array.from({ length: 5000 }, () => newTimeOrderedId(ms));
    for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(Number.parseInt(ids[0]!.replace(/-/g, "").slice(0, 12), 16), ms);
    // 5,000 in one millisecond overflow the 12-bit counter: the rest borrow the next millisecond, never go back.
    assert.deepEqual([...ids].sort(), ids);
    assert.equal(new Set(ids).size, ids.length);
  });

  it("never go backwards when the clock does", () => {
    const a = newTimeOrderedId(Date.UTC(2026, 10, 30, 12, 0, 1));
    const b = newTimeOrderedId(Date.UTC(2026, 10, 30, 11, 0, 0));
    assert.ok(b > a);
  });
});
