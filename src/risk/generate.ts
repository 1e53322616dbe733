/**
 * Synthetic login history in the column layout of the public RBA login data set (Wiefling et al., "Pump Up Password
 * Security!", ACM TOPS 2022; das-group/rba-dataset), for tests, the backtest and the benchmark. Deterministic for a
 * seed. Legitimate users have habits (home country and ISP, a work network for some, 1–3 devices, a main one,
 * occasional trips, mobile carrier NAT, some mistyped passwords); three attacker kinds try to take accounts over:
 *
 * - naive: a random attacker country and network, a random user agent;
 * - vpn: a VPN/hosting network in the victim's country, a random user agent;
 * - targeted: a residential network in the victim's country and the victim's own user agent string.
 */

export type AttackerKind = "naive" | "vpn" | "targeted";

export interface LoginRow {
  /** ms since the epoch, UTC */
  at: number;
  userId: string;
  ip: string;
  country: string;
  asn: string;
  userAgent: string;
  browser: string;
  os: string;
  deviceType: string;
  success: boolean;
  attackIp: boolean;
  takeover: boolean;
}

/** A row plus the ground truth the CSV does not carry: which attacker kind made it, if any. */
export interface GeneratedRow extends LoginRow {
  attacker: AttackerKind | null;
}

export interface GenerateOptions {
  users: number;
  days: number;
  seed: number;
  /** First day (UTC midnight); default 2026-01-01. */
  start?: number;
  /** Share of users an attacker goes after (default 0.05). */
  attackedShare?: number;
}

export const CSV_HEADER = [
  "Login Timestamp",
  "User ID",
  "IP Address",
  "Country",
  "ASN",
  "User Agent String",
  "Browser Name and Version",
  "OS Name and Version",
  "Device Type",
  "Login Successful",
  "Is Attack IP",
  "Is Account Takeover",
] as const;

/** mulberry32: tiny, fast, good enough for simulation; not for anything secret. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Network {
  asn: string;
  /** First two octets of the addresses handed out. */
  prefix: string;
  /** How many distinct addresses (CGNAT and VPN exits share few). */
  pool: number;
}

interface CountryNets {
  residential: Network[];
  mobile: Network;
  hosting: Network;
}

// Realistic-looking ASNs and prefixes per country; the data set's ASNs are integers, so are these.
const NETWORKS: Record<string, CountryNets> = {
  NO: {
    residential: [net(2119, "84.208"), net(29695, "81.167"), net(41164, "46.212")],
    mobile: net(12929, "77.16", 400),
    hosting: net(9009, "185.206", 40),
  },
  JP: {
    residential: [net(4713, "153.139"), net(2516, "106.154"), net(17676, "126.0")],
    mobile: net(9605, "49.96", 600),
    hosting: net(16509, "54.64", 60),
  },
  US: {
    residential: [net(7922, "73.15"), net(7018, "99.12"), net(701, "71.105")],
    mobile: net(21928, "172.58", 900),
    hosting: net(14061, "159.203", 80),
  },
  DE: {
    residential: [net(3320, "87.161"), net(6805, "95.91"), net(3209, "88.64")],
    mobile: net(12430, "80.187", 500),
    hosting: net(24940, "88.99", 60),
  },
  GB: {
    residential: [net(2856, "86.128"), net(5089, "82.10"), net(5607, "2.96")],
    mobile: net(12576, "94.197", 500),
    hosting: net(9009, "146.70", 40),
  },
  FR: {
    residential: [net(3215, "90.24"), net(12322, "82.64"), net(15557, "80.13")],
    mobile: net(51207, "37.164", 500),
    hosting: net(16276, "51.75", 60),
  },
  SE: {
    residential: [net(3301, "78.67"), net(2119, "90.224")],
    mobile: net(1257, "81.226", 400),
    hosting: net(42708, "185.65", 40),
  },
  TW: {
    residential: [net(3462, "114.32"), net(4780, "220.132")],
    mobile: net(24158, "39.8", 400),
    hosting: net(3462, "210.61", 40),
  },
  CN: {
    residential: [net(4134, "115.192"), net(4837, "123.112")],
    mobile: net(9808, "117.136", 600),
    hosting: net(45090, "129.28", 80),
  },
  RU: {
    residential: [net(12389, "95.24"), net(8359, "37.29")],
    mobile: net(31213, "85.140", 500),
    hosting: net(49505, "91.240", 80),
  },
  BR: {
    residential: [net(28573, "177.12"), net(18881, "189.6")],
    mobile: net(26615, "179.240", 500),
    hosting: net(268624, "45.162", 60),
  },
  VN: {
    residential: [net(7552, "113.160"), net(45899, "14.224")],
    mobile: net(24086, "42.112", 500),
    hosting: net(131414, "103.221", 60),
  },
  NG: {
    residential: [net(29465, "105.112")],
    mobile: net(36873, "197.210", 400),
    hosting: net(37282, "102.89", 40),
  },
  IN: {
    residential: [net(24560, "122.170"), net(9829, "117.200")],
    mobile: net(55836, "49.36", 900),
    hosting: net(14061, "139.59", 80),
  },
};

