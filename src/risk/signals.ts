/**
 * Login signals the Freeman model lacks. Each is reported on its own (never folded into the RBA score), so a policy
 * can weigh them and a decision can name them as reasons. They read a `LoginSignalSource`, not the database, so they
 * are unit-testable and the backtest can feed them from a replay.
 */

export interface LoginSignalInput {
  accountId: string;
  at: number;
  ip: string;
  country: string;
  /** The store's long-lived device cookie, when it sent one. */
  deviceId?: string;
}

export interface PreviousLogin {
  at: number;
  country: string;
}

/** What the signals read; implemented over the stores in the service and over memory in tests and replays. */
export interface LoginSignalSource {
  /** Whether this device cookie completed a successful sign-in to this account before `before`. */
  deviceSeen(accountId: string, deviceId: string, before: number): Promise<boolean>;
  /** The account's latest successful sign-in before `before`. */
  previousLogin(accountId: string, before: number): Promise<PreviousLogin | null>;
  /** Time of the account's latest credential change (password, second factor, email) before `before`. */
  lastCredentialChange(accountId: string, before: number): Promise<number | null>;
  /** Second-factor challenges or emailed codes issued within (now − windowMs, now] and not completed. */
  unfinishedSecondFactor(accountId: string, windowMs: number, now: number): Promise<number>;
  /** Failed sign-ins from this IP and distinct accounts it tried, within (now − windowMs, now]. */
  ipActivity(ip: string, windowMs: number, now: number): Promise<{ failedLogins: number; distinctAccounts: number }>;
}

export interface SignalConfig {
  /** Attack IP: this many failed sign-ins from one IP within the window… */
  attackIpFailures: number;
  /** …or this many distinct accounts tried from it. */
  attackIpAccounts: number;
  attackIpWindowMs: number;
  /** Impossible travel: faster than this between consecutive sign-ins (airliner cruise ≈ 900 km/h). */
  maxTravelKmh: number;
  /** Distances below this are not judged: country centroids cannot tell neighbours' border towns apart. */
  minTravelKm: number;
  /** Window in which unfinished second-factor challenges are counted. */
  secondFactorWindowMs: number;
}

export const DEFAULT_SIGNAL_CONFIG: SignalConfig = {
  attackIpFailures: 20,
  attackIpAccounts: 5,
  attackIpWindowMs: 60 * 60_000,
  maxTravelKmh: 1000,
  minTravelKm: 0,
  secondFactorWindowMs: 24 * 60 * 60_000,
};

export interface ImpossibleTravel {
  flagged: boolean;
  fromCountry: string;
  toCountry: string;
  distanceKm: number;
  hours: number;
  /** km/h; Infinity for a distance covered in no time. */
  speedKmh: number;
}

export interface LoginSignals {
  /** null when the store sent no device cookie. */
  deviceSeen: boolean | null;
  attackIp: { flagged: boolean; failedLogins: number; distinctAccounts: number };
  /** null without a previous sign-in, or when a country has no centroid in the table. */
  impossibleTravel: ImpossibleTravel | null;
  /** ms since the last credential change; null if none is recorded. */
  sinceCredentialChangeMs: number | null;
  unfinishedSecondFactor: number;
}

export async function assessLoginSignals(
  login: LoginSignalInput,
  source: LoginSignalSource,
  config: SignalConfig = DEFAULT_SIGNAL_CONFIG,
): Promise<LoginSignals> {
  const [deviceSeen, previous, credentialChange, unfinished, ipActivity] = await Promise.all([
    login.deviceId === undefined ? null : source.deviceSeen(login.accountId, login.deviceId, login.at),
    source.previousLogin(login.accountId, login.at),
    source.lastCredentialChange(login.accountId, login.at),
    source.unfinishedSecondFactor(login.accountId, config.secondFactorWindowMs, login.at),
    source.ipActivity(login.ip, config.attackIpWindowMs, login.at),
  ]);
  return {
    deviceSeen,
    attackIp: {
      flagged:
        ipActivity.failedLogins >= config.attackIpFailures || ipActivity.distinctAccounts >= config.attackIpAccounts,
      ...ipActivity,
    },
    impossibleTravel: previous ? travel(previous, login, config) : null,
    sinceCredentialChangeMs: credentialChange === null ? null : login.at - credentialChange,
    unfinishedSecondFactor: unfinished,
  };
}

