import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RequestContext } from "../shared/context.ts";
import { createContextEnricher, RecentCache } from "./enricher.ts";
import { lookupIp } from "./geo.ts";
import { parseUserAgent } from "./ua.ts";

const CHROME_WINDOWS =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";

describe("createContextEnricher", () => {
  it("adds country, network and device to the request context, keeping what the store sent", () => {
    const ctx: RequestContext = { ip: "8.8.8.8", userAgent: CHROME_WINDOWS, deviceId: "dev-1", channel: "web" };
    assert.deepEqual(createContextEnricher().enrich(ctx), {
      ip: "8.8.8.8",
      userAgent: CHROME_WINDOWS,
      deviceId: "dev-1",
      channel: "web",
      country: "US",
      asn: 15169,
      asOrg: "Google LLC",
      browser: "Chrome 120",
      os: "Windows 10",
      deviceType: "desktop",
    });
  });

  it("a private address behind a misconfigured proxy yields no location", () => {
    const r = createContextEnricher().enrich({ ip: "10.1.2.3", userAgent: "", channel: "app-password" });
    assert.equal(r.country, null);
    assert.equal(r.asn, null);
    assert.equal(r.browser, null);
    assert.equal(r.channel, "app-password");
  });

  it("memoises recent IPs and evicts the least recently used beyond the cache size", () => {
    const seen: string[] = [];
    const enricher = createContextEnricher({
      cacheSize: 2,
      lookupIp: (ip) => {
        seen.push(ip);
        return lookupIp(ip);
      },
    });
    const at = (ip: string) => enricher.enrich({ ip, userAgent: CHROME_WINDOWS, channel: "web" });
    at("8.8.8.8");
    at("8.8.8.8");
    at("1.1.1.1");
    at("8.8.8.8"); // refreshes 8.8.8.8, so 1.1.1.1 is now the oldest
    at("210.130.0.1"); // evicts 1.1.1.1
    at("8.8.8.8");
    at("1.1.1.1");
    assert.deepEqual(seen, ["8.8.8.8", "1.1.1.1", "210.130.0.1", "1.1.1.1"]);
    assert.equal(at("1.1.1.1").asn, 13335, "cached results are the real lookups");
  });

  it("junk IP headers are not cached under their own key (cache cannot be bloated)", () => {
    const seen: string[] = [];
    const enricher = createContextEnricher({
      lookupIp: (ip) => {
        seen.push(ip);
        return lookupIp(ip);
      },
    });
    enricher.enrich({ ip: "x".repeat(1000), userAgent: "", channel: "web" });
    enricher.enrich({ ip: "y".repeat(1000), userAgent: "", channel: "web" });
    assert.deepEqual(seen, [""]);
  });

  it("returns what spreading the context, IP and UA facts gave: keys beyond RequestContext kept, absent deviceId absent", () => {
    const enricher = createContextEnricher();
    // What enrich returned before it built one literal.
    const spread = (ctx: RequestContext) => ({ ...ctx, ...lookupIp(ctx.ip), ...parseUserAgent(ctx.userAgent) });
    const cases: RequestContext[] = [
      { ip: "8.8.8.8", userAgent: CHROME_WINDOWS, channel: "web" },
      { ip: "8.8.8.8", userAgent: CHROME_WINDOWS, deviceId: undefined, channel: "web" },
      { channel: "app", deviceId: "d", userAgent: "", ip: "1.1.1.1" },
      // A stored sign-in challenge's context carries its own fields along.
      {
        ip: "1.1.1.1",
        userAgent: CHROME_WINDOWS,
        channel: "web",
        epoch: 3,
        identifier: "a@example.jp",
      } as RequestContext,
      { ip: "1.1.1.1", userAgent: CHROME_WINDOWS, channel: "web", country: "XX" } as RequestContext,
    ];
    for (const ctx of cases) {
      const r = enricher.enrich(ctx);
      assert.deepStrictEqual(r, spread(ctx), JSON.stringify(ctx)); // own keys included
    }
    assert.equal("deviceId" in enricher.enrich(cases[0]!), false);
    assert.equal(enricher.enrich(cases[4]!).country, "AU", "derived fields win over the context's, as before");
  });
});

describe("RecentCache", () => {
  it("computes each key once while it is recent; an evicted key is computed again", () => {
    const computed: string[] = [];
    const cache = new RecentCache<string>(4);
    const get = (k: string) =>
      cache.get(k, (key) => {
        computed.push(key);
        return `v:${key}`;
      });
    assert.equal(get("a"), "v:a");
    assert.equal(get("a"), "v:a");
    get("b");
    get("c"); // generations of 2: young {c}, old {a, b}
    assert.equal(get("a"), "v:a", "an old-generation hit is promoted, not recomputed"); // young {c, a}, old {b}
    get("d"); // young {d}, old {c, a}: b is gone
    get("e"); // young {d, e}
    assert.deepEqual(computed, ["a", "b", "c", "d", "e"]);
    get("b");
    assert.deepEqual(computed, ["a", "b", "c", "d", "e", "b"], "evicted, so recomputed");
  });

  it("stays within its size under a stream of distinct keys, and keeps what was used recently", () => {
    const cache = new RecentCache<number>(100);
    let calls = 0;
    for (let i = 0; i < 10_000; i++) {
      cache.get(`k${i}`, () => ++calls);
      // A key used on every step is never evicted (it is always within the last 50 insertions).
      cache.get("hot", () => ++calls);
      assert.ok(cache.size <= 100, `size ${cache.size} at ${i}`);
    }
    assert.equal(calls, 10_001, "the hot key was computed once");
    assert.ok(cache.size >= 50);
  });

  it("a cache of one still caches (two generations of one)", () => {
    const cache = new RecentCache<number>(1);
    let calls = 0;
    cache.get("a", () => ++calls);
    cache.get("a", () => ++calls);
    cache.get("b", () => ++calls);
    assert.equal(calls, 2);
    assert.ok(cache.size <= 2);
  });
});
