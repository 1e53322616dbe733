import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "./config.ts";

describe("config: the password policy's variables", () => {
  it("are off or empty by default", () => {
    const c = loadConfig({});
    assert.equal(c.storeName, undefined);
    assert.equal(c.storeDomain, undefined);
    assert.deepEqual(c.passwordServiceWords, []);
    assert.equal(c.pwnedRangeUrl, undefined, "the online range check is off unless asked for");
    assert.equal(c.pwnedRangeTimeoutMs, 1500);
  });

  it("read the store's name and domain, and a comma-separated list of service words", () => {
    const c = loadConfig({
      MAMORI_STORE_NAME: " さくら商店 Sakura Shoten ",
      MAMORI_STORE_DOMAIN: "sakura-shoten.co.jp",
      MAMORI_PASSWORD_SERVICE_WORDS: "hanami, SakuraPoint,,  ",
      MAMORI_PWNED_RANGE_URL: "https://api.pwnedpasswords.com/range",
    });
    assert.equal(c.storeName, "さくら商店 Sakura Shoten");
    assert.equal(c.storeDomain, "sakura-shoten.co.jp");
    assert.deepEqual(c.passwordServiceWords, ["hanami", "SakuraPoint"]);
    assert.equal(c.pwnedRangeUrl, "https://api.pwnedpasswords.com/range");
  });

  it("refuse a range endpoint that is not an http(s) URL at start, not at the first sign-up", () => {
    for (const bad of ["api.pwnedpasswords.com/range", "file:///etc/passwd", "https://"]) {
      assert.throws(() => loadConfig({ MAMORI_PWNED_RANGE_URL: bad }), /MAMORI_PWNED_RANGE_URL/, bad);
    }
  });
});