export function travel(
  from: PreviousLogin,
  to: { at: number; country: string },
  config: Pick<SignalConfig, "maxTravelKmh" | "minTravelKm"> = DEFAULT_SIGNAL_CONFIG,
): ImpossibleTravel | null {
  const a = COUNTRY_CENTROIDS[from.country.toUpperCase()];
  const b = COUNTRY_CENTROIDS[to.country.toUpperCase()];
  if (!a || !b) return null;
  const distanceKm = greatCircleKm(a, b);
  const hours = Math.max(0, to.at - from.at) / 3_600_000;
  const speedKmh = distanceKm === 0 ? 0 : hours === 0 ? Number.POSITIVE_INFINITY : distanceKm / hours;
  return {
    flagged: distanceKm >= config.minTravelKm && speedKmh > config.maxTravelKmh,
    fromCountry: from.country,
    toCountry: to.country,
    distanceKm,
    hours,
    speedKmh,
  };
}

const EARTH_RADIUS_KM = 6371.0088; // mean radius (IUGG)

/** Haversine distance between two [lat, lon] points in degrees. */
export function greatCircleKm(a: readonly [number, number], b: readonly [number, number]): number {
  const rad = Math.PI / 180;
  const dLat = (b[0] - a[0]) * rad;
  const dLon = (b[1] - a[1]) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a[0] * rad) * Math.cos(b[0] * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * Approximate geographic centres [lat, lon] of countries, rounded to 0.1°. Small and static on purpose: the
 * signal only needs "how far apart are these two countries", and GeoIP gives us no finer location we trust.
 */
export const COUNTRY_CENTROIDS: Readonly<Record<string, readonly [number, number]>> = {
  AE: [23.9, 54.3],
  AR: [-35.4, -65.2],
  AT: [47.6, 14.1],
  AU: [-25.7, 134.5],
  BD: [23.8, 90.3],
  BE: [50.6, 4.6],
  BG: [42.8, 25.2],
  BR: [-10.8, -53.1],
  CA: [61.4, -98.3],
  CH: [46.8, 8.2],
  CL: [-37.7, -71.4],
  CN: [36.6, 103.8],
  CO: [3.9, -73.1],
  CZ: [49.7, 15.3],
  DE: [51.1, 10.4],
  DK: [56.0, 10.0],
  EG: [26.5, 29.9],
  ES: [40.2, -3.6],
  FI: [64.5, 26.3],
  FR: [46.6, 2.5],
  GB: [54.1, -2.9],
  GR: [39.1, 22.9],
  HK: [22.4, 114.1],
  HU: [47.2, 19.4],
  ID: [-2.2, 117.3],
  IE: [53.2, -8.1],
  IL: [31.1, 34.9],
  IN: [22.9, 79.6],
  IR: [32.6, 54.3],
  IT: [42.8, 12.1],
  JP: [37.6, 138.0],
  KE: [0.6, 37.8],
  KR: [36.4, 127.8],
  KZ: [48.2, 67.3],
  LT: [55.3, 23.9],
  MX: [23.9, -102.5],
  MY: [3.8, 109.7],
  NG: [9.6, 8.1],
  NL: [52.1, 5.3],
  NO: [64.6, 17.5],
  NZ: [-41.8, 171.5],
  PH: [11.8, 122.9],
  PK: [29.9, 69.4],
  PL: [52.1, 19.4],
  PT: [39.6, -8.5],
  RO: [45.9, 25.0],
  RU: [61.9, 96.7],
  SA: [24.1, 44.5],
  SE: [62.8, 16.7],
  SG: [1.4, 103.8],
  TH: [15.1, 101.0],
  TR: [39.1, 35.2],
  TW: [23.8, 121.0],
  UA: [49.0, 31.4],
  US: [39.8, -98.6],
  VN: [16.7, 106.3],
  ZA: [-29.0, 25.1],
};
