import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RequestContext } from "../shared/context.ts";
import { createContextEnricher } from "./enricher.ts";
import { lookupIp } from "./geo.ts";

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
});
