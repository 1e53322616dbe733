import { availableParallelism, hostname } from "node:os";
import path from "node:path";
import { type Branding, loadBranding } from "./shared/branding.ts";
import { DAY, HOUR, MINUTE } from "./shared/clock.ts";

export interface Config {
  host: string;
  port: number;
  publicUrl: string;
  dataDir: string;
  databaseUrl: string | undefined;
  redisUrl: string | undefined;
  smtpUrl: string | undefined;
  /** the store's name, logo, contacts, sender, time zone and mail text overrides (shared/branding.ts) */
  branding: Branding;
  /** instance secret (hex/base64, ≥ 32 bytes); generated and kept in the store when unset */
  secret: string | undefined;
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
  /** how recent the sign-in (and second factor) must be for a sensitive change */
  freshAuthMs: number;
  sessionTtlMs: number;
  sessionIdleMs: number;
  /**
   * how long a session's last-seen time may wait in memory before it is written, in one batch with others
   * (MAMORI_SESSION_LAST_SEEN_FLUSH_MS, default 5000; sessions/last-seen.ts): what a crash can lose
   */
  sessionLastSeenFlushMs: number;
  /**
   * session rows kept in memory on the embedded store (MAMORI_SESSION_KEPT_ROWS, default 1,000,000, ~400 B of heap each;
   * sessions/kept-rows.ts): all of them loaded at start, so checks of many distinct sessions read no file
   */
  sessionKeptRows: number;
  /**
   * this node's name in lockdown leases (MAMORI_NODE_ID, default host name and port): a node started again under the
   * same name takes back its own interrupted lockdowns at once; another node takes them when the lease lapses
   */
  nodeId: string;
  /** how long a node's claim on a running lockdown lasts without renewal (MAMORI_LOCKDOWN_LEASE_MS, default 15000) */
  lockdownLeaseMs: number;
  /** staff (admin) sessions end after this long without a request (MAMORI_STAFF_SESSION_IDLE_MINUTES, default 15) */
  staffSessionIdleMs: number;
  /** and after this long whatever happens (MAMORI_STAFF_SESSION_TTL_HOURS, default 8) */
  staffSessionTtlMs: number;
  /** live sessions per account; a sign-in past it ends the oldest (with a notice) */
  maxSessionsPerAccount: number;
  /**
   * MAMORI_SECOND_FACTOR: `risk` (default) asks for a second factor when the account has an authenticator or the
   * context is risky; `always` asks on every password sign-in (the authenticator, or else an emailed code).
   */
  secondFactor: "risk" | "always";
  /** how long a request to remove a lost authenticator waits before it takes effect */
  factorResetDelayMs: number;
  /** password hashes run at once (one thread each); one slot is kept for accounts' known devices */
  hashSlots: number;
  appPasswordSessionTtlMs: number;
  resetTokenTtlMs: number;
  emailRevertTtlMs: number;
  notMeTtlMs: number;
  codeTtlMs: number;
  /** sign-in failures and challenges, sign-up and reset requests answer no sooner than this (ms) */
  answerFloorMs: number;
  challengeTtlMs: number;
  logLevel: string;
  /** run the notification dispatcher in this process */
  dispatcher: boolean;
  /** MAMORI_PASSWORD_SERVICE_WORDS (comma-separated): more words no password may be built from */
  passwordServiceWords: string[];
  /** MAMORI_PWNED_RANGE_URL: a Have-I-Been-Pwned-compatible range endpoint; unset = no online breach check */
  pwnedRangeUrl: string | undefined;
  /** MAMORI_PWNED_RANGE_TIMEOUT_MS: past this the password counts as not checked online (default 1500) */
  pwnedRangeTimeoutMs: number;
  /**
   * MAMORI_PASSKEY_RP_ID: the WebAuthn relying party id passkeys are bound to — the store's registrable domain
   * (default: MAMORI_PUBLIC_URL's host). Changing it later orphans every passkey registered under the old one.
   */
  passkeyRpId: string;
  /** MAMORI_PASSKEY_ORIGINS (comma-separated): the pages allowed to use them (default: MAMORI_PUBLIC_URL's origin) */
  passkeyOrigins: string[];
}

function int(v: string | undefined, dflt: number): number {
  if (v === undefined || v === "") return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new Error(`invalid number: ${v}`);
  return n;
}

function httpUrl(name: string, v: string | undefined): string | undefined {
  const s = v?.trim();
  if (!s) return undefined;
  if (!/^https?:\/\/[^/]/.test(s) || !URL.canParse(s)) throw new Error(`${name} must be an http(s) URL: ${s}`);
  return s;
}

