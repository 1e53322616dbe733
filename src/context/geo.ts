import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Reader, type Response } from "mmdb-lib";
import { type AsnLoadStats, lookupAsn, lookupAsnV4, preloadAsn } from "./asn.ts";
import { isSpecialIp, isSpecialV4, parseIPv4, parseIp } from "./ip.ts";

export interface IpInfo {
  country: string | null;
  asn: number | null;
  asOrg: string | null;
}

const NOTHING: IpInfo = Object.freeze({ country: null, asn: null, asOrg: null });

interface CountryDb {
  reader: Reader<Response>;
  db: Buffer;
  nodeCount: number;
  recordSize: number;
  nodeByteSize: number;
  /** Node where the IPv4 space (::a.b.c.d) starts, as mmdb-lib computes it. */
  v4Start: number;
  /** Validated country code by data pointer; bounded by the data section (1.7 kB today, a record per country). */
  byPointer: Map<number, string | null>;
}

let countryDb: CountryDb | null = null;

// geo-whois-asn-country (CC0): country by GeoFeed > RIR whois > ASN, IPv4 and IPv6 in one file (~8 MB, off-heap).
function countries(): CountryDb {
  if (!countryDb) {
    const pkg = createRequire(import.meta.url).resolve("@ip-location-db/geo-whois-asn-country-mmdb/package.json");
    const db = readFileSync(path.join(path.dirname(pkg), "geo-whois-asn-country.mmdb"));
    // mmdb-lib's decode cache (keyed by data offset) spares the IPv6 path re-decoding the same few records; it is
    // bounded by the data section's size.
    const reader = new Reader<Response>(db, { cache: new Map() });
    const { nodeCount, recordSize, nodeByteSize, ipVersion } = reader.metadata;
    let v4Start = 0;
    if (ipVersion !== 4)
      for (let i = 0; i < 96 && v4Start < nodeCount; i++) v4Start = record(db, recordSize, v4Start * nodeByteSize, 0);
    countryDb = { reader, db, nodeCount, recordSize, nodeByteSize, v4Start, byPointer: new Map() };
  }
  return countryDb;
}

/** Left (bit 0) or right (bit 1) record of the node at `offset`, as mmdb-lib's walker reads it. */
function record(db: Buffer, recordSize: number, offset: number, bit: number): number {
  if (recordSize === 24) {
    const o = bit === 0 ? offset : offset + 3;
    return (db[o]! << 16) | (db[o + 1]! << 8) | db[o + 2]!;
  }
  if (recordSize === 28) {
    return bit === 0
      ? ((db[offset + 3]! & 0xf0) << 20) | (db[offset]! << 16) | (db[offset + 1]! << 8) | db[offset + 2]!
      : ((db[offset + 3]! & 0x0f) << 24) | (db[offset + 4]! << 16) | (db[offset + 5]! << 8) | db[offset + 6]!;
  }
  return db.readUInt32BE(bit === 0 ? offset : offset + 4);
}

function countryCode(record: Response | null): string | null {
  const cc = (record as { country_code?: unknown } | null)?.country_code;
  return typeof cc === "string" && /^[A-Z]{2}$/.test(cc) ? cc : null;
}

/**
 * Country of an IPv4 address (`text` is its dotted form): mmdb-lib's tree walk done on the number rather than on
 * the text, and the record decoded once per data pointer instead of once per lookup.
 */
function countryOfV4(value: number, text: string): string | null {
  const c = countries();
  const { db, nodeCount, recordSize, nodeByteSize } = c;
  let node = c.v4Start;
  for (let depth = 0; depth < 32 && node < nodeCount; depth++) {
    node = record(db, recordSize, node * nodeByteSize, (value >>> (31 - depth)) & 1);
  }
  if (node <= nodeCount) return null; // nodeCount itself means "not in the database"
  let cc = c.byPointer.get(node);
  if (cc === undefined) {
    // First time for this record: let mmdb-lib resolve and decode it.
    cc = countryCode(c.reader.get(text));
    c.byPointer.set(node, cc);
  }
  return cc;
}

function lookupV4(value: number, text: string): IpInfo {
  if (isSpecialV4(value)) return NOTHING;
  const country = countryOfV4(value, text);
  const asn = lookupAsnV4(value);
  return { country, asn: asn?.asn ?? null, asOrg: asn?.org ?? null };
}

/** Loads the country database and the ASN tables now rather than on the first request. */
export function preload(): { countryMs: number; asn: AsnLoadStats } {
  const started = performance.now();
  countries();
  const countryMs = performance.now() - started;
  return { countryMs, asn: preloadAsn() };
}

/**
 * Country and network of a client address. Private, loopback, link-local, documentation and unparsable addresses
 * give all nulls: they say nothing about where the user is (and usually mean a proxy header is missing).
 */
export function lookupIp(ip: string): IpInfo {
  // Most clients are plain IPv4: no ParsedIp, no regex.
  const v4 = parseIPv4(ip);
  if (v4 >= 0) return lookupV4(v4, ip);
  const parsed = parseIp(ip);
  if (!parsed) return NOTHING;
  // IPv4-mapped and NAT64 addresses: text is the dotted IPv4 form.
  if (parsed.version === 4) return lookupV4(parsed.value, parsed.text);
  if (isSpecialIp(parsed)) return NOTHING;
  const asn = lookupAsn(parsed);
  return { country: countryCode(countries().reader.get(parsed.text)), asn: asn?.asn ?? null, asOrg: asn?.org ?? null };
}