function net(asn: number, prefix: string, pool = 60_000): Network {
  return { asn: String(asn), prefix, pool };
}

// Where legitimate users live (weighted, the data set's service is Norwegian) and where naive attackers come from.
const HOME_COUNTRIES: [string, number][] = [
  ["NO", 0.35],
  ["JP", 0.2],
  ["US", 0.15],
  ["DE", 0.1],
  ["GB", 0.08],
  ["FR", 0.07],
  ["SE", 0.05],
];
const TRAVEL_COUNTRIES = ["NO", "JP", "US", "DE", "GB", "FR", "SE", "TW"];
const ATTACKER_COUNTRIES = ["CN", "RU", "BR", "VN", "NG", "IN", "US", "TW"];

interface Device {
  userAgent: string;
  browser: string;
  os: string;
  deviceType: string;
}

type DeviceMaker = (r: () => number) => Device;

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

const DEVICE_MAKERS: [DeviceMaker, number][] = [
  [
    (r) => {
      const v = pick(r, [118, 119, 120, 121, 122]);
      const win = pick(r, ["10", "11"]);
      return {
        userAgent: `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36`,
        browser: `Chrome ${v}.0.0`,
        os: `Windows ${win}`,
        deviceType: "desktop",
      };
    },
    0.3,
  ],
  [
    (r) => {
      const v = pick(r, [115, 120, 121, 122]);
      return {
        userAgent: `Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`,
        browser: `Firefox ${v}.0`,
        os: "Windows 10",
        deviceType: "desktop",
      };
    },
    0.08,
  ],
  [
    (r) => {
      const v = pick(r, [119, 120, 121]);
      return {
        userAgent: `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36 Edg/${v}.0.0.0`,
        browser: `Edge ${v}.0.0`,
        os: "Windows 10",
        deviceType: "desktop",
      };
    },
    0.1,
  ],
  [
    (r) => {
      const v = pick(r, ["16.6", "17.1", "17.2"]);
      return {
        userAgent: `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${v} Safari/605.1.15`,
        browser: `Safari ${v}`,
        os: "Mac OS X 10.15.7",
        deviceType: "desktop",
      };
    },
    0.1,
  ],
  [
    (r) => {
      const [a, b] = pick(r, [
        [16, 6],
        [17, 1],
        [17, 2],
      ] as const);
      return {
        userAgent: `Mozilla/5.0 (iPhone; CPU iPhone OS ${a}_${b} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${a}.${b} Mobile/15E148 Safari/604.1`,
        browser: `Mobile Safari ${a}.${b}`,
        os: `iOS ${a}.${b}`,
        deviceType: "mobile",
      };
    },
    0.22,
  ],
  [
    (r) => {
      const v = pick(r, [119, 120, 121]);
      const android = pick(r, [11, 12, 13, 14]);
      const model = pick(r, ["SM-G991B", "SM-A525F", "Pixel 7", "Pixel 6a", "M2101K6G", "CPH2305"]);
      return {
        userAgent: `Mozilla/5.0 (Linux; Android ${android}; ${model}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Mobile Safari/537.36`,
        browser: `Chrome Mobile ${v}.0.0`,
        os: `Android ${android}`,
        deviceType: "mobile",
      };
    },
    0.15,
  ],
  [
    (r) => {
      const [a, b] = pick(r, [
        [16, 6],
        [17, 2],
      ] as const);
      return {
        userAgent: `Mozilla/5.0 (iPad; CPU OS ${a}_${b} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/${a}.${b} Mobile/15E148 Safari/604.1`,
        browser: `Mobile Safari ${a}.${b}`,
        os: `iOS ${a}.${b}`,
        deviceType: "tablet",
      };
    },
    0.05,
  ],
];

