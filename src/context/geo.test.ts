import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { isIPv4 } from "node:net";
import path from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { Reader, type Response } from "mmdb-lib";
import { lookupAsn } from "./asn.ts";
import { lookupIp, preload } from "./geo.ts";
import { isSpecialIp, parseIPv4, parseIp } from "./ip.ts";

const NULLS = { country: null, asn: null, asOrg: null };

describe("lookupIp with the bundled ip-location-db data", () => {
  it("loads the country database and ASN tables (timing and heap reported)", () => {
    const heapBefore = process.memoryUsage();
    const s = preload();
    const heapAfter = process.memoryUsage();
    assert.ok(s.asn.v4Rows > 100_000, `v4 rows: ${s.asn.v4Rows}`);
    assert.ok(s.asn.v6Rows > 10_000, `v6 rows: ${s.asn.v6Rows}`);
    assert.ok(s.asn.orgs < s.asn.v4Rows + s.asn.v6Rows, "organisation names are deduplicated");
    const mb = (n: number) => (n / 2 ** 20).toFixed(1);
    console.log(
      `geo preload: country ${s.countryMs.toFixed(0)} ms, ASN ${s.asn.ms.toFixed(0)} ms ` +
        `(${s.asn.v4Rows} v4 + ${s.asn.v6Rows} v6 rows, ${s.asn.orgs} orgs); ` +
        `heap +${mb(heapAfter.heapUsed - heapBefore.heapUsed)} MB, ` +
        `array buffers +${mb(heapAfter.arrayBuffers - heapBefore.arrayBuffers)} MB (before GC)`,
    );
    assert.deepEqual(preload().asn, s.asn, "second preload is a no-op");
  });

  it("8.8.8.8 is Google in the US", () => {
    assert.deepEqual(lookupIp("8.8.8.8"), { country: "US", asn: 15169, asOrg: "Google LLC" });
  });

  it("1.1.1.1 is Cloudflare", () => {
    const r = lookupIp("1.1.1.1");
    assert.equal(r.asn, 13335);
    assert.equal(r.asOrg, "Cloudflare, Inc.");
  });

  it("Japanese IPv4 addresses resolve to JP", () => {
    assert.deepEqual(lookupIp("210.130.0.1"), { country: "JP", asn: 2497, asOrg: "Internet Initiative Japan Inc." });
    assert.equal(lookupIp("133.0.0.1").country, "JP");
    assert.deepEqual(lookupIp("126.0.0.1"), { country: "JP", asn: 17676, asOrg: "SoftBank Corp." });
  });

  it("IPv6: WIDE (AS2500) and Japanese carriers", () => {
    const wide = lookupIp("2001:200::1");
    assert.equal(wide.asn, 2500);
    assert.equal(wide.asOrg, "WIDE Project");
    // The shipped country data places 2001:200::/28 in AU (a known upstream data bug, see the package README), so
    // the country is checked on addresses it gets right instead.
    assert.deepEqual(lookupIp("240b:10::1"), { country: "JP", asn: 2516, asOrg: "KDDI CORPORATION" });
    assert.deepEqual(lookupIp("2400:4050::1"), { country: "JP", asn: 4713, asOrg: "NTT Communications Corporation" });
    assert.deepEqual(lookupIp("2001:4860:4860::8888").asn, 15169);
  });

  it("IPv4-mapped and NAT64 IPv6 addresses are looked up as the IPv4 address they carry", () => {
    const v4 = lookupIp("8.8.8.8");
    assert.deepEqual(lookupIp("::ffff:8.8.8.8"), v4);
    assert.deepEqual(lookupIp("::ffff:808:808"), v4);
    assert.deepEqual(lookupIp("64:ff9b::8.8.8.8"), v4);
    assert.deepEqual(lookupIp("::ffff:10.0.0.1"), NULLS, "a mapped private address is still private");
  });

  it("private, loopback, link-local, documentation and unparsable addresses give nothing", () => {
    for (const ip of [
      "127.0.0.1",
      "10.0.0.1",
      "192.168.1.1",
      "172.16.5.4",
      "169.254.169.254",
      "100.64.0.1",
      "0.0.0.0",
      "255.255.255.255",
      "224.0.0.1",
      "192.0.2.1",
      "::1",
      "::",
      "fe80::1",
      "fe80::1%eth0",
      "fd12:3456::1",
      "ff02::1",
      "2001:db8::1",
      "not-an-ip",
      "",
      "8.8.8",
      "8.8.8.8.8",
      "08.8.8.8",
      "256.1.1.1",
      "[::1]",
      "8.8.8.8:443",
      "1".repeat(10_000),
    ]) {
      assert.deepEqual(lookupIp(ip), NULLS, ip);
    }
  });

  it("tolerates surrounding whitespace from header splitting", () => {
    assert.equal(lookupIp(" 8.8.8.8 ").asn, 15169);
  });

  it("picks the right row at range edges (binary search boundaries)", () => {
    // First row of the v4 file: 1.0.0.0–1.0.0.255 is Cloudflare.
    assert.equal(lookupIp("1.0.0.0").asn, 13335);
    assert.equal(lookupIp("1.0.0.255").asn, 13335);
    // 1.0.1.0 is not in that row; whatever it is, it is not Cloudflare's row extended.
    assert.notEqual(lookupIp("1.0.1.0").asn, 13335);
  });
});

