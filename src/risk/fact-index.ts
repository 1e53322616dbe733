/**
 * The account and IP facts of a risk snapshot (features.ts `snapshot`) kept in this process's memory, for the embedded
 * store on a file: a decision then reads no table. Loaded at start; an account or IP not loaded is read from the store
 * the first time it is asked about.
 *
 * Exact, not a time-limited cache: every write to the tables these facts come from adds a row naming the account (and
 * IP) to `risk_changes`, by trigger, in the writing transaction (migration 0008). Before answering, the index reads the
 * feed rows added since it last looked — whenever the store's change counter moved: this process's commits at once,
 * other processes' within FOREIGN_CHECK_MS (db/database.ts), the bound session introspection already has — and forgets
 * the accounts and IPs they name. The facts are kept as rows, not answers, so any `now` is answered as the SQL would
 * (windows, rows dated after `now`).
 */

import { sql } from "kysely";
import { networkOf } from "../context/ip.ts";
import type { Db, SyncStatement } from "../db/database.ts";
import { lowerBound, upperBound } from "../shared/sorted.ts";
import type { FactorSql, FeatureSnapshot, SnapshotQuery } from "./features.ts";
import { credentialEvents } from "./features.ts";

export interface FactIndexDeps {
  readSync: (sql: string) => SyncStatement;
  /** DatabaseHandle.changeCounter: moves after every commit to the store. */
  changeCounter: () => number;
  /** Deletes feed rows no reader needs any more (the writer connection's job; the index only reads). */
  prune?: (keepNewest: number) => Promise<void>;
  onError?: (err: unknown, what: string) => void;
}

export interface FactIndexOptions {
  /** Loaded at start only when the store has at most this many successful sign-ins (else accounts load on demand). */
  maxLoadLogins?: number;
  /** Accounts held; past it the index starts over (and loads accounts on demand). */
  maxAccounts?: number;
  /** An account with more successful sign-ins than this is always read from the store. */
  maxLoginsPerAccount?: number;
  /** An IP with more failed sign-ins than this is always read from the store. */
  maxFailuresPerIp?: number;
  /** IPs held; past it the IPs start over (and load on demand). */
  maxIps?: number;
  /** A reader more than this many feed rows behind starts over instead of reading them (the writer keeps twice as many). */
  feedCatchUp?: number;
  /** The credential-change event types (features.ts `credentialEvents`: identity's and the registered factors'). */
  credentialEvents?: readonly string[];
  /**
   * The registered factors' enrolled-account SQL (features.ts `FactorSql`, the same the statement reads). Their tables
   * must feed the change feed (risk/migration.ts `feedFactTables`, app.ts) for an enrolment to reach the index.
   */
  factors?: readonly FactorSql[];
}

interface AccountEntry {
  status: string;
  createdAt: number;
  /** The enrolled factor kinds, in registration order. */
  factors: string[];
  verifiedEmail: boolean;
  /** risk_account_settings.allowed_countries as stored (JSON text), or null. */
  allowed: string | null;
  /** Successful sign-ins in time order: parallel arrays. */
  loginAt: number[];
  loginCountry: (string | null)[];
  /**
   * The first successful sign-in's time per device and per country. "First at or before now" is this time when it is
   * at or before now, else none: one lookup instead of a scan comparing every sign-in's strings.
   */
  firstDevice: Map<string, number>;
  firstCountry: Map<string, number>;
  /** The same for the ASN and the network (/24, /48) signed in from (features.ts `firstSeenNetwork`). */
  firstAsn: Map<number, number>;
  firstNetwork: Map<string, number>;
  /** Credential-change events, in time order. */
  credentialAt: number[];
  /** Second-factor challenges not completed, by creation time. */
  openChallengeAt: number[];
}

/** Failed and denied sign-ins from one IP, in time order. */
interface IpEntry {
  at: number[];
  failed: boolean[];
  identifier: string[];
}

/** Too many rows to hold: read from the store on each use, until the feed names it. */
const TOO_BIG = Symbol("too big");
/** Changed since loaded (an IP while every failing IP is held, where absence means none): read it again. */
const STALE = Symbol("stale");
const EMPTY_IP: IpEntry = { at: [], failed: [], identifier: [] };

