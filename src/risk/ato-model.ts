/**
 * The account-takeover model beside Freeman's: named signals that separate a takeover from the owner, combined by a
 * logistic regression whose weights and threshold were fitted on generated logins (one training seed; judged on
 * others, docs/risk.md). Explainable by construction: the score is the bias plus one term per signal (weight × value,
 * in log-odds), and each term is reported as that signal's contribution.
 *
 * Everything here is derivable from a login CSV in the RBA data set's layout, so `mamori backtest --csv` replays
 * exactly what the live decision computes (service.ts): the same `atoVector` over the same history, fed the same way.
 * The store's device cookie is an optional column ("Device ID", written by `mamori gen logins`, absent from the public
 * data set): `unknownDevice` reads it only for accounts whose sign-ins have carried one, so a store (or a data set)
 * that sends none scores as before.
 */
import { isHostingAsn } from "../context/hosting.ts";
import type { RbaHistory, RbaLogin } from "./rba.ts";
import { type PreviousLogin, travel } from "./signals.ts";

export const ATO_SIGNALS = [
  "newAsn",
  "newIp",
  "newIpSteadyNetwork",
  "newCountry",
  "hostingAsn",
  "newUserAgent",
  "newDeviceKind",
  "versionRegression",
  "unknownDevice",
  "newIpAndUserAgent",
  "newAsnAndUserAgent",
  "impossibleTravel",
  "sourceAccounts",
  "sourceFailures",
  "fewLogins",
] as const;
export type AtoSignal = (typeof ATO_SIGNALS)[number];
export type AtoVector = Record<AtoSignal, number>;

/** What each signal means (docs/risk.md repeats it). */
export const ATO_SIGNAL_DESCRIPTIONS: Record<AtoSignal, string> = {
  newAsn: "the account never signed in from this network (ASN)",
  newIp: "the account never signed in from this address",
  newIpSteadyNetwork:
    "a new address in a network where this account's address rarely changes (a home line, not a carrier's NAT pool)",
  newCountry: "the account never signed in from this country",
  hostingAsn: "the network is a hosting, cloud or VPN-exit provider (context/hosting.ts)",
  newUserAgent: "the account never signed in with this exact user agent",
  newDeviceKind: "the account never used this browser family on this OS family and device type",
  versionRegression: "a browser or OS version older than one this account already used on that kind of device",
  unknownDevice:
    "the account's sign-ins carry the store's device cookie, and this one carries none or one the account never signed in with",
  newIpAndUserAgent: "a new address and a new user agent together",
  newAsnAndUserAgent: "a new network and a new user agent together",
  impossibleTravel: "faster than an airliner since the previous sign-in (signals.ts)",
  sourceAccounts: "ln(1 + distinct accounts with failed sign-ins from this address in the last hour)",
  sourceFailures: "ln(1 + failed sign-ins from this address in the last hour)",
  fewLogins: "the account has fewer than 5 successful sign-ins to compare with",
};

export interface AtoModel {
  /** Where the numbers come from (the command that fitted them). */
  fittedWith: string;
  bias: number;
  weights: AtoVector;
  /** Challenge at or above this score (log-odds), chosen on the training seed (docs/risk.md). */
  threshold: number;
}

// Two fits on the same training seed (`mamori gen logins --users 3000 --days 30 --seed 101 --attacked 0.15 --out
// s101.csv`); the seeds the targets are reported on were not used. ATO_MODEL scores accounts whose sign-ins carry the
// store's device id (the `unknownDevice` signal can speak); ATO_MODEL_NO_DEVICE, fitted on the same rows without the
// "Device ID" column, scores the rest — a store that sends none, the public data set — as well as before the signal.

/** For accounts bound to their devices (their sign-ins on this channel carried a device id). */
export const ATO_MODEL: AtoModel = {
  fittedWith:
    "mamori fit logins --csv s101.csv --max-legit-rate 0.02 (s101.csv: mamori gen logins --users 3000 --days 30 --seed 101 --attacked 0.15)",
  bias: -12.6241,
  weights: {
    newAsn: 2.8199,
    newIp: 3.1808,
    newIpSteadyNetwork: 2.4107,
    newCountry: 1.3905,
    hostingAsn: 3.6071,
    newUserAgent: 0.743,
    newDeviceKind: -1.0502,
    versionRegression: 1.3229,
    unknownDevice: 5.0628,
    newIpAndUserAgent: 0.8793,
    newAsnAndUserAgent: -0.9375,
    impossibleTravel: -0.0817,
    sourceAccounts: 1.4741,
    sourceFailures: 2.5127,
    fewLogins: -1.0986,
  },
  threshold: -4.7969,
};