function weighted<T>(r: () => number, xs: readonly [T, number][]): T {
  const total = xs.reduce((s, [, w]) => s + w, 0);
  let x = r() * total;
  for (const [v, w] of xs) {
    x -= w;
    if (x < 0) return v;
  }
  return xs[xs.length - 1]![0];
}

const randomDevice = (r: () => number) => weighted(r, DEVICE_MAKERS)(r);

function address(r: () => number, n: Network): string {
  const k = Math.floor(r() * n.pool);
  return `${n.prefix}.${(k >>> 8) & 255}.${k & 255 || 1}`;
}

/** The data set's user ids are signed 64-bit integers. */
function userId(r: () => number): string {
  const hi = BigInt(Math.floor(r() * 2 ** 32));
  const lo = BigInt(Math.floor(r() * 2 ** 32));
  return BigInt.asIntN(64, (hi << 32n) | lo).toString();
}

const DAY_MS = 86_400_000;

/** A time of day with most sign-ins in the daytime and evening (hours 7–23), some at night. */
function timeOfDay(r: () => number): number {
  const hour = r() < 0.9 ? 7 + r() * 16 : r() * 7;
  return Math.floor(hour * 3_600_000);
}

export function generateLogins(opts: GenerateOptions): GeneratedRow[] {
  const r = prng(opts.seed);
  const start = opts.start ?? Date.UTC(2026, 0, 1);
  const end = start + opts.days * DAY_MS;
  const rows: GeneratedRow[] = [];

  interface User {
    id: string;
    country: string;
    isp: Network;
    homeIp: string;
    work: { net: Network; ip: string } | null;
    devices: Device[];
  }
  const users: User[] = [];

  for (let u = 0; u < opts.users; u++) {
    const country = weighted(r, HOME_COUNTRIES);
    const nets = NETWORKS[country]!;
    const isp = pick(r, nets.residential);
    const workNet = pick(r, nets.residential);
    const user: User = {
      id: userId(r),
      country,
      isp,
      homeIp: address(r, isp),
      work: r() < 0.3 ? { net: workNet, ip: address(r, workNet) } : null,
      devices: Array.from({ length: 1 + Math.floor(r() * r() * 3) }, () => randomDevice(r)),
    };
    users.push(user);
    // Sign-ins per day, log-uniform in [0.1, 3]: a few heavy users, many occasional ones.
    const rate = 0.1 * 30 ** r();
    const trip =
      r() < 0.15
        ? { from: start + Math.floor(r() * (end - start)), days: 3 + r() * 7, country: pick(r, TRAVEL_COUNTRIES) }
        : null;
    for (let day = 0; day < opts.days; day++) {
      let n = 0;
      // Poisson(rate) by inversion.
      for (let p = Math.exp(-rate), s = p, x = r(); x > s; ) {
        n++;
        p *= rate / n;
        s += p;
      }
      for (let i = 0; i < n; i++) {
        const at = start + day * DAY_MS + timeOfDay(r);
        const device = r() < 0.75 ? user.devices[0]! : pick(r, user.devices);
        let place: { country: string; asn: string; ip: string };
        if (trip && trip.country !== country && at >= trip.from && at < trip.from + trip.days * DAY_MS) {
          const abroad = NETWORKS[trip.country]!;
          const n2 = r() < 0.5 ? abroad.mobile : pick(r, abroad.residential); // roaming or the hotel's line
          place = { country: trip.country, asn: n2.asn, ip: address(r, n2) };
        } else if (device.deviceType === "mobile" && r() < 0.5) {
          place = { country, asn: nets.mobile.asn, ip: address(r, nets.mobile) };
        } else if (user.work && r() < 0.35) {
          place = { country, asn: user.work.net.asn, ip: user.work.ip };
        } else {
          // Dynamic home addresses change now and then.
          if (r() < 0.03) user.homeIp = address(r, isp);
          place = { country, asn: isp.asn, ip: user.homeIp };
        }
        const base = { userId: user.id, ...place, ...device, attackIp: false, takeover: false, attacker: null };
        // Now and then a mistyped password, then the right one shortly after.
        const typo = r() < 0.06;
        if (typo) rows.push({ ...base, at, success: false });
        rows.push({ ...base, at: typo ? at + 20_000 + Math.floor(r() * 40_000) : at, success: true });
      }
    }
  }

  // Attackers. Each kind keeps a small pool of IPs reused across victims (credential stuffing), all flagged.
  const share = opts.attackedShare ?? 0.05;
  const kinds: AttackerKind[] = ["naive", "vpn", "targeted"];
  const naivePool = Array.from({ length: 3 + Math.ceil(opts.users / 200) }, () => {
    const nets = NETWORKS[pick(r, ATTACKER_COUNTRIES)]!;
    const n = r() < 0.6 ? nets.hosting : pick(r, nets.residential);
    return { country: countryOf(n), asn: n.asn, ip: address(r, n) };
  });
  for (const victim of users) {
    if (r() >= share) continue;
    const kind = pick(r, kinds);
    // In the second half of the period, so the victim has a history to be judged against.
    let at = start + Math.floor((0.5 + 0.5 * r()) * (end - start));
    let place: { country: string; asn: string; ip: string };
    let device: Device;
    if (kind === "naive") {
      place = pick(r, naivePool);
      device = randomDevice(r);
    } else if (kind === "vpn") {
      const vpn = NETWORKS[victim.country]!.hosting;
      place = { country: victim.country, asn: vpn.asn, ip: address(r, vpn) };
      device = randomDevice(r);
    } else {
      const n = pick(r, NETWORKS[victim.country]!.residential);
      place = { country: victim.country, asn: n.asn, ip: address(r, n) };
      device = victim.devices[0]!;
    }
    const base = { userId: victim.id, ...place, ...device, attackIp: true, attacker: kind };
    const failures = Math.floor(r() * 4);
    for (let i = 0; i < failures; i++) {
      rows.push({ ...base, at, success: false, takeover: false });
      at += 5_000 + Math.floor(r() * 60_000);
    }
    // Leaked passwords are often still valid.
    if (r() < 0.6) rows.push({ ...base, at, success: true, takeover: true });
  }

  // Stable: equal times keep generation order (a failure before its retry).
  return rows.filter((row) => row.at < end).sort((a, b) => a.at - b.at);
}

