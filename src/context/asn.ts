import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { type ParsedIp, splitU128 } from "./ip.ts";

/**
 * IP → autonomous system from @ip-location-db/asn (RouteViews + NRO + DB-IP, CC BY 4.0; attribution to DB-IP is
 * required where results are shown). The package ships only CSVs (start,end,asn,org with inclusive numeric ranges),
 * so they are parsed once into sorted typed arrays and searched by binary search: ~0.5 M rows in ~20 MB of heap
 * instead of ~0.5 M JS objects.
 */

interface V4Table {
  start: Uint32Array;
  end: Uint32Array;
  asn: Uint32Array;
  org: Uint32Array;
}

interface V6Table {
  startHi: BigUint64Array;
  startLo: BigUint64Array;
  endHi: BigUint64Array;
  endLo: BigUint64Array;
  asn: Uint32Array;
  org: Uint32Array;
}

interface AsnTables {
  v4: V4Table;
  v6: V6Table;
  /** Deduplicated organisation names; rows hold an index into this list (75 k names for 410 k v4 rows). */
  orgs: string[];
}

export interface AsnLoadStats {
  ms: number;
  v4Rows: number;
  v6Rows: number;
  orgs: number;
}

let tables: AsnTables | null = null;
let stats: AsnLoadStats | null = null;

function dataDir(): string {
  return path.dirname(createRequire(import.meta.url).resolve("@ip-location-db/asn/package.json"));
}

const NL = 0x0a;
const COMMA = 0x2c;
const QUOTE = 0x22;

/** Calls `row` with byte offsets of the four fields of each line; the org field may be quoted with "" escapes. */
function scanCsv(buf: Buffer, row: (f0: number, f1: number, f2: number, orgStart: number, orgEnd: number) => void) {
  let pos = 0;
  while (pos < buf.length) {
    let eol = buf.indexOf(NL, pos);
    if (eol === -1) eol = buf.length;
    const c1 = buf.indexOf(COMMA, pos);
    const c2 = buf.indexOf(COMMA, c1 + 1);
    const c3 = buf.indexOf(COMMA, c2 + 1);
    let end = eol;
    if (end > pos && buf[end - 1] === 0x0d) end--;
    if (c1 !== -1 && c3 !== -1 && c3 < end) row(pos, c1 + 1, c2 + 1, c3 + 1, end);
    pos = eol + 1;
  }
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(NL); i !== -1; i = buf.indexOf(NL, i + 1)) n++;
  return buf.length > 0 && buf[buf.length - 1] !== NL ? n + 1 : n;
}

function parseUint(buf: Buffer, from: number): number {
  let n = 0;
  for (let i = from; i < buf.length; i++) {
    const c = buf[i]! - 0x30;
    if (c < 0 || c > 9) break;
    n = n * 10 + c;
  }
  return n;
}

function readOrg(buf: Buffer, from: number, to: number): string {
  if (buf[from] === QUOTE && to - from >= 2 && buf[to - 1] === QUOTE) {
    return buf.toString("utf8", from + 1, to - 1).replaceAll('""', '"');
  }
  return buf.toString("utf8", from, to);
}

/** Row order by start address, or null when the file is already sorted (it is, today). */
function sortOrder(n: number, less: (a: number, b: number) => boolean): Uint32Array | null {
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) if (less(i, i - 1)) sorted = false;
  if (sorted) return null;
  const idx = Array.from({ length: n }, (_, i) => i);
  idx.sort((a, b) => (less(a, b) ? -1 : less(b, a) ? 1 : 0));
  return Uint32Array.from(idx);
}

function permute<T extends Uint32Array | BigUint64Array>(arr: T, order: Uint32Array): T {
  const out = arr.slice() as T;
  for (let i = 0; i < order.length; i++) out[i] = arr[order[i]!]!;
  return out;
}

function loadV4(buf: Buffer, internOrg: (s: string) => number): V4Table {
  const cap = countLines(buf);
  const t: V4Table = {
    start: new Uint32Array(cap),
    end: new Uint32Array(cap),
    asn: new Uint32Array(cap),
    org: new Uint32Array(cap),
  };
  let n = 0;
  scanCsv(buf, (f0, f1, f2, o0, o1) => {
    t.start[n] = parseUint(buf, f0);
    t.end[n] = parseUint(buf, f1);
    t.asn[n] = parseUint(buf, f2);
    t.org[n] = internOrg(readOrg(buf, o0, o1));
    n++;
  });
  const order = sortOrder(n, (a, b) => t.start[a]! < t.start[b]!);
  const keys = ["start", "end", "asn", "org"] as const;
  for (const k of keys) {
    t[k] = t[k].subarray(0, n).slice();
    if (order) t[k] = permute(t[k], order);
  }
  return t;
}

