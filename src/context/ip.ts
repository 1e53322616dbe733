import { isIPv4, isIPv6 } from "node:net";

/** A parsed address: IPv4 as an unsigned 32-bit number, IPv6 as two unsigned 64-bit halves. */
export type ParsedIp =
  | { version: 4; value: number; text: string }
  | { version: 6; hi: bigint; lo: bigint; text: string };

const MASK64 = (1n << 64n) - 1n;

function v4ToNumber(s: string): number {
  const [a = 0, b = 0, c = 0, d = 0] = s.split(".").map(Number);
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function numberToV4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Eight 16-bit groups; the input has already passed isIPv6. */
function v6Groups(s: string): number[] {
  let text = s;
  const tail: number[] = [];
  if (text.includes(".")) {
    // Dotted tail (::ffff:1.2.3.4): two groups from the IPv4 part; keep a "::" if it ends the hex part.
    const cut = text.lastIndexOf(":");
    const v4 = v4ToNumber(text.slice(cut + 1));
    tail.push(v4 >>> 16, v4 & 0xffff);
    text = text.slice(0, cut + 1);
    if (!text.endsWith("::")) text = text.slice(0, -1);
  }
  const [head = "", rest] = text.split("::");
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => Number.parseInt(g, 16)));
  const left = parse(head);
  const right = rest === undefined ? [] : parse(rest);
  const zeros = 8 - tail.length - left.length - right.length;
  return [...left, ...new Array<number>(Math.max(zeros, 0)).fill(0), ...right, ...tail];
}

/**
 * A dotted-quad IPv4 literal as an unsigned 32-bit number, or -1 for anything else. Accepts exactly what node:net
 * isIPv4 accepts (four decimal octets 0–255 without leading zeros, nothing around them) without its regex and the
 * split/map of the general parser; the hot path tries this first and falls back to `parseIp` on -1.
 */
export function parseIPv4(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let value = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || dots === 3) return -1;
      value = value * 256 + octet; // arithmetic, not <<: stays unsigned past 2^31
      octet = 0;
      digits = 0;
      dots++;
    } else {
      const d = c - 0x30;
      if (d < 0 || d > 9) return -1;
      if (digits === 1 && octet === 0) return -1; // "01": isIPv4 rejects leading zeros (octal ambiguity)
      octet = octet * 10 + d;
      if (octet > 255) return -1; // also bounds an octet to 3 digits
      digits++;
    }
  }
  if (digits === 0 || dots !== 3) return -1;
  return value * 256 + octet;
}

/**
 * Parses an IP literal. IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) addresses become the IPv4 address
 * they carry, since that is where the request really comes from. Zone ids (fe80::1%eth0) are dropped.
 */
export function parseIp(input: string): ParsedIp | null {
  if (input.length > 64) return null;
  const fast = parseIPv4(input);
  // Digits and dots only, so trimming would not have changed the text.
  if (fast >= 0) return { version: 4, value: fast, text: input };
  const s = input.trim();
  if (isIPv4(s)) return { version: 4, value: v4ToNumber(s), text: s };
  const noZone = s.includes("%") ? s.slice(0, s.indexOf("%")) : s;
  if (!isIPv6(noZone)) return null;
  const g = v6Groups(noZone.toLowerCase());
  let hi = 0n;
  let lo = 0n;
  for (let i = 0; i < 4; i++) hi = (hi << 16n) | BigInt(g[i] ?? 0);
  for (let i = 4; i < 8; i++) lo = (lo << 16n) | BigInt(g[i] ?? 0);
  const embedded = Number(lo & 0xffffffffn);
  if (hi === 0n && lo >> 32n === 0xffffn) return { version: 4, value: embedded, text: numberToV4(embedded) };
  if (hi === 0x0064ff9b00000000n && lo >> 32n === 0n)
    return { version: 4, value: embedded, text: numberToV4(embedded) };
  return { version: 6, hi, lo, text: noZone };
}

/** hi/lo halves of a 128-bit unsigned integer. */
export function splitU128(n: bigint): [bigint, bigint] {
  return [(n >> 64n) & MASK64, n & MASK64];
}

// [network, prefix length] of IPv4 space that is not a public, routed source address (RFC 6890 and friends).
const V4_SPECIAL: [string, number][] = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8], // RFC 1918
  ["100.64.0.0", 10], // carrier-grade NAT (RFC 6598)
  ["127.0.0.0", 8], // loopback
  ["169.254.0.0", 16], // link-local
  ["172.16.0.0", 12], // RFC 1918
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // TEST-NET-1
  ["192.168.0.0", 16], // RFC 1918
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // TEST-NET-2
  ["203.0.113.0", 24], // TEST-NET-3
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved + broadcast
];
const V4_SPECIAL_RANGES = V4_SPECIAL.map(([net, len]) => {
  const start = v4ToNumber(net);
  return [start, (start + 2 ** (32 - len) - 1) >>> 0] as const;
});

const V4_SPECIAL_STARTS = Uint32Array.from(V4_SPECIAL_RANGES, ([start]) => start);
const V4_SPECIAL_ENDS = Uint32Array.from(V4_SPECIAL_RANGES, ([, end]) => end);

/** isSpecialIp for an IPv4 address as a number (a plain loop: this runs on every lookup). */
export function isSpecialV4(value: number): boolean {
  for (let i = 0; i < V4_SPECIAL_STARTS.length; i++) {
    if (value >= V4_SPECIAL_STARTS[i]! && value <= V4_SPECIAL_ENDS[i]!) return true;
  }
  return false;
}

/** True for private, loopback, link-local, documentation, multicast and other non-public addresses. */
export function isSpecialIp(ip: ParsedIp): boolean {
  if (ip.version === 4) return isSpecialV4(ip.value);
  const top16 = Number(ip.hi >> 48n);
  // Outside global unicast 2000::/3: ::, ::1, fc00::/7 unique local, fe80::/10 link-local, ff00::/8 multicast…
  if ((top16 & 0xe000) !== 0x2000) return true;
  if (Number(ip.hi >> 32n) === 0x20010db8) return true; // 2001:db8::/32 documentation
  return Number(ip.hi >> 44n) === 0x3fff0; // 3fff::/20 documentation (RFC 9637)
}

/**
 * The network an address belongs to, as one key: IPv4 /24, IPv6 /48 (what one customer or one small provider holds,
 * so a home's churning address stays in one network and a proxy pool's addresses spread over many). Null for a
 * non-IP. Used by the sign-in throttle's counters and by the risk engine's "network the account never used".
 */
export function networkOf(ip: string): string | null {
  const fast = parseIPv4(ip);
  if (fast >= 0) return `${(fast >>> 8).toString(16)}/24`;
  const p = parseIp(ip);
  if (!p) return null;
  if (p.version === 4) return `${(p.value >>> 8).toString(16)}/24`;
  return `${(p.hi >> 16n).toString(16)}/48`;
}