function secondFactorMode(v: string | undefined): Config["secondFactor"] {
  const s = (v ?? "").trim() || "risk";
  if (s !== "risk" && s !== "always") throw new Error(`MAMORI_SECOND_FACTOR must be risk or always: ${v}`);
  return s;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const port = int(env.MAMORI_PORT, 7300);
  const fast = env.MAMORI_FAST_HASH === "1";
  const cfg: Config = {
    host: env.MAMORI_HOST ?? "127.0.0.1",
    port,
    publicUrl: (env.MAMORI_PUBLIC_URL ?? `http://localhost:${port}`).replace(/\/$/, ""),
    dataDir: path.resolve(env.MAMORI_DATA_DIR ?? "mamori-data"),
    databaseUrl: env.MAMORI_DATABASE_URL || undefined,
    redisUrl: env.MAMORI_REDIS_URL || undefined,
    smtpUrl: env.MAMORI_SMTP_URL || undefined,
    branding: loadBranding(env),
    secret: env.MAMORI_SECRET || undefined,
    // OWASP argon2id m=19 MiB t=2 p=1; MAMORI_FAST_HASH=1 (tests only) keeps argon2id but cheap.
    argon2: fast
      ? { memoryCost: 1024, timeCost: 1, parallelism: 1 }
      : {
          memoryCost: int(env.MAMORI_ARGON2_MEMORY_KIB, 19456),
          timeCost: int(env.MAMORI_ARGON2_TIME, 2),
          parallelism: 1,
        },
    freshAuthMs: int(env.MAMORI_FRESH_AUTH_MINUTES, 10) * MINUTE,
    sessionTtlMs: int(env.MAMORI_SESSION_TTL_DAYS, 30) * DAY,
    sessionIdleMs: int(env.MAMORI_SESSION_IDLE_DAYS, 14) * DAY,
    sessionLastSeenFlushMs: Math.max(10, int(env.MAMORI_SESSION_LAST_SEEN_FLUSH_MS, 5000)),
    sessionKeptRows: Math.max(0, int(env.MAMORI_SESSION_KEPT_ROWS, 1_000_000)),
    nodeId: env.MAMORI_NODE_ID?.trim() || `${hostname()}:${port}`,
    lockdownLeaseMs: Math.max(1000, int(env.MAMORI_LOCKDOWN_LEASE_MS, 15_000)),
    staffSessionIdleMs: Math.max(1, int(env.MAMORI_STAFF_SESSION_IDLE_MINUTES, 15)) * MINUTE,
    staffSessionTtlMs: Math.max(1, int(env.MAMORI_STAFF_SESSION_TTL_HOURS, 8)) * HOUR,
    maxSessionsPerAccount: Math.max(1, int(env.MAMORI_MAX_SESSIONS, 20)),
    secondFactor: secondFactorMode(env.MAMORI_SECOND_FACTOR),
    factorResetDelayMs: int(env.MAMORI_FACTOR_RESET_HOURS, 72) * HOUR,
    hashSlots: Math.max(2, int(env.MAMORI_HASH_SLOTS, Math.min(availableParallelism(), 8))),
    appPasswordSessionTtlMs: 60 * MINUTE,
    resetTokenTtlMs: 30 * MINUTE,
    emailRevertTtlMs: 30 * DAY,
    notMeTtlMs: 30 * DAY,
    codeTtlMs: 10 * MINUTE,
    answerFloorMs: int(env.MAMORI_ANSWER_FLOOR_MS, 150),
    challengeTtlMs: 10 * MINUTE,
    logLevel: env.MAMORI_LOG_LEVEL ?? "info",
    dispatcher: env.MAMORI_DISPATCHER !== "off",
    passwordServiceWords: (env.MAMORI_PASSWORD_SERVICE_WORDS ?? "")
      .split(",")
      .map((w) => w.trim())
      .filter((w) => w !== ""),
    pwnedRangeUrl: httpUrl("MAMORI_PWNED_RANGE_URL", env.MAMORI_PWNED_RANGE_URL),
    pwnedRangeTimeoutMs: int(env.MAMORI_PWNED_RANGE_TIMEOUT_MS, 1500),
    // derived from the final public URL below
    passkeyRpId: "",
    passkeyOrigins: [],
  };
  const merged: Config = { ...cfg, ...overrides };
  return {
    ...merged,
    ...passkeyRelyingParty(env, merged.publicUrl),
    ...pick(overrides, "passkeyRpId", "passkeyOrigins"),
  };
}

function pick<T extends object, K extends keyof T>(o: T, ...keys: K[]): Partial<Pick<T, K>> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]])) as Partial<Pick<T, K>>;
}

/**
 * The passkeys' relying party, defaulting from the public URL (after overrides, so a test's or the CLI's public URL
 * counts). Every origin must be the RP id or a subdomain of it, or browsers would refuse every ceremony: checked here,
 * at start, rather than at the first passkey.
 */
function passkeyRelyingParty(
  env: NodeJS.ProcessEnv,
  publicUrl: string,
): Pick<Config, "passkeyRpId" | "passkeyOrigins"> {
  const base = new URL(publicUrl);
  const rpId = (env.MAMORI_PASSKEY_RP_ID ?? "").trim().toLowerCase() || base.hostname;
  const listed = (env.MAMORI_PASSKEY_ORIGINS ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  const origins = (listed.length ? listed : [base.origin]).map((o) => {
    if (!/^https?:\/\/[^/]/.test(o) || !URL.canParse(o)) throw new Error(`MAMORI_PASSKEY_ORIGINS: not an origin: ${o}`);
    const u = new URL(o);
    if (u.hostname !== rpId && !u.hostname.endsWith(`.${rpId}`)) {
      throw new Error(`MAMORI_PASSKEY_ORIGINS: ${o} is not on the relying party ${rpId} (MAMORI_PASSKEY_RP_ID)`);
    }
    return u.origin;
  });
  return { passkeyRpId: rpId, passkeyOrigins: origins };
}
