import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "./config.ts";

describe("config: the password policy's variables", () => {
  it("are off or empty by default", () => {
    const c = loadConfig({});
    assert.deepEqual(c.passwordServiceWords, []);
    assert.equal(c.pwnedRangeUrl, undefined, "the online range check is off unless asked for");
    assert.equal(c.pwnedRangeTimeoutMs, 1500);
  });

  it("read a comma-separated list of service words, the range endpoint and its timeout", () => {
    const c = loadConfig({
      MAMORI_PASSWORD_SERVICE_WORDS: "hanami, SakuraPoint,,  ",
      MAMORI_PWNED_RANGE_URL: "https://api.pwnedpasswords.com/range",
      MAMORI_PWNED_RANGE_TIMEOUT_MS: "800",
    });
    assert.deepEqual(c.passwordServiceWords, ["hanami", "SakuraPoint"]);
    assert.equal(c.pwnedRangeUrl, "https://api.pwnedpasswords.com/range");
    assert.equal(c.pwnedRangeTimeoutMs, 800);
  });

  it("refuse a range endpoint that is not an http(s) URL at start, not at the first sign-up", () => {
    for (const bad of ["api.pwnedpasswords.com/range", "file:///etc/passwd", "https://"]) {
      assert.throws(() => loadConfig({ MAMORI_PWNED_RANGE_URL: bad }), /MAMORI_PWNED_RANGE_URL/, bad);
    }
  });
});

describe("config: staff sessions", () => {
  it("default to 15 idle minutes and 8 hours, and read MAMORI_STAFF_SESSION_IDLE_MINUTES / _TTL_HOURS", () => {
    const d = loadConfig({});
    assert.equal(d.staffSessionIdleMs, 15 * 60_000);
    assert.equal(d.staffSessionTtlMs, 8 * 3_600_000);
    const c = loadConfig({ MAMORI_STAFF_SESSION_IDLE_MINUTES: "5", MAMORI_STAFF_SESSION_TTL_HOURS: "2" });
    assert.equal(c.staffSessionIdleMs, 5 * 60_000);
    assert.equal(c.staffSessionTtlMs, 2 * 3_600_000);
    assert.throws(() => loadConfig({ MAMORI_STAFF_SESSION_IDLE_MINUTES: "soon" }), /invalid number/);
  });
});