function loadV6(buf: Buffer, internOrg: (s: string) => number): V6Table {
  const cap = countLines(buf);
  const t: V6Table = {
    startHi: new BigUint64Array(cap),
    startLo: new BigUint64Array(cap),
    endHi: new BigUint64Array(cap),
    endLo: new BigUint64Array(cap),
    asn: new Uint32Array(cap),
    org: new Uint32Array(cap),
  };
  let n = 0;
  scanCsv(buf, (f0, f1, f2, o0, o1) => {
    // 128-bit decimals do not fit a double: BigInt, split into two 64-bit halves.
    const [sh, sl] = splitU128(BigInt(buf.toString("latin1", f0, f1 - 1)));
    const [eh, el] = splitU128(BigInt(buf.toString("latin1", f1, f2 - 1)));
    t.startHi[n] = sh;
    t.startLo[n] = sl;
    t.endHi[n] = eh;
    t.endLo[n] = el;
    t.asn[n] = parseUint(buf, f2);
    t.org[n] = internOrg(readOrg(buf, o0, o1));
    n++;
  });
  const order = sortOrder(
    n,
    (a, b) => t.startHi[a]! < t.startHi[b]! || (t.startHi[a] === t.startHi[b] && t.startLo[a]! < t.startLo[b]!),
  );
  t.startHi = order ? permute(t.startHi.subarray(0, n), order) : t.startHi.slice(0, n);
  t.startLo = order ? permute(t.startLo.subarray(0, n), order) : t.startLo.slice(0, n);
  t.endHi = order ? permute(t.endHi.subarray(0, n), order) : t.endHi.slice(0, n);
  t.endLo = order ? permute(t.endLo.subarray(0, n), order) : t.endLo.slice(0, n);
  t.asn = order ? permute(t.asn.subarray(0, n), order) : t.asn.slice(0, n);
  t.org = order ? permute(t.org.subarray(0, n), order) : t.org.slice(0, n);
  return t;
}

/** Parses both CSVs (synchronously: ~1 s of CPU). Call at startup so the first request does not pay for it. */
export function preloadAsn(): AsnLoadStats {
  if (tables && stats) return stats;
  const started = performance.now();
  const dir = dataDir();
  const orgs: string[] = [];
  const index = new Map<string, number>();
  const internOrg = (s: string) => {
    let i = index.get(s);
    if (i === undefined) {
      i = orgs.length;
      orgs.push(s);
      index.set(s, i);
    }
    return i;
  };
  const v4 = loadV4(readFileSync(path.join(dir, "asn-ipv4-num.csv")), internOrg);
  const v6 = loadV6(readFileSync(path.join(dir, "asn-ipv6-num.csv")), internOrg);
  tables = { v4, v6, orgs };
  stats = { ms: performance.now() - started, v4Rows: v4.start.length, v6Rows: v6.startHi.length, orgs: orgs.length };
  return stats;
}

export interface AsnInfo {
  asn: number;
  org: string | null;
}

/** Last row whose start ≤ the address (rows are sorted by start), if the address is inside it. */
export function lookupAsn(ip: ParsedIp): AsnInfo | null {
  if (ip.version === 4) return lookupAsnV4(ip.value);
  if (!tables) preloadAsn();
  const { v6, orgs } = tables!;
  let lo = 0;
  let hi = v6.startHi.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const sh = v6.startHi[mid]!;
    if (sh < ip.hi || (sh === ip.hi && v6.startLo[mid]! <= ip.lo)) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found === -1) return null;
  const eh = v6.endHi[found]!;
  if (eh < ip.hi || (eh === ip.hi && v6.endLo[found]! < ip.lo)) return null;
  return row(v6.asn[found]!, v6.org[found]!, orgs);
}

/** lookupAsn for an IPv4 address as an unsigned 32-bit number (the enricher's fast path has no ParsedIp). */
export function lookupAsnV4(value: number): AsnInfo | null {
  if (!tables) preloadAsn();
  const { v4, orgs } = tables!;
  const start = v4.start;
  let lo = 0;
  let hi = start.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (start[mid]! <= value) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found === -1 || v4.end[found]! < value) return null;
  return row(v4.asn[found]!, v4.org[found]!, orgs);
}

function row(asn: number, org: number, orgs: string[]): AsnInfo | null {
  if (asn === 0) return null;
  const name = orgs[org];
  return { asn, org: name ? name : null };
}