describe("parseIp", () => {
  it("parses compressed IPv6 forms into the same number", () => {
    const a = parseIp("2001:0200:0000:0000:0000:0000:0000:0001");
    const b = parseIp("2001:200::1");
    assert.deepEqual({ ...a, text: "" }, { ...b, text: "" });
    assert.equal(b?.version === 6 && b.hi, 0x2001020000000000n);
  });

  it("classifies global addresses as public", () => {
    for (const ip of ["8.8.8.8", "2001:200::1", "2400:4050::1", "3fff:1000::1"]) {
      const p = parseIp(ip);
      assert.ok(p && !isSpecialIp(p), ip);
    }
  });
});

describe("parseIPv4 (the fast path) accepts exactly what node:net isIPv4 accepts", () => {
  /** The general parser's v4ToNumber, as it was: split and map. */
  const slowValue = (s: string) => {
    const [a = 0, b = 0, c = 0, d = 0] = s.split(".").map(Number);
    return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
  };
  const agrees = (s: string) => {
    const v = parseIPv4(s);
    assert.equal(v >= 0, isIPv4(s), JSON.stringify(s));
    if (v >= 0) assert.equal(v, slowValue(s), JSON.stringify(s));
  };

  it("edge cases", () => {
    for (const s of [
      "1.2.3.4",
      "0.0.0.0",
      "255.255.255.255",
      "10.0.0.1",
      "100.200.250.255",
      "01.2.3.4",
      "1.2.3.04",
      "1.00.3.4",
      "00.0.0.0",
      "256.1.1.1",
      "1.2.3.256",
      "1.2.3.999",
      "1.2.3.1000",
      "1.2.3",
      "1.2.3.4.5",
      "1.2.3.",
      ".1.2.3",
      "1..2.3",
      "1.2.3.4.",
      " 1.2.3.4",
      "1.2.3.4 ",
      "1.2.3.4\n",
      "1.2.3.+4",
      "1.2.3.-4",
      "1.2.3.4e0",
      "0x1.2.3.4",
      "1.2.3.4/24",
      "1.2.3.4:80",
      "::ffff:1.2.3.4",
      "\uff11.2.3.4", // fullwidth digit one
      "",
      "1",
      "1.2.3.4".repeat(3),
      "1".repeat(100_000),
      `${"1.".repeat(5000)}1`,
    ]) {
      agrees(s);
    }
    assert.equal(parseIPv4("255.255.255.255"), 0xffffffff, "unsigned, not -1");
    assert.equal(parseIPv4("128.0.0.0"), 2 ** 31);
  });

  it("random strings over the relevant alphabet, and random valid addresses", () => {
    fc.assert(
      fc.property(
        fc.string({ unit: fc.constantFrom("0", "1", "2", "5", "9", ".", " ", ":", "a"), maxLength: 18 }),
        (s) => agrees(s),
      ),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.ipV4(), (s) => {
        agrees(s);
        assert.ok(parseIPv4(s) >= 0, s);
      }),
      { numRuns: 5_000 },
    );
  });

  it("parseIp gives the same as before for addresses the fast path takes or leaves", () => {
    assert.deepEqual(parseIp("8.8.4.4"), { version: 4, value: slowValue("8.8.4.4"), text: "8.8.4.4" });
    assert.deepEqual(parseIp(" 8.8.4.4 "), { version: 4, value: slowValue("8.8.4.4"), text: "8.8.4.4" });
    assert.equal(parseIp("08.8.4.4"), null);
  });
});

describe("lookupIp's own IPv4 tree walk", () => {
  it("finds the country mmdb-lib finds, for random public and mapped addresses", () => {
    preload();
    const pkg = createRequire(import.meta.url).resolve("@ip-location-db/geo-whois-asn-country-mmdb/package.json");
    const plain = new Reader<Response>(readFileSync(path.join(path.dirname(pkg), "geo-whois-asn-country.mmdb")));
    const countryOf = (ip: string) => {
      const cc = (plain.get(ip) as { country_code?: unknown } | null)?.country_code;
      return typeof cc === "string" && /^[A-Z]{2}$/.test(cc) ? cc : null;
    };
    let checked = 0;
    let withCountry = 0;
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        const parsed = parseIp(ip)!;
        if (isSpecialIp(parsed)) return;
        const asn = lookupAsn(parsed);
        const expected = { country: countryOf(ip), asn: asn?.asn ?? null, asOrg: asn?.org ?? null };
        assert.deepEqual(lookupIp(ip), expected, ip);
        assert.deepEqual(lookupIp(`::ffff:${ip}`), expected, `::ffff:${ip}`);
        checked++;
        if (expected.country) withCountry++;
      }),
      { numRuns: 20_000 },
    );
    assert.ok(withCountry > checked / 2, `${withCountry} of ${checked} addresses have a country`);
  });
});
