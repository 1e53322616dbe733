import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { Reader, type Response } from "mmdb-lib";
import { type AsnLoadStats, lookupAsn, preloadAsn } from "./asn.ts";
import { isSpecialIp, parseIp } from "./ip.ts";

export interface IpInfo {
  country: string | null;
  asn: number | null;
  asOrg: string | null;
}

const NOTHING: IpInfo = Object.freeze({ country: null, asn: null, asOrg: null });

let countryReader: Reader<Response> | null = null;

// geo-whois-asn-country (CC0): country by GeoFeed > RIR whois > ASN, IPv4 and IPv6 in one file (~8 MB, off-heap).
function countries(): Reader<Response> {
  if (!countryReader) {
    const pkg = createRequire(import.meta.url).resolve("@ip-location-db/geo-whois-asn-country-mmdb/package.json");
    countryReader = new Reader<Response>(readFileSync(path.join(path.dirname(pkg), "geo-whois-asn-country.mmdb")));
  }
  return countryReader;
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
  const parsed = parseIp(ip);
  if (!parsed || isSpecialIp(parsed)) return NOTHING;
  const record = countries().get(parsed.text) as { country_code?: unknown } | null;
  const cc = record?.country_code;
  const asn = lookupAsn(parsed);
  return {
    country: typeof cc === "string" && /^[A-Z]{2}$/.test(cc) ? cc : null,
    asn: asn?.asn ?? null,
    asOrg: asn?.org ?? null,
  };
}
