/**
 * Synthetic login history in the column layout of the public RBA login data set (Wiefling et al., "Pump Up Password
 * Security!", ACM TOPS 2022; das-group/rba-dataset), for tests, the backtest and the benchmark. Deterministic for a
 * seed. Legitimate users have habits and drift: a home country and ISP whose address changes now and then (and, for
 * some, a switch of ISP), a work network for some (a few behind a corporate cloud proxy), 1–3 devices with one main
 * one, browsers that update themselves on the vendors' release cadence (each device with its own lag), new phones,
 * trips abroad, mobile carrier NAT, cafés and friends' lines, mistyped passwords. Four attacker kinds:
 *
 * - stuffing: campaigns of leaked credentials over many accounts (most not the store's, most passwords stale), from a
 *   pool of hosting addresses or a pool of residential proxies in the victim's own country, random browsers;
 * - naive: one attacker per victim, a network abroad, a random browser;
 * - vpn: a hosting/VPN exit in the victim's country, a random browser;
 * - targeted: a consumer ISP in the victim's country, the same browser family and OS as the victim's main device, but
 *   the attacker's own device (its own version, on its own update lag).
 *
 * Device cookies (the "Device ID" column, which the public data set lacks) come from a stream of their own, so every
 * other column is what it was before the column existed: each device keeps its cookie until it is lost (most users
 * lose it rarely, some often — cleaners, tracking prevention — a few never keep one, and a few send none at all); a
 * new phone brings a new one. Attackers bring their own device (targeted, naive, vpn: one cookie each); stuffing
 * tools send none or a fresh one per attempt.
 *
 * The generator is not the model's data: the model's weights are fitted on one seed and judged on others
 * (docs/risk.md).
 */

export type AttackerKind = "stuffing" | "naive" | "vpn" | "targeted";
export const ATTACKER_KINDS: readonly AttackerKind[] = ["stuffing", "naive", "vpn", "targeted"];

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
  /** The store's device cookie; "" when none was sent. */
  deviceId: string;
  success: boolean;
  attackIp: boolean;
  takeover: boolean;
}

/** A row plus the ground truth the CSV does not carry: which attacker kind made it, if any. */
export interface GeneratedRow extends LoginRow {
  attacker: AttackerKind | null;
  /** Stuffing only: which pool the address came from. */
  pool?: "hosting" | "residential";
}

export interface GenerateOptions {
  users: number;
  days: number;
  seed: number;
  /** First day (UTC midnight); default 2026-01-01. */
  start?: number;
  /** Share of users a naive, vpn or targeted attacker goes after (default 0.05). */
  attackedShare?: number;
  /** Credential-stuffing campaigns (default 2: one from hosting addresses, one from residential proxies). */
  stuffingCampaigns?: number;
  /** Attempts per campaign (default 3 × users). */
  stuffingAttempts?: number;
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
  "Device ID",
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
  /** Cloud, datacenter and VPN exits in the country; the last one a small host no curated table knows. */
  hosting: Network[];
}