function countryOf(n: Network): string {
  for (const [c, nets] of Object.entries(NETWORKS)) {
    if (nets.hosting === n || nets.mobile === n || nets.residential.includes(n)) return c;
  }
  throw new Error(`network ${n.asn} has no country`);
}

/** The data set's timestamp format: "2020-02-03 12:43:30.772" (UTC). */
export function formatTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace("T", " ").replace("Z", "");
}

function csvField(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

const bool = (b: boolean) => (b ? "True" : "False");

export function csvLine(row: LoginRow): string {
  return [
    formatTimestamp(row.at),
    row.userId,
    row.ip,
    row.country,
    row.asn,
    row.userAgent,
    row.browser,
    row.os,
    row.deviceType,
    bool(row.success),
    bool(row.attackIp),
    bool(row.takeover),
  ]
    .map(csvField)
    .join(",");
}

/** Writes the header and rows, honouring back-pressure so large files do not pile up in memory. */
export async function writeCsv(rows: Iterable<LoginRow>, out: NodeJS.WritableStream): Promise<void> {
  const write = (s: string) =>
    out.write(s) ? Promise.resolve() : new Promise<void>((resolve) => out.once("drain", () => resolve()));
  await write(`${CSV_HEADER.join(",")}\n`);
  let batch = "";
  for (const row of rows) {
    batch += `${csvLine(row)}\n`;
    if (batch.length > 1 << 16) {
      await write(batch);
      batch = "";
    }
  }
  if (batch) await write(batch);
}
