import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ManualClock } from "../shared/clock.ts";
import { type RangeServer, sha1Hex, startRangeServer } from "../testing/range-server.ts";
import { createPwnedRangeCheck } from "./pwned-range.ts";

const LEAKED = "amber lantern drifts past quiet harbors 12";
const PADDED_ONLY = "plum kettle orbits the sleepy dune 12";

describe("pwned range check (k-anonymity) against a local range server", () => {
  let server: RangeServer;
  before(async () => {
    server = await startRangeServer({ [LEAKED]: 3, [PADDED_ONLY]: 0 });
  });
  after(() => server.close());

  // A generous timeout where the server answers (a loaded machine must not turn an answer into "not checked"), a
  // short one where it hangs (that test waits for it).
  const make = (clock = new ManualClock(), errors: unknown[] = [], timeoutMs = 10_000) =>
    createPwnedRangeCheck({ url: `${server.url}/`, clock, timeoutMs, onError: (e) => errors.push(e) });

  it("finds a leaked password, sending only the first five hex digits of its SHA-1, with padding asked", async () => {
    server.mode = "answer";
    server.requests.length = 0;
    assert.equal(await make().check(LEAKED), "pwned");
    assert.deepEqual(server.requests, [{ path: `/range/${sha1Hex(LEAKED).slice(0, 5)}`, padding: "true" }]);
    assert.ok(!server.requests[0]!.path.includes(sha1Hex(LEAKED).slice(5)), "the suffix never leaves the process");
  });

  it("treats a suffix on a padding line (count 0), or absent, as clean", async () => {
    server.mode = "answer";
    const c = make();
    assert.equal(await c.check(PADDED_ONLY), "clean");
    assert.equal(await c.check("seven quiet otters juggle lanterns 18"), "clean");
  });

  it("caches a prefix's answer briefly", async () => {
    server.mode = "answer";
    const clock = new ManualClock();
    const c = make(clock);
    server.requests.length = 0;
    assert.equal(await c.check(LEAKED), "pwned");
    assert.equal(await c.check(LEAKED), "pwned");
    assert.equal(server.requests.length, 1, "the second check is answered from the cache");
    clock.advance(5 * 60_000 + 1);
    assert.equal(await c.check(LEAKED), "pwned");
    assert.equal(server.requests.length, 2, "an expired entry is asked again");
  });

  it("a hung endpoint times out as not_checked, and is left alone for a while", async () => {
    server.mode = "hang";
    server.requests.length = 0;
    const clock = new ManualClock();
    const errors: unknown[] = [];
    const c = make(clock, errors, 300);
    assert.equal(await c.check(LEAKED), "not_checked");
    assert.equal(errors.length, 1);
    assert.equal(server.requests.length, 1);
    // Within the back-off, no request at all: one slow sign-up, not a queue of them.
    assert.equal(await c.check(LEAKED), "not_checked");
    assert.equal(server.requests.length, 1);
    server.mode = "answer";
    clock.advance(30_001);
    assert.equal(await c.check(LEAKED), "pwned");
  });

  it("an endpoint answering 500, or something that is not SUFFIX:COUNT lines, gives not_checked and is not cached", async () => {
    for (const mode of ["error", "garbage"] as const) {
      server.mode = mode;
      const clock = new ManualClock();
      const errors: unknown[] = [];
      const c = make(clock, errors);
      assert.equal(await c.check(LEAKED), "not_checked", mode);
      assert.equal(errors.length, 1, mode);
      server.mode = "answer";
      clock.advance(30_001);
      assert.equal(await c.check(LEAKED), "pwned", `${mode}: a failed answer must not be cached`);
    }
  });

  it("an unreachable endpoint gives not_checked", async () => {
    const dead = await startRangeServer({});
    const url = dead.url;
    await dead.close();
    const c = createPwnedRangeCheck({ url, clock: new ManualClock() });
    assert.equal(await c.check(LEAKED), "not_checked");
  });
});