// Realistic-looking ASNs and prefixes per country; the data set's ASNs are integers, so are these.
const NETWORKS: Record<string, CountryNets> = {
  NO: {
    residential: [net(2119, "84.208"), net(29695, "81.167"), net(41164, "46.212")],
    mobile: net(12929, "77.16", 400),
    hosting: [net(9009, "185.206", 40), net(212238, "149.34", 40), net(64501, "194.71", 20)],
  },
  JP: {
    residential: [net(4713, "153.139"), net(2516, "106.154"), net(17676, "126.0")],
    mobile: net(9605, "49.96", 600),
    hosting: [net(16509, "54.64", 60), net(9009, "138.199", 40), net(64502, "45.76", 20)],
  },
  US: {
    residential: [net(7922, "73.15"), net(7018, "99.12"), net(701, "71.105")],
    mobile: net(21928, "172.58", 900),
    hosting: [net(14061, "159.203", 80), net(16509, "3.80", 80), net(64503, "23.94", 20)],
  },
  DE: {
    residential: [net(3320, "87.161"), net(6805, "95.91"), net(3209, "88.64")],
    mobile: net(12430, "80.187", 500),
    hosting: [net(24940, "88.99", 60), net(9009, "185.104", 40), net(64504, "5.180", 20)],
  },
  GB: {
    residential: [net(2856, "86.128"), net(5089, "82.10"), net(5607, "2.96")],
    mobile: net(12576, "94.197", 500),
    hosting: [net(9009, "146.70", 40), net(16276, "51.89", 60), net(64505, "185.195", 20)],
  },
  FR: {
    residential: [net(3215, "90.24"), net(12322, "82.64"), net(15557, "80.13")],
    mobile: net(51207, "37.164", 500),
    hosting: [net(16276, "51.75", 60), net(212238, "89.187", 40), net(64506, "45.147", 20)],
  },
  SE: {
    residential: [net(3301, "78.67"), net(2119, "90.224")],
    mobile: net(1257, "81.226", 400),
    hosting: [net(42708, "185.65", 40), net(9009, "193.138", 40), net(64507, "45.83", 20)],
  },
  TW: {
    residential: [net(3462, "114.32"), net(4780, "220.132")],
    mobile: net(24158, "39.8", 400),
    hosting: [net(396982, "35.201", 40), net(9009, "103.152", 40), net(64508, "45.136", 20)],
  },
  CN: {
    residential: [net(4134, "115.192"), net(4837, "123.112")],
    mobile: net(9808, "117.136", 600),
    hosting: [net(45090, "129.28", 80), net(37963, "47.92", 80)],
  },
  RU: {
    residential: [net(12389, "95.24"), net(8359, "37.29")],
    mobile: net(31213, "85.140", 500),
    hosting: [net(49505, "91.240", 80), net(9009, "185.159", 40)],
  },
  BR: {
    residential: [net(28573, "177.12"), net(18881, "189.6")],
    mobile: net(26615, "179.240", 500),
    hosting: [net(16509, "18.228", 60), net(20473, "216.238", 40)],
  },
  VN: {
    residential: [net(7552, "113.160"), net(45899, "14.224")],
    mobile: net(24086, "42.112", 500),
    hosting: [net(45102, "47.74", 60), net(14061, "128.199", 40)],
  },
  NG: {
    residential: [net(29465, "105.112")],
    mobile: net(36873, "197.210", 400),
    hosting: [net(16509, "13.245", 40), net(9009, "102.129", 40)],
  },
  IN: {
    residential: [net(24560, "122.170"), net(9829, "117.200")],
    mobile: net(55836, "49.36", 900),
    hosting: [net(14061, "139.59", 80), net(16509, "13.232", 80)],
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

// Corporate cloud proxies some workplaces send their staff's traffic through (Zscaler's ASN): a network that is
// neither a home ISP nor a hosting exit in the classification.
const CLOUD_PROXY: Network = net(53813, "165.225", 200);

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

function weighted<T>(r: () => number, xs: readonly [T, number][]): T {
  const total = xs.reduce((s, [, w]) => s + w, 0);
  let x = r() * total;
  for (const [v, w] of xs) {
    x -= w;
    if (x < 0) return v;
  }
  return xs[xs.length - 1]![0];
}

const DAY_MS = 86_400_000;
/** Where the release cadences below start counting (a Chrome-like release lands mid-January 2026). */
const RELEASE_EPOCH = Date.UTC(2025, 11, 18);

/**
 * A browser and OS template. `version` is the release number the device runs: browsers update themselves on the
 * vendor's cadence (a new major every `periodDays`), each device `lagDays` behind the newest release.
 */
interface Template {
  name: string;
  deviceType: "desktop" | "mobile" | "tablet";
  base: number;
  periodDays: number;
  render(version: number): { userAgent: string; browser: string; os: string };
}

interface Device {
  template: Template;
  lagDays: number;
}

const TEMPLATES: [Template, number][] = [
  [
    {
      name: "chrome-windows",
      deviceType: "desktop",
      base: 120,
      periodDays: 28,
      render: (v) => ({
        userAgent: `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36`,
        browser: `Chrome ${v}.0.0`,
        // Windows 11 sends "Windows NT 10.0" too: parsers (and the data set) cannot tell them apart.
        os: "Windows 10",
      }),
    },
    0.3,
  ],
  [
    {
      name: "firefox-windows",
      deviceType: "desktop",
      base: 121,
      periodDays: 28,
      render: (v) => ({
        userAgent: `Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:${v}.0) Gecko/20100101 Firefox/${v}.0`,
        browser: `Firefox ${v}.0`,
        os: "Windows 10",
      }),
    },
    0.08,
  ],
  [
    {
      name: "edge-windows",
      deviceType: "desktop",
      base: 120,
      periodDays: 28,
      render: (v) => ({
        userAgent: `Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Safari/537.36 Edg/${v}.0.0.0`,
        browser: `Edge ${v}.0.0`,
        os: "Windows 10",
      }),
    },
    0.1,
  ],
  [
    {
      name: "safari-mac",
      deviceType: "desktop",
      base: 2,
      periodDays: 45,
      render: (v) => ({
        userAgent: `Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${v} Safari/605.1.15`,
        browser: `Safari 17.${v}`,
        os: "Mac OS X 10.15.7",
      }),
    },
    0.1,
  ],
  [
    {
      name: "iphone",
      deviceType: "mobile",
      base: 2,
      periodDays: 45,
      render: (v) => ({
        userAgent: `Mozilla/5.0 (iPhone; CPU iPhone OS 17_${v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${v} Mobile/15E148 Safari/604.1`,
        browser: `Mobile Safari 17.${v}`,
        os: `iOS 17.${v}`,
      }),
    },
    0.22,
  ],
  [
    {
      name: "android",
      deviceType: "mobile",
      base: 120,
      periodDays: 28,
      // Chrome's reduced user agent (since 110): "Android 10; K" whatever the phone, so two phones on one release
      // send the same string.
      render: (v) => ({
        userAgent: `Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/${v}.0.0.0 Mobile Safari/537.36`,
        browser: `Chrome Mobile ${v}.0.0`,
        os: "Android 10",
      }),
    },
    0.15,
  ],
  [
    {
      name: "ipad",
      deviceType: "tablet",
      base: 2,
      periodDays: 45,
      render: (v) => ({
        userAgent: `Mozilla/5.0 (iPad; CPU OS 17_${v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.${v} Mobile/15E148 Safari/604.1`,
        browser: `Mobile Safari 17.${v}`,
        os: `iOS 17.${v}`,
      }),
    },
    0.05,
  ],
];

/** Most devices update within days of a release; some lag for weeks. */
const updateLag = (r: () => number) => (r() < 0.75 ? r() * 10 : 10 + r() * 50);

function makeDevice(r: () => number, template: Template = weighted(r, TEMPLATES)): Device {
  return {
    template,
    lagDays: updateLag(r),
  };
}

/** The device's user agent at `at`: the newest release `lagDays` before, never below the template's base. */
function deviceAt(d: Device, at: number) {
  const t = d.template;
  const released = Math.floor((at - d.lagDays * DAY_MS - RELEASE_EPOCH) / (t.periodDays * DAY_MS));
  return { ...t.render(t.base + Math.max(0, released)), deviceType: t.deviceType };
}

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

/** A time of day with most sign-ins in the daytime and evening (hours 7–23), some at night. */
function timeOfDay(r: () => number): number {
  const hour = r() < 0.9 ? 7 + r() * 16 : r() * 7;
  return Math.floor(hour * 3_600_000);
}

type Place = { country: string; asn: string; ip: string };
const placeOf = (r: () => number, country: string, n: Network): Place => ({ country, asn: n.asn, ip: address(r, n) });

export function generateLogins(opts: GenerateOptions): GeneratedRow[] {
  const r = prng(opts.seed);
  // Device cookies draw from their own stream: adding them left every other column of every seed as it was.
  const rd = prng(opts.seed ^ 0x5bd1e995);
  const cookie = () => `d${Math.floor(rd() * 2 ** 32).toString(36)}${Math.floor(rd() * 2 ** 32).toString(36)}`;
  const cookies = new WeakMap<Device, string>();
  /** The device's cookie for this sign-in: kept, or (at the user's loss rate) a new one from now on. */
  const cookieOf = (d: Device, lossRate: number) => {
    let c = cookies.get(d);
    if (c === undefined || rd() < lossRate) {
      c = cookie();
      cookies.set(d, c);
    }
    return c;
  };
  const start = opts.start ?? Date.UTC(2026, 0, 1);
  const end = start + opts.days * DAY_MS;
  const rows: GeneratedRow[] = [];

  interface User {
    id: string;
    country: string;
    devices: Device[];
  }
  const users: User[] = [];
  const inPeriod = () => start + Math.floor(r() * (end - start));

  for (let u = 0; u < opts.users; u++) {
    const country = weighted(r, HOME_COUNTRIES);
    const nets = NETWORKS[country]!;
    let isp = pick(r, nets.residential);
    let homeIp = address(r, isp);
    // Some move to another ISP during the period: a new network and address from then on.
    const ispSwitch = r() < 0.03 ? { at: inPeriod(), to: pick(r, nets.residential) } : null;
    const workNet = r() < 0.1 ? CLOUD_PROXY : pick(r, nets.residential);
    const work = r() < 0.3 ? { net: workNet, ip: address(r, workNet) } : null;
    const devices = Array.from({ length: 1 + Math.floor(r() * r() * 3) }, () => makeDevice(r));
    // A new phone: from then on it replaces the old one (usually the same family, sometimes a switch).
    const phoneIdx = devices.findIndex((d) => d.template.deviceType === "mobile");
    const newPhone =
      r() < 0.12
        ? {
            at: inPeriod(),
            device: makeDevice(
              r,
              phoneIdx >= 0 && r() < 0.8
                ? devices[phoneIdx]!.template
                : pick(
                    r,
                    TEMPLATES.map(([t]) => t).filter((t) => t.deviceType === "mobile"),
                  ),
            ),
          }
        : null;
    const user: User = { id: userId(r), country, devices };
    users.push(user);
    // How well this user's browsers keep the store's cookie, per sign-in: most lose it rarely, some often (cleaners,
    // tracking prevention), a few never keep one (private windows), a few send none (cookies blocked).
    const keep = rd();
    const loss = keep < 0.8 ? 0.01 : keep < 0.95 ? 0.08 : keep < 0.98 ? 1 : -1;
    // Sign-ins per day, log-uniform in [0.1, 3]: a few heavy users, many occasional ones.
    const rate = 0.1 * 30 ** r();
    const trip = r() < 0.15 ? { from: inPeriod(), days: 3 + r() * 7, country: pick(r, TRAVEL_COUNTRIES) } : null;
    let switched = false;
    let replaced = false;
    for (let day = 0; day < opts.days; day++) {
      let n = 0;
      // Poisson(rate) by inversion.
      for (let p = Math.exp(-rate), s = p, x = r(); x > s; ) {
        n++;
        p *= rate / n;
        s += p;
      }
      const times = Array.from({ length: n }, () => start + day * DAY_MS + timeOfDay(r)).sort((a, b) => a - b);
      for (const at of times) {
        if (ispSwitch && !switched && at >= ispSwitch.at) {
          switched = true;
          isp = ispSwitch.to;
          homeIp = address(r, isp);
        }
        if (newPhone && !replaced && at >= newPhone.at) {
          replaced = true;
          if (phoneIdx >= 0) devices[phoneIdx] = newPhone.device;
          else devices.push(newPhone.device);
        }
        const device = r() < 0.75 ? devices[0]! : pick(r, devices);
        const mobile = device.template.deviceType === "mobile";
        let place: Place;
        if (trip && trip.country !== country && at >= trip.from && at < trip.from + trip.days * DAY_MS) {
          const abroad = NETWORKS[trip.country]!;
          // Roaming data goes home through the home carrier; otherwise the hotel's or a café's line.
          place =
            mobile && r() < 0.5
              ? placeOf(r, country, nets.mobile)
              : placeOf(r, trip.country, r() < 0.3 ? abroad.mobile : pick(r, abroad.residential));
          if (place.country === country) place.country = trip.country; // geolocated where the user is
        } else if (mobile && r() < 0.5) {
          place = placeOf(r, country, nets.mobile);
        } else if (work && r() < 0.35) {
          place = { country, asn: work.net.asn, ip: work.ip };
        } else if (r() < 0.02) {
          // A café, a friend's line, a hotel at home.
          place = placeOf(r, country, pick(r, nets.residential));
        } else {
          // Dynamic home addresses change now and then.
          if (r() < 0.03) homeIp = address(r, isp);
          place = { country, asn: isp.asn, ip: homeIp };
        }
        const base = { userId: user.id, ...place, attackIp: false, takeover: false, attacker: null };
        // Now and then a mistyped password, then the right one shortly after.
        const typo = r() < 0.06;
        const retry = typo ? at + 20_000 + Math.floor(r() * 40_000) : at;
        const deviceId = loss < 0 ? "" : cookieOf(device, loss);
        if (typo) rows.push({ ...base, ...deviceAt(device, at), deviceId, at, success: false });
        rows.push({ ...base, ...deviceAt(device, retry), deviceId, at: retry, success: true });
      }
    }
  }

  // One attacker per victim: naive, vpn or targeted, in the second half of the period (the victim has a history).
  const share = opts.attackedShare ?? 0.05;
  const secondHalf = () => start + Math.floor((0.5 + 0.5 * r()) * (end - start));
  for (const victim of users) {
    if (r() >= share) continue;
    const kind = pick(r, ["naive", "vpn", "targeted"] as const);
    let at = secondHalf();
    let place: Place;
    let device: Device;
    if (kind === "naive") {
      const c = pick(
        r,
        ATTACKER_COUNTRIES.filter((x) => x !== victim.country),
      );
      const nets = NETWORKS[c]!;
      place = placeOf(r, c, r() < 0.5 ? pick(r, nets.hosting) : pick(r, nets.residential));
      device = makeDevice(r);
    } else if (kind === "vpn") {
      const hosting = NETWORKS[victim.country]!.hosting;
      place = placeOf(r, victim.country, r() < 0.25 ? hosting[hosting.length - 1]! : pick(r, hosting.slice(0, -1)));
      device = makeDevice(r);
    } else {
      place = placeOf(r, victim.country, pick(r, NETWORKS[victim.country]!.residential));
      device = makeDevice(r, victim.devices[0]!.template);
    }
    const base = { userId: victim.id, ...place, attackIp: true, attacker: kind, deviceId: cookie() };
    const failures = kind === "targeted" ? Math.floor(r() * 2) : Math.floor(r() * 4);
    for (let i = 0; i < failures; i++) {
      rows.push({ ...base, ...deviceAt(device, at), at, success: false, takeover: false });
      at += 5_000 + Math.floor(r() * 60_000);
    }
    // Leaked passwords are often still valid.
    if (r() < 0.6) rows.push({ ...base, ...deviceAt(device, at), at, success: true, takeover: true });
  }

  // Credential stuffing: campaigns of a couple of hours, each attempt one leaked credential from the pool, a random
  // browser per attempt. Most accounts on the list are not the store's (unknown ids), most passwords stale.
  const campaigns = opts.stuffingCampaigns ?? 2;
  const attempts = opts.stuffingAttempts ?? 3 * opts.users;
  for (let c = 0; c < campaigns; c++) {
    const pool: "hosting" | "residential" = c % 2 === 0 ? "hosting" : "residential";
    const from = secondHalf();
    const span = (1 + r() * 3) * 3_600_000;
    // Hosting: 150 addresses in datacenters worldwide. Residential proxies: 500 exits, in every home country in
    // proportion, so each victim is tried from a domestic consumer address.
    const hostingPool = Array.from({ length: 150 }, () => {
      const cc = pick(r, Object.keys(NETWORKS));
      return placeOf(r, cc, pick(r, NETWORKS[cc]!.hosting));
    });
    const residentialPool = new Map<string, Place[]>();
    for (const [cc, w] of HOME_COUNTRIES) {
      const nets = NETWORKS[cc]!;
      residentialPool.set(
        cc,
        Array.from({ length: Math.ceil(500 * w) }, () =>
          placeOf(r, cc, r() < 0.8 ? pick(r, nets.residential) : nets.mobile),
        ),
      );
    }
    const tried = new Set<string>();
    for (let i = 0; i < attempts; i++) {
      const at = from + Math.floor(r() * span);
      const existing = r() < 0.3 ? pick(r, users) : null;
      if (existing && tried.has(existing.id)) continue;
      if (existing) tried.add(existing.id);
      const country = existing?.country ?? weighted(r, HOME_COUNTRIES);
      const place = pool === "hosting" ? pick(r, hostingPool) : pick(r, residentialPool.get(country)!);
      const valid = existing !== null && r() < 0.05;
      rows.push({
        userId: existing?.id ?? userId(r),
        ...place,
        ...deviceAt(makeDevice(r), at),
        deviceId: rd() < 0.5 ? "" : cookie(),
        at,
        success: valid,
        attackIp: true,
        takeover: valid,
        attacker: "stuffing",
        pool,
      });
    }
  }

  // Stable: equal times keep generation order (a failure before its retry).
  return rows.filter((row) => row.at < end).sort((a, b) => a.at - b.at);
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
    row.deviceId,
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