const LOGINS =
  "select account_id, at, device_id, country, ip, asn from login_attempts where outcome = 'succeeded' and account_id is not null";
const CHALLENGES = "select account_id, created_at from signin_challenges where completed_at is null";
const FAILURES = "select ip, at, outcome, identifier from login_attempts where outcome in ('failed', 'denied')";

export function createFactIndex(deps: FactIndexDeps, opts: FactIndexOptions = {}) {
  const maxLoadLogins = opts.maxLoadLogins ?? 5_000_000;
  const maxAccounts = opts.maxAccounts ?? 1_000_000;
  const maxLoginsPerAccount = opts.maxLoginsPerAccount ?? 2000;
  const maxFailuresPerIp = opts.maxFailuresPerIp ?? 2000;
  const maxIps = opts.maxIps ?? 1_000_000;
  const feedCatchUp = opts.feedCatchUp ?? 50_000;
  // credentialEvents checks each type's characters: they are written into the statement's text.
  const CREDENTIALS = `select account_id, at from events where type in (${(opts.credentialEvents ?? credentialEvents()).map((t) => `'${t}'`).join(", ")})`;
  const factorSql = opts.factors ?? [];
  const report = deps.onError ?? (() => {});
  const q = (text: string) => deps.readSync(text);

  const accounts = new Map<string, AccountEntry | typeof TOO_BIG>();
  const ips = new Map<string, IpEntry | typeof TOO_BIG | typeof STALE>();
  /** True while every IP with failures is in `ips` (after a full load): an absent IP then has none. */
  let ipsComplete = false;
  let cursor = 0;
  let counterSeen = Number.NaN;
  let prunedAt = 0;

  const feedMax = q("select coalesce(max(seq), 0) as seq from risk_changes");
  const feedSince = q(
    `select seq, account_id, ip from risk_changes where seq > ? order by seq limit ${feedCatchUp + 1}`,
  );
  // One 0/1 column per factor after status and created_at, as features.ts reads them.
  const accountRow = q(
    `select ${["status", "created_at", ...factorSql.map((f, i) => `case when exists (select 1 from (${f.select}) f where f.account_id = accounts.id) then 1 else 0 end as f${i}`)].join(", ")} from accounts where id = ?`,
  );
  const emailRow = q(
    "select 1 from contact_points where account_id = ? and kind = 'email' and verified = 1 and removed_at is null limit 1",
  );
  const settingsRow = q("select allowed_countries from risk_account_settings where account_id = ?");
  const loginRows = q(`${LOGINS} and account_id = ? order by at`);
  const credentialRows = q(`${CREDENTIALS} and account_id = ? order by at`);
  const challengeRows = q(`${CHALLENGES} and account_id = ? order by created_at`);
  const failureRows = q(`${FAILURES} and ip = ? order by at`);

  // The last account `held` answered, and its entry: a decision asks for one account twice (its networks, then the
  // snapshot), and each lookup in a map of every account costs a few cache misses. Forgotten with any change to
  // `accounts` (below), so it answers what the map answers.
  let heldId: string | null = null;
  let heldEntry: AccountEntry | undefined;

  function forgetAll() {
    heldId = null;
    accounts.clear();
    ips.clear();
    ipsComplete = false;
  }

  /** Reads the feed when the store changed, and forgets what it names. */
  function catchUp() {
    const c = deps.changeCounter();
    if (c === counterSeen) return;
    // Noted only once the feed was read: a read that throws leaves the facts to be caught up by the next answer
    // instead of trusted as they are.
    const rows = feedSince.all(cursor) as { seq: number; account_id: string | null; ip: string | null }[];
    if (rows.length > feedCatchUp) {
      forgetAll();
      cursor = Number((feedMax.all()[0] as { seq: number }).seq);
      counterSeen = c;
      return;
    }
    counterSeen = c;
    heldId = null;
    for (const r of rows) {
      if (r.account_id !== null) accounts.delete(r.account_id);
      // With every failing IP loaded, absence means "none": a changed IP is marked to be read again instead.
      if (r.ip !== null) {
        if (ipsComplete) ips.set(r.ip, STALE);
        else ips.delete(r.ip);
      }
      cursor = r.seq;
    }
    if (deps.prune && cursor - prunedAt > feedCatchUp) {
      prunedAt = cursor;
      deps.prune(2 * feedCatchUp).catch((e: unknown) => report(e, "risk change feed prune"));
    }
  }

  function newEntry(status: string, createdAt: unknown, factors: string[]): AccountEntry {
    return {
      status,
      createdAt: Number(createdAt),
      factors,
      verifiedEmail: false,
      allowed: null,
      loginAt: [],
      loginCountry: [],
      firstDevice: new Map(),
      firstCountry: new Map(),
      firstAsn: new Map(),
      firstNetwork: new Map(),
      credentialAt: [],
      openChallengeAt: [],
    };
  }

  /** Appends a successful sign-in; rows come in time order, so the first seen per device or country is its first. */
  function addLogin(
    e: AccountEntry,
    at: number,
    device: string | null,
    country: string | null,
    ip: unknown,
    asn: unknown,
  ) {
    e.loginAt.push(at);
    e.loginCountry.push(country);
    if (device !== null && !e.firstDevice.has(device)) e.firstDevice.set(device, at);
    if (country !== null && !e.firstCountry.has(country)) e.firstCountry.set(country, at);
    if (asn !== null && asn !== undefined && !e.firstAsn.has(Number(asn))) e.firstAsn.set(Number(asn), at);
    const network = networkOf(String(ip));
    if (network !== null && !e.firstNetwork.has(network)) e.firstNetwork.set(network, at);
  }

  /** One account's rows from the store; null when it does not exist. */
  function readAccount(id: string): AccountEntry | null | typeof TOO_BIG {
    const a = accountRow.all(id)[0];
    if (!a) return null;
    const e = newEntry(
      String(a.status),
      a.created_at,
      factorSql.filter((_, i) => Number(a[`f${i}`]) === 1).map((f) => f.kind),
    );
    e.verifiedEmail = emailRow.all(id).length > 0;
    const s = settingsRow.all(id)[0];
    e.allowed = s ? String(s.allowed_countries) : null;
    for (const [, at, device, country, ip, asn] of loginRows.rows(id)) {
      if (e.loginAt.length >= maxLoginsPerAccount) return TOO_BIG;
      addLogin(e, Number(at), device as string | null, country as string | null, ip, asn);
    }
    for (const [, at] of credentialRows.rows(id)) e.credentialAt.push(Number(at));
    for (const [, at] of challengeRows.rows(id)) e.openChallengeAt.push(Number(at));
    return e;
  }

  function readIp(ip: string): IpEntry | typeof TOO_BIG {
    const e: IpEntry = { at: [], failed: [], identifier: [] };
    for (const [, at, outcome, identifier] of failureRows.rows(ip)) {
      if (e.at.length >= maxFailuresPerIp) return TOO_BIG;
      e.at.push(Number(at));
      e.failed.push(outcome === "failed");
      e.identifier.push(String(identifier));
    }
    return e;
  }

  function ipActivity(ip: string, from: number, now: number) {
    let e = ips.get(ip);
    if (e === undefined && ipsComplete) e = EMPTY_IP;
    if (e === undefined || e === STALE) {
      e = readIp(ip);
      if (ips.size >= maxIps) {
        ips.clear();
        ipsComplete = false;
      }
      ips.set(ip, e);
    }
    if (e === TOO_BIG) return ipFromStore(ip, from, now);
    const lo = upperBound(e.at, from);
    const hi = upperBound(e.at, now);
    let failed = 0;
    let distinct = 0;
    if (hi > lo) {
      const seen = new Set<string>();
      for (let i = lo; i < hi; i++) {
        if (e.failed[i]) failed++;
        seen.add(e.identifier[i]!);
      }
      distinct = seen.size;
    }
    return { failedLogins: failed, distinctAccounts: distinct };
  }

  /** An IP with too many failures to hold: counted by the store, as the SQL snapshot does. */
  const ipCount = q(
    "select coalesce(sum(case when outcome = 'failed' then 1 else 0 end), 0) as failed, count(distinct identifier) as accounts from login_attempts where ip = ? and at > ? and at <= ? and outcome in ('failed', 'denied')",
  );
  function ipFromStore(ip: string, from: number, now: number) {
    const r = ipCount.all(ip, from, now)[0]!;
    return { failedLogins: Number(r.failed), distinctAccounts: Number(r.accounts) };
  }

  /** The account's entry, read from the store if not held; undefined when it does not exist or is too big to hold. */
  function held(accountId: string): AccountEntry | undefined {
    catchUp();
    if (accountId === heldId) return heldEntry;
    let e = accounts.get(accountId);
    if (e === undefined) {
      const read = readAccount(accountId);
      // An account that does not exist is left to the store's answer (it has none either). Remembered as the last
      // answer like any other, so a decision's later asks do not read the store again (credential stuffing tries
      // many ids that do not exist); any commit forgets it (catchUp), an account created since among them.
      if (read === null) {
        heldId = accountId;
        heldEntry = undefined;
        return undefined;
      }
      if (accounts.size >= maxAccounts) accounts.clear();
      accounts.set(accountId, read);
      e = read;
    }
    heldId = accountId;
    heldEntry = e === TOO_BIG ? undefined : e;
    return heldEntry;
  }

  const index = {
    /**
     * Every account, its successful sign-ins, credential changes and open challenges, and every IP's failed sign-ins,
     * when the store is small enough (`maxLoadLogins`); else accounts and IPs load on demand. Feed rows written during
     * the load are read at the next answer, so nothing written meanwhile is missed.
     */
    load(): { accounts: number; logins: number; ips: number; complete: boolean } {
      forgetAll();
      cursor = Number((feedMax.all()[0] as { seq: number }).seq);
      counterSeen = Number.NaN;
      const total = Number(
        (q("select count(*) as n from login_attempts where outcome = 'succeeded'").all()[0] as { n: number }).n,
      );
      const nAccounts = Number((q("select count(*) as n from accounts").all()[0] as { n: number }).n);
      if (total > maxLoadLogins || nAccounts > maxAccounts) return { accounts: 0, logins: 0, ips: 0, complete: false };
      const loaded = new Map<string, AccountEntry | typeof TOO_BIG>();
      for (const [id, status, createdAt] of q("select id, status, created_at from accounts").rows())
        loaded.set(String(id), newEntry(String(status), createdAt, []));
      const entry = (id: unknown) => {
        const e = loaded.get(String(id));
        return e === TOO_BIG ? undefined : e;
      };
      // Factor by factor, in registration order, so each account's kinds come in that order.
      for (const f of factorSql) {
        for (const [id] of q(`select distinct account_id from (${f.select}) f`).rows()) entry(id)?.factors.push(f.kind);
      }
      for (const [id] of q(
        "select distinct account_id from contact_points where kind = 'email' and verified = 1 and removed_at is null",
      ).rows()) {
        const e = entry(id);
        if (e) e.verifiedEmail = true;
      }
      for (const [id, allowed] of q("select account_id, allowed_countries from risk_account_settings").rows()) {
        const e = entry(id);
        if (e) e.allowed = String(allowed);
      }
      let logins = 0;
      for (const [id, at, device, country, ip, asn] of q(`${LOGINS} order by account_id, at`).rows()) {
        const e = entry(id);
        if (!e) continue;
        if (e.loginAt.length >= maxLoginsPerAccount) {
          loaded.set(String(id), TOO_BIG);
          continue;
        }
        addLogin(e, Number(at), device as string | null, country as string | null, ip, asn);
        logins++;
      }
      for (const [id, at] of q(`${CREDENTIALS} order by account_id, at`).rows())
        entry(id)?.credentialAt.push(Number(at));
      for (const [id, at] of q(`${CHALLENGES} order by account_id, created_at`).rows())
        entry(id)?.openChallengeAt.push(Number(at));
      for (const [id, e] of loaded) accounts.set(id, e);
      let current: string | null = null;
      let e: IpEntry | typeof TOO_BIG = TOO_BIG;
      for (const [ip, at, outcome, identifier] of q(`${FAILURES} order by ip, at`).rows()) {
        if (ip !== current) {
          current = String(ip);
          e = { at: [], failed: [], identifier: [] };
          ips.set(current, e);
        }
        if (e === TOO_BIG) continue;
        if (e.at.length >= maxFailuresPerIp) {
          ips.set(String(ip), TOO_BIG);
          e = TOO_BIG;
          continue;
        }
        e.at.push(Number(at));
        e.failed.push(outcome === "failed");
        e.identifier.push(String(identifier));
      }
      ipsComplete = true;
      return { accounts: accounts.size, logins, ips: ips.size, complete: true };
    },

    /**
     * What the SQL snapshot answers for `sq`, from memory; undefined when the store should answer (an account that
     * does not exist or has too many sign-ins to hold). The same values as the statement (fact-index.test.ts compares
     * them after random writes).
     */
    snapshot(sq: SnapshotQuery): FeatureSnapshot | undefined {
      const e = held(sq.accountId);
      if (e === undefined) return undefined;
      const now = sq.now;
      const upTo = upperBound(e.loginAt, now); // sign-ins at or before now: [0, upTo)
      const before = lowerBound(e.loginAt, now); // strictly before now: [0, before)
      const last1 = upTo > 0 ? e.loginAt[upTo - 1]! : null;
      const last2 = upTo > 1 ? e.loginAt[upTo - 2]! : null;
      const fd = sq.deviceId === null ? undefined : e.firstDevice.get(sq.deviceId);
      const firstDevice = fd !== undefined && fd <= now ? fd : null;
      const fc = sq.country === null ? undefined : e.firstCountry.get(sq.country);
      const firstCountry = fc !== undefined && fc <= now ? fc : null;
      const prevCountry = before > 0 ? e.loginCountry[before - 1] : null;
      const c = upperBound(e.credentialAt, now);
      const openFrom = upperBound(e.openChallengeAt, now - sq.secondFactorWindowMs);
      const openTo = upperBound(e.openChallengeAt, now);
      return {
        account: {
          id: sq.accountId,
          status: e.status,
          createdAt: e.createdAt,
          factors: [...e.factors],
          totpEnabled: e.factors.includes("totp"),
          verifiedEmail: e.verifiedEmail,
          lastSignIns: last1 === null ? [] : last2 === null ? [last1] : [last1, last2],
          allowedCountries: e.allowed === null ? null : (JSON.parse(e.allowed) as string[]),
        },
        firstSeen: { device: firstDevice, country: firstCountry },
        previousLogin: prevCountry ? { at: e.loginAt[before - 1]!, country: prevCountry } : null,
        lastCredentialChange: c > 0 ? e.credentialAt[c - 1]! : null,
        unfinishedSecondFactor: Math.max(0, openTo - openFrom),
        ipActivity: ipActivity(sq.ip, now - sq.ipWindowMs, now),
      };
    },

    /** features.ts `firstSeenNetwork` from memory; undefined when the store should answer (as `snapshot`). */
    firstSeenNetwork(
      accountId: string,
      asn: number | null,
      network: string | null,
      before: number,
    ): { asn: number | null; network: number | null } | undefined {
      const e = held(accountId);
      if (e === undefined) return undefined;
      const a = asn === null ? undefined : e.firstAsn.get(asn);
      const n = network === null ? undefined : e.firstNetwork.get(network);
      return { asn: a !== undefined && a <= before ? a : null, network: n !== undefined && n <= before ? n : null };
    },

    get size(): { accounts: number; ips: number } {
      return { accounts: accounts.size, ips: ips.size };
    },
  };
  return index;
}

export type FactIndex = ReturnType<typeof createFactIndex>;

/** Deletes change-feed rows older than the newest `keep` (FactIndexDeps.prune: the writer connection's job). */
export async function pruneChangeFeed(db: Db, keep: number): Promise<void> {
  await sql`delete from risk_changes where seq <= (select max(seq) from risk_changes) - ${keep}`.execute(db);
}
