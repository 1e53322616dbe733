import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, it } from "node:test";
import { lookupIp } from "./geo.ts";
import {
  asnKind,
  asnTableCli,
  checkAsnTable,
  createAsnClassifier,
  loadAsnTable,
  mergeAsnList,
  parseAsnList,
} from "./hosting.ts";

describe("hosting/VPN ASN table", () => {
  it("classifies cloud, VPS and VPN exits met from Japan, looked up from their addresses in the bundled data", () => {
    const cases: [string, string][] = [
      ["3.112.0.10", "hosting"], // AWS Tokyo (AS16509)
      ["20.48.0.10", "hosting"], // Azure Japan East (AS8075)
      ["34.84.0.10", "hosting"], // Google Cloud Tokyo
      ["160.16.0.10", "hosting"], // SAKURA Internet VPS
      ["133.130.96.1", "hosting"], // GMO Internet (ConoHa)
      ["150.95.10.1", "hosting"], // GMO Internet
      ["139.162.64.10", "hosting"], // Linode Tokyo
    ];
    for (const [ip, kind] of cases) {
      const info = lookupIp(ip);
      assert.equal(asnKind(info.asn), kind, `${ip} AS${info.asn} ${info.asOrg}`);
    }
  });

  it("never classifies Japan's consumer fixed and mobile networks (the residential proxies' addresses)", () => {
    for (const ip of ["153.150.10.20", "126.10.1.1", "106.128.1.1", "114.160.1.1", "1.72.1.1", "49.96.1.1"]) {
      const info = lookupIp(ip);
      assert.equal(info.country, "JP", ip);
      assert.equal(asnKind(info.asn), null, `${ip} AS${info.asn} ${info.asOrg}`);
    }
    const t = loadAsnTable();
    for (const asn of Object.keys(t.neverHosting)) assert.equal(asnKind(Number(asn)), null, `AS${asn}`);
    assert.equal(asnKind(null), null);
  });

  it("every entry is well formed and every source is named with its licence", () => {
    const t = loadAsnTable();
    assert.ok(Object.keys(t.asns).length >= 40);
    for (const s of t.sources) assert.ok(s.name && s.url && s.licence, JSON.stringify(s));
    assert.throws(() => checkAsnTable({ ...t, asns: { "4713": { kind: "hosting", name: "x" } } }), /consumer/);
    assert.throws(() => checkAsnTable({ ...t, asns: { "12": { kind: "isp", name: "x" } } }), /kind/);
    assert.throws(() => checkAsnTable({ ...t, asns: { AS12: { kind: "vpn", name: "x" } } }), /AS number/);
  });

  it("parses X4BNet lines, CSV rows and bare numbers", () => {
    const list = parseAsnList(
      [
        "# a comment",
        "AS45090 # Tencent cloud computing",
        '"ASN","Entity"',
        '"14061","DigitalOcean, LLC"',
        "AS9009,M247",
        "  20473  ",
        "not an asn",
        "AS0 # reserved",
        "",
      ].join("\n"),
    );
    assert.deepEqual(list, [
      { asn: 45090, name: "Tencent cloud computing" },
      { asn: 14061, name: "DigitalOcean, LLC" },
      { asn: 9009, name: "M247" },
      { asn: 20473, name: "" },
    ]);
  });

  it("merging a list adds new ASNs, keeps curated ones, and refuses consumer networks", () => {
    const t = loadAsnTable();
    const r = mergeAsnList(
      t,
      [
        { asn: 64500, name: "Example hosting" },
        { asn: 16509, name: "renamed" },
        { asn: 4713, name: "OCN, wrongly listed" },
      ],
      { kind: "vpn", source: "test", updated: "2026-12-03" },
    );
    assert.deepEqual(r.added, [64500]);
    assert.deepEqual(r.skipped, [4713]);
    assert.deepEqual(r.table.asns["64500"], { kind: "vpn", name: "Example hosting", source: "test" });
    assert.equal(r.table.asns["16509"]!.name, t.asns["16509"]!.name);
    const classify = createAsnClassifier(r.table);
    assert.equal(classify(64500), "vpn");
    assert.equal(classify(4713), null);
  });

  it("mamori asn-table build rewrites a table from a given list", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "mamori-asn-"));
    try {
      const table = path.join(dir, "table.json");
      writeFileSync(table, JSON.stringify(loadAsnTable()));
      const list = path.join(dir, "ASN.txt");
      writeFileSync(list, "AS64501 # Example VPS\nAS2516 # KDDI\n");
      const lines: string[] = [];
      const code = asnTableCli(
        ["build", "--list", list, "--kind", "hosting", "--table", table, "--source", "X4BNet"],
        (s) => lines.push(s),
        new Date("2026-12-24T00:00:00Z"),
      );
      assert.equal(code, 0, lines.join("\n"));
      assert.match(lines[0]!, /2 ASNs read; 1 added as hosting; 1 skipped as consumer networks \(AS2516\)/);
      const written = checkAsnTable(JSON.parse(readFileSync(table, "utf8")));
      assert.equal(written.updated, "2026-12-24");
      assert.equal(written.asns["64501"]!.source, "X4BNet");
      assert.equal(
        asnTableCli(["build", "--list", list], () => {}),
        2,
        "a kind is required",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