/** For accounts with no device id to bind to: the same seed, fitted without the "Device ID" column. */
export const ATO_MODEL_NO_DEVICE: AtoModel = {
  fittedWith: "mamori fit logins --csv s101.csv --max-legit-rate 0.02 --without-device-ids (s101.csv as for ATO_MODEL)",
  bias: -10.4395,
  weights: {
    newAsn: 3.068,
    newIp: 3.0915,
    newIpSteadyNetwork: 2.5758,
    newCountry: 0.8667,
    hostingAsn: 4.3028,
    newUserAgent: 1.1882,
    newDeviceKind: 0.709,
    versionRegression: 2.2856,
    unknownDevice: 0,
    newIpAndUserAgent: 1.2374,
    newAsnAndUserAgent: -0.9026,
    impossibleTravel: 0.3905,
    sourceAccounts: 1.0731,
    sourceFailures: 3.0332,
    fewLogins: -1.0249,
  },
  threshold: -4.279,
};

/**
 * A model moved onto another threshold: the bias shifts by the difference, so "score ≥ threshold" decides exactly as
 * before and the contributions are unchanged. One policy rule (`scores.ato >= ATO_MODEL.threshold`) then serves both.
 */
export function alignedTo(model: AtoModel, threshold: number): AtoModel {
  return { ...model, bias: model.bias + (threshold - model.threshold), threshold };
}

/** The model for a login: the device-bound one when the account's history on this channel carries device ids. */
export const SHIPPED_ATO_MODELS = {
  bound: ATO_MODEL,
  unbound: alignedTo(ATO_MODEL_NO_DEVICE, ATO_MODEL.threshold),
} as const;

/** "Chrome 120.0.0" → ["Chrome", [120, 0, 0]]; "Mac OS X 10.15.7" → ["Mac OS X", [10, 15, 7]]. */
export function splitVersion(s: string): [string, number[]] {
  let v = VERSIONS.get(s);
  if (v === undefined) {
    const m = /^(.*?)\s*(\d+(?:\.\d+)*)\s*$/.exec(s);
    v = m ? [m[1]!, m[2]!.split(".").map(Number)] : [s.trim(), []];
    // Browser and OS strings repeat endlessly; a bounded memo keeps the regex off the hot path.
    if (VERSIONS.size >= 10_000) VERSIONS.clear();
    VERSIONS.set(s, v);
  }
  return v;
}
const VERSIONS = new Map<string, [string, number[]]>();

/** -1, 0, 1; a missing component counts as 0 ("Chrome 120" equals "Chrome 120.0.0"). */
export function compareVersions(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i] ?? 0;
    const y = b[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** One kind of device an account signed in with, and the newest versions seen on it. */
interface KindStats {
  browserFamily: string;
  osFamily: string;
  deviceType: string;
  browser: number[];
  os: number[];
}

/**
 * The account's record of this kind of device, if any. A scan of the account's few kinds (one to three, nearly
 * always): no `family|family|type` key string built and hashed a sign-in for a map lookup.
 */
function kindOf(kinds: readonly KindStats[], browserFamily: string, osFamily: string, deviceType: string) {
  for (let i = 0; i < kinds.length; i++) {
    const k = kinds[i]!;
    if (k.browserFamily === browserFamily && k.osFamily === osFamily && k.deviceType === deviceType) return k;
  }
  return undefined;
}

/**
 * One account's part of AtoHistory. A sign-in's signals read it once (`AtoHistory.account`) instead of looking the
 * account up in a map of every account per signal: those lookups, in maps of ~80,000 accounts, were a measurable share
 * of a decision (docs/risk.md, 2026-12-04 evening).
 */
export class AtoAccount {
  /** Per kind of device (browser family, OS family, device type): the newest browser and OS versions seen on it. */
  readonly kinds: KindStats[] = [];
  /**
   * Per channel ("" for none): the device ids its successful sign-ins carried (the newest 64). Per channel, so a store
   * that sends its web cookie but no app install id does not make every app sign-in look like a stranger's device.
   * Null until a sign-in carries one.
   */
  devices: Map<string, Set<string>> | null = null;
  /** Per ASN: sign-ins and distinct addresses (how often the address changes on that network). */
  readonly networks = new Map<string, { logins: number; ips: Set<string> }>();
  last: PreviousLogin | null = null;

  /** The device ids seen on the login's channel, or undefined when none was. */
  deviceSet(login: RbaLogin): Set<string> | undefined {
    return this.devices?.get(login.channel ?? "");
  }
}

/**
 * What the Freeman history does not keep: per account, the newest browser and OS version seen on each kind of device
 * (browser family, OS family, device type) — on one device versions only move forward — the device ids and networks
 * it signed in from, and the last sign-in. One record per account (AtoAccount).
 */
export class AtoHistory {
  private readonly accounts = new Map<string, AtoAccount>();

  /** The account's record, undefined when it has no successful sign-in here. */
  account(userId: string): AtoAccount | undefined {
    return this.accounts.get(userId);
  }

  /** Records a successful sign-in at `at` (call in time order, as RbaHistory.add). */
  add(login: RbaLogin, at: number): void {
    let acc = this.accounts.get(login.userId);
    if (!acc) {
      acc = new AtoAccount();
      this.accounts.set(login.userId, acc);
    }
    const kinds = acc.kinds;
    const [bf, bv] = splitVersion(login.browser);
    const [of, ov] = splitVersion(login.os);
    const k = kindOf(kinds, bf, of, login.deviceType);
    if (!k) kinds.push({ browserFamily: bf, osFamily: of, deviceType: login.deviceType, browser: bv, os: ov });
    else {
      if (compareVersions(bv, k.browser) > 0) k.browser = bv;
      if (compareVersions(ov, k.os) > 0) k.os = ov;
    }
    let net = acc.networks.get(login.asn);
    if (!net) {
      net = { logins: 0, ips: new Set() };
      acc.networks.set(login.asn, net);
    }
    net.logins++;
    if (net.ips.size < 64) net.ips.add(login.ip);
    if (login.deviceId) {
      if (acc.devices === null) acc.devices = new Map();
      const channel = login.channel ?? "";
      let ds = acc.devices.get(channel);
      if (!ds) {
        ds = new Set();
        acc.devices.set(channel, ds);
      }
      ds.delete(login.deviceId);
      ds.add(login.deviceId);
      // Insertion order is recency: drop the stalest past 64 (a cookie cleared daily should not grow without end).
      if (ds.size > 64) ds.delete(ds.values().next().value!);
    }
    const prev = acc.last;
    if (!prev || prev.at <= at) acc.last = { at, country: login.country };
  }

  /**
   * The kind of device is known to the account, and whether this one runs an older version than seen on it. `acc`
   * is the login's account's record when the caller has it (`account(login.userId)`), saving the lookup.
   */
  device(
    login: RbaLogin,
    acc: AtoAccount | undefined = this.accounts.get(login.userId),
  ): { kindSeen: boolean; regression: boolean } {
    if (acc === undefined) return { kindSeen: false, regression: false };
    const [bf, bv] = splitVersion(login.browser);
    const [of, ov] = splitVersion(login.os);
    const k = kindOf(acc.kinds, bf, of, login.deviceType);
    if (!k) return { kindSeen: false, regression: false };
    return { kindSeen: true, regression: compareVersions(bv, k.browser) < 0 || compareVersions(ov, k.os) < 0 };
  }

  /**
   * Device binding: true when the account's sign-ins have carried a device cookie and this one carries none or an
   * unknown one; false when the account has never carried one (nothing to bind to).
   */
  unknownDevice(login: RbaLogin, acc: AtoAccount | undefined = this.accounts.get(login.userId)): boolean {
    const ds = acc?.deviceSet(login);
    if (!ds) return false;
    return !login.deviceId || !ds.has(login.deviceId);
  }

  /** Has the account signed in on this channel with a device id (so `unknownDevice` can speak)? */
  deviceBound(login: RbaLogin, acc: AtoAccount | undefined = this.accounts.get(login.userId)): boolean {
    return acc?.deviceSet(login) !== undefined;
  }

  /**
   * Share of the account's sign-ins on this network that came from an address it had not used there before
   * (1 for a network never used, or used once).
   */
  addressChurn(login: RbaLogin, acc: AtoAccount | undefined = this.accounts.get(login.userId)): number {
    const net = acc?.networks.get(login.asn);
    if (!net || net.logins < 2) return 1;
    return (net.ips.size - 1) / (net.logins - 1);
  }

  previous(userId: string): PreviousLogin | null {
    return this.accounts.get(userId)?.last ?? null;
  }
}

/**
 * Failed sign-ins per address over a sliding window, across accounts: what the live decision reads from
 * login_attempts (features.ts `ipActivity`: failed or denied attempts, distinct identifiers), for replays.
 */
export class SourceWindow {
  private readonly byIp = new Map<string, { at: number; account: string }[]>();
  constructor(private readonly windowMs = 60 * 60_000) {}

  recordFailure(ip: string, account: string, at: number): void {
    let xs = this.byIp.get(ip);
    if (!xs) {
      xs = [];
      this.byIp.set(ip, xs);
    }
    xs.push({ at, account });
  }

  /** Within (at − window, at]. */
  activity(ip: string, at: number): { failedLogins: number; distinctAccounts: number } {
    const xs = this.byIp.get(ip);
    if (!xs) return { failedLogins: 0, distinctAccounts: 0 };
    let drop = 0;
    while (drop < xs.length && xs[drop]!.at <= at - this.windowMs) drop++;
    if (drop) xs.splice(0, drop);
    if (!xs.length) {
      this.byIp.delete(ip);
      return { failedLogins: 0, distinctAccounts: 0 };
    }
    const accounts = new Set<string>();
    let n = 0;
    for (const x of xs) {
      if (x.at > at) break;
      n++;
      accounts.add(x.account);
    }
    return { failedLogins: n, distinctAccounts: accounts.size };
  }
}

export interface AtoInput {
  login: RbaLogin;
  at: number;
  /** The Freeman history (the account's seen IPs, ASNs, countries, user agents). */
  rba: RbaHistory;
  history: AtoHistory;
  /**
   * `history.account(login.userId)` when the caller already found it (null: the account has no record), so the
   * decision looks the account up once for the vector and the model's choice (`shippedModelFor`).
   */
  account?: AtoAccount | null;
  /** The account's latest successful sign-in before `at` (live: from the store; replay: from `history`). */
  previous: PreviousLogin | null;
  source: { failedLogins: number; distinctAccounts: number };
}

/** The shipped model for this login (SHIPPED_ATO_MODELS): bound to devices or not. */
export function shippedModelFor(
  history: AtoHistory,
  login: RbaLogin,
  acc: AtoAccount | undefined = history.account(login.userId),
): AtoModel {
  return history.deviceBound(login, acc) ? SHIPPED_ATO_MODELS.bound : SHIPPED_ATO_MODELS.unbound;
}

/**
 * 1 or 0. Module-level rather than a closure in atoVector: under tsx (keepNames) a named closure costs an
 * Object.defineProperty each time it is created, once per sign-in there.
 */
function bit(x: boolean): number {
  return x ? 1 : 0;
}

/** The signals of one login; null when the account has no successful sign-in yet (nothing to compare with). */
export function atoVector(input: AtoInput): AtoVector | null {
  const { login } = input;
  const seen = input.rba.userSeen(login);
  if (seen.logins === 0) return null;
  // The account's model state, found once for every signal below.
  const acc = input.account === undefined ? input.history.account(login.userId) : (input.account ?? undefined);
  const device = input.history.device(login, acc);
  const newIp = !seen.ip;
  const newAsn = !seen.asn;
  const newUa = !seen.userAgent;
  const tr = input.previous && login.country ? travel(input.previous, { at: input.at, country: login.country }) : null;
  const b = bit;
  return {
    newAsn: b(newAsn),
    newIp: b(newIp),
    newIpSteadyNetwork: b(newIp && !newAsn && input.history.addressChurn(login, acc) < 0.3),
    newCountry: b(!seen.country),
    hostingAsn: b(isHostingAsn(login.asn)),
    newUserAgent: b(newUa),
    newDeviceKind: b(!device.kindSeen),
    versionRegression: b(device.regression),
    unknownDevice: b(input.history.unknownDevice(login, acc)),
    newIpAndUserAgent: b(newIp && newUa),
    newAsnAndUserAgent: b(newAsn && newUa),
    impossibleTravel: b(tr?.flagged ?? false),
    sourceAccounts: Math.log1p(input.source.distinctAccounts),
    sourceFailures: Math.log1p(input.source.failedLogins),
    fewLogins: b(seen.logins < 5),
  };
}

export interface AtoContribution {
  signal: AtoSignal;
  value: number;
  /** weight × value, in log-odds. */
  contribution: number;
}

export interface AtoScore {
  /** Log-odds of a takeover: bias + Σ contributions. */
  score: number;
  /** The same as a probability (calibrated on the training seed's base rate). */
  probability: number;
  /** Non-zero terms, largest first. */
  contributions: AtoContribution[];
}

export function scoreAto(x: AtoVector, model: AtoModel = ATO_MODEL): AtoScore {
  let score = model.bias;
  const contributions: AtoContribution[] = [];
  for (const s of ATO_SIGNALS) {
    const v = x[s];
    if (v === 0) continue;
    const c = model.weights[s] * v;
    score += c;
    contributions.push({ signal: s, value: Math.round(v * 1000) / 1000, contribution: Math.round(c * 1000) / 1000 });
  }
  contributions.sort((a, b) => b.contribution - a.contribution);
  return { score, probability: 1 / (1 + Math.exp(-score)), contributions };
}
