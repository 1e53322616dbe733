/**
 * What the risk engine reads from the identity tables: the LoginSignalSource of signals.ts, plus the account's
 * facts a policy may need. Read-only; every query is by an indexed prefix (account_id + at, ip + at).
 */
import { type Compilable, sql } from "kysely";
import { networkOf } from "../context/ip.ts";
import type { Db, Executor, HotQuery } from "../db/database.ts";
import type { LoginSignalSource, PreviousLogin } from "./signals.ts";

export interface AccountFacts {
  id: string;
  status: string;
  createdAt: number;
  /**
   * The factor kinds enrolled, in registration order, from each factor's `enrolledSql` (the factor registry's, given
   * by app.ts: risk names no factor's tables). Read with the account, so the stored default `totpEnabled` costs nothing.
   */
  factors: string[];
  /** An authenticator app enrolled (`factors` has `totp`): the fact older policies were written with. */
  totpEnabled: boolean;
  verifiedEmail: boolean;
  /** Successful sign-ins, newest first (at most 2, at or before `before`). */
  lastSignIns: number[];
  allowedCountries: string[] | null;
}

export interface RiskFeatureSource extends LoginSignalSource {
  account(accountId: string, before: number): Promise<AccountFacts | null>;
  /** When this device and this country first signed in to the account (before `before`); null if never. */
  firstSeen(
    accountId: string,
    deviceId: string | null,
    country: string | null,
    before: number,
  ): Promise<{ device: number | null; country: number | null }>;
  /**
   * When this ASN and this network (context/ip.ts `networkOf`: the /24 or /48) first signed in to the account
   * (before `before`), among its newest NETWORK_HISTORY successful sign-ins; null if never.
   */
  firstSeenNetwork(
    accountId: string,
    asn: number | null,
    network: string | null,
    before: number,
  ): Promise<{ asn: number | null; network: number | null }>;
  /**
   * Optional: every read above for one account and request (`before` = `now`) in one statement. Null when the
   * account does not exist (the caller then asks per signal).
   */
  snapshot?(q: SnapshotQuery): Promise<FeatureSnapshot | null>;
}

/** What `snapshot` answers: the same values as the separate calls with the same arguments. */
export interface FeatureSnapshot {
  account: AccountFacts;
  firstSeen: { device: number | null; country: number | null };
  previousLogin: PreviousLogin | null;
  lastCredentialChange: number | null;
  unfinishedSecondFactor: number;
  ipActivity: { failedLogins: number; distinctAccounts: number };
}

export interface SnapshotQuery {
  accountId: string;
  deviceId: string | null;
  country: string | null;
  ip: string;
  now: number;
  ipWindowMs: number;
  secondFactorWindowMs: number;
}

/**
 * Identity's own event types that are credential changes (for "time since the last credential change"). A second
 * factor's changes are the factor registry's (each factor's `changeEvents`, given by app.ts): `credentialEvents`.
 */
export const CREDENTIAL_EVENTS = [
  "password.changed",
  "password.reset",
  "email.changed",
  "phone.added",
  "phone.removed",
  "app_password.created",
];

/** A factor's enrolled accounts as SQL (identity's Factor.enrolledSql): a select of `account_id`, no parameters. */
export interface FactorSql {
  kind: string;
  select: string;
}

/** The built-in factors' change events, for a feature source built without the registry (tests, tools). */
export const BUILT_IN_FACTOR_EVENTS = [
  "totp.enabled",
  "totp.disabled",
  "factor_reset.requested",
  "factor_reset.cancelled",
  "recovery_codes.regenerated",
  "passkey.added",
  "passkey.removed",
];

/** Every credential-change event type: identity's own and the factors'. Types are code, checked before SQL sees them. */
export function credentialEvents(factorEvents: readonly string[] = BUILT_IN_FACTOR_EVENTS): string[] {
  const all = [...new Set([...CREDENTIAL_EVENTS, ...factorEvents])];
  for (const t of all) if (!/^[a-z0-9_.]+$/.test(t)) throw new Error(`not an event type: ${t}`);
  return all;
}

/**
 * Successful sign-ins a "network the account never used" looks back over (the newest). The network is derived from
 * the stored IP, so it is computed here rather than matched in SQL; the fact index holds at most this many per
 * account too, so both answer the same.
 */
export const NETWORK_HISTORY = 2000;

/** The first-seen times of an ASN and a network among sign-ins (any order), as `firstSeenNetwork` answers. */
export function firstOfNetwork(
  rows: Iterable<{ at: number; ip: string; asn: number | null }>,
  asn: number | null,
  network: string | null,
): { asn: number | null; network: number | null } {
  let a: number | null = null;
  let n: number | null = null;
  for (const r of rows) {
    if (asn !== null && r.asn === asn && (a === null || r.at < a)) a = r.at;
    if (network !== null && (n === null || r.at < n) && networkOf(r.ip) === network) n = r.at;
  }
  return { asn: a, network: n };
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/**
 * The feature source over the identity tables. With `hot` (the database handle's prepared-statement reads: a read-only
 * SQLite connection, named statements on PostgreSQL), each query is compiled by Kysely once, at creation, and run
 * with new parameters; without it, through Kysely per call (a transaction's executor, tests). Both run the same SQL.
 */
/**
 * The facts held in memory (fact-index.ts's FactIndex), asked first; undefined when an account is not held. Declared
 * here, not imported, because the index reads this module's queries (no import cycle).
 */
export interface HeldFacts {
  snapshot(q: SnapshotQuery): FeatureSnapshot | undefined;
  firstSeenNetwork(
    accountId: string,
    asn: number | null,
    network: string | null,
    before: number,
  ): { asn: number | null; network: number | null } | undefined;
}

export function createDbFeatureSource(
  db: Db,
  hot?: HotQuery,
  index?: HeldFacts,
  credentialTypes: readonly string[] = credentialEvents(),
  /** The registered factors' enrolled-account SQL (app.ts, from the registry); none: no factor counts as enrolled. */
  factorSql: readonly FactorSql[] = [],
): RiskFeatureSource {
  const ex: Executor = db;
  // One 0/1 column per factor, `f<i>`, on a query over `accounts`: the factor's select, matched on the account's id.
  const factorCols = () =>
    factorSql.map((f, i) =>
      sql<number>`case when exists (select 1 from (${sql.raw(f.select)}) f where f.account_id = accounts.id) then 1 else 0 end`.as(
        `f${i}`,
      ),
    );
  const kindsOf = (r: Record<string, unknown>) =>
    factorSql.filter((_, i) => Number(r[`f${i}`]) === 1).map((f) => f.kind);
  // Parameters are marked by sentinel strings at compile time and replaced by position at run time, so the prepared
  // SQL is exactly what Kysely would compile for the call (constants like the outcome stay as compiled).
  const arg = (name: string) => `\u0000arg:${name}` as never;
  function query<R>(build: (q: Executor, a: typeof arg) => Compilable<R>) {
    if (!hot) return null;
    const compiled = build(ex, arg).compile();
    const run = hot(compiled);
    const slots = compiled.parameters.map((p) =>
      typeof p === "string" && p.startsWith("\u0000arg:") ? p.slice(5) : null,
    );
    const fixed = [...compiled.parameters];
    return (args: Record<string, unknown>) => run(slots.map((s, i) => (s === null ? fixed[i] : args[s])));
  }

  const accountQ = (q: Executor, a: typeof arg) =>
    q
      .selectFrom("accounts")
      .select(["id", "status", "created_at", ...factorCols()])
      .where("id", "=", a("account"));
  const emailQ = (q: Executor, a: typeof arg) =>
    q
      .selectFrom("contact_points")
      .select("id")
      .where("account_id", "=", a("account"))
      .where("kind", "=", "email")
      .where("verified", "=", 1)
      .where("removed_at", "is", null)
      .limit(1);
  const lastLoginsQ = (q: Executor, a: typeof arg) =>
    q
      .selectFrom("login_attempts")
      .select("at")
      .where("account_id", "=", a("account"))
      .where("at", "<=", a("before"))
      .where("outcome", "=", "succeeded")
      .orderBy("at", "desc")
      .limit(2);
  const settingsQ = (q: Executor, a: typeof arg) =>
    q.selectFrom("risk_account_settings").select("allowed_countries").where("account_id", "=", a("account"));
  // The first sign-in with this device / country: the oldest matching row (the (account_id, at) index is walked in
  // time order and stops at the first match, where min(at) would read every row of the account).
  const firstSeenQ = (col: "device_id" | "country") => (q: Executor, a: typeof arg) =>
    q
      .selectFrom("login_attempts")
      .select("at")
      .where("account_id", "=", a("account"))
      .where("at", "<=", a("before"))
      .where("outcome", "=", "succeeded")
      .where(col, "=", a("value"))
      .orderBy("at", "asc")
      .limit(1);
  const networkQ = (q: Executor, a: typeof arg) =>
    q
      .selectFrom("login_attempts")
      .select(["at", "ip", "asn"])
      .where("account_id", "=", a("account"))
      .where("at", "<=", a("before"))
      .where("outcome", "=", "succeeded")
      .orderBy("at", "desc")
      .limit(NETWORK_HISTORY);
  const previousQ = (q: Executor, a: typeof arg) =>
    q
      .selectFrom("login_attempts")
      .select(["at", "country"])
      .where("account_id", "=", a("account"))
      .where("at", "<", a("before"))
      .where("outcome", "=", "succeeded")
      .orderBy("at", "desc")
      .limit(1);
  const credentialQ = (q: Executor, a: typeof arg) =>
    q
      .selectFrom("events")
      .select((eb) => eb.fn.max<number>("at").as("at"))
      .where("account_id", "=", a("account"))
      .where("type", "in", credentialTypes)
      .where("at", "<=", a("before"));
  const unfinishedQ = (q: Executor, a: typeof arg) =>
    q
      .selectFrom("signin_challenges")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("account_id", "=", a("account"))
      .where("created_at", ">", a("from"))
      .where("created_at", "<=", a("now"))
      .where("completed_at", "is", null);
  const ipQ = (q: Executor, a: typeof arg) =>
    q
      .selectFrom("login_attempts")
      .select((eb) => [
        eb.fn.sum<number>(eb.case().when("outcome", "=", "failed").then(1).else(0).end()).as("failed"),
        eb.fn.count<number>("identifier").distinct().as("accounts"),
      ])
      .where("ip", "=", a("ip"))
      .where("at", ">", a("from"))
      .where("at", "<=", a("now"))
      // Failures only: a shared NAT where many people sign in successfully is not an attack IP.
      .where("outcome", "in", ["failed", "denied"]);

  // One statement for a decision's account and request reads: scalar subqueries, each the query above with the same
  // conditions, so each answers what its separate query answers. A null device or country skips its subquery (the
  // guard is constant, so neither SQLite nor PostgreSQL walks the index for it).
  const snapshotQ = (q: Executor, a: typeof arg) =>
    q
      .selectFrom("accounts")
      .where("accounts.id", "=", a("account"))
      .select((eb) => {
        const succeeded = (before: "<=" | "<") =>
          eb
            .selectFrom("login_attempts")
            .where("account_id", "=", a("account"))
            .where("at", before, a("now"))
            .where("outcome", "=", "succeeded");
        const first = (col: "device_id" | "country", v: string) =>
          succeeded("<=")
            .where(sql<boolean>`cast(${a(v)} as text) is not null`)
            .where(col, "=", a(v))
            .select("at")
            .orderBy("at", "asc")
            .limit(1);
        const failures = () =>
          eb
            .selectFrom("login_attempts")
            .where("ip", "=", a("ip"))
            .where("at", ">", a("ipFrom"))
            .where("at", "<=", a("now"))
            .where("outcome", "in", ["failed", "denied"]);
        return [
          "accounts.id",
          "accounts.status",
          "accounts.created_at",
          ...factorCols(),
          eb
            .selectFrom("contact_points")
            .select("id")
            .where("account_id", "=", a("account"))
            .where("kind", "=", "email")
            .where("verified", "=", 1)
            .where("removed_at", "is", null)
            .limit(1)
            .as("email_id"),
          succeeded("<=").select("at").orderBy("at", "desc").limit(1).as("last1"),
          succeeded("<=").select("at").orderBy("at", "desc").limit(1).offset(1).as("last2"),
          eb
            .selectFrom("risk_account_settings")
            .select("allowed_countries")
            .where("account_id", "=", a("account"))
            .as("allowed_countries"),
          first("device_id", "device").as("first_device"),
          first("country", "country").as("first_country"),
          succeeded("<").select("at").orderBy("at", "desc").limit(1).as("prev_at"),
          succeeded("<").select("country").orderBy("at", "desc").limit(1).as("prev_country"),
          eb
            .selectFrom("events")
            .select((e) => e.fn.max<number>("at").as("at"))
            .where("account_id", "=", a("account"))
            .where("type", "in", credentialTypes)
            .where("at", "<=", a("now"))
            .as("credential_at"),
          eb
            .selectFrom("signin_challenges")
            .select((e) => e.fn.countAll<number>().as("n"))
            .where("account_id", "=", a("account"))
            .where("created_at", ">", a("challengeFrom"))
            .where("created_at", "<=", a("now"))
            .where("completed_at", "is", null)
            .as("unfinished"),
          failures()
            .select((e) => e.fn.sum<number>(e.case().when("outcome", "=", "failed").then(1).else(0).end()).as("n"))
            .as("ip_failed"),
          failures()
            .select((e) => e.fn.count<number>("identifier").distinct().as("n"))
            .as("ip_accounts"),
        ];
      });

  /** Runs `build` as a hot prepared statement when there is one, else through Kysely with the same arguments. */
  function reader<R>(build: (q: Executor, a: typeof arg) => Compilable<R>) {
    const prepared = query(build);
    if (prepared) return prepared as (args: Record<string, unknown>) => Promise<R[]>;
    return (args: Record<string, unknown>) =>
      ex.executeQuery(build(ex, ((name: string) => args[name]) as typeof arg).compile()).then((r) => r.rows as R[]);
  }
  const readAccount = reader(accountQ);
  const readEmail = reader(emailQ);
  const readLastLogins = reader(lastLoginsQ);
  const readSettings = reader(settingsQ);
  const readFirstDevice = reader(firstSeenQ("device_id"));
  const readFirstCountry = reader(firstSeenQ("country"));
  const readPrevious = reader(previousQ);
  const readNetworks = reader(networkQ);
  const readCredential = reader(credentialQ);
  const readUnfinished = reader(unfinishedQ);
  const readIp = reader(ipQ);
  const readSnapshot = reader(snapshotQ);

  return {
    async snapshot(q) {
      // The in-memory facts answer when they hold the account (the embedded store on a file); the statement otherwise.
      const held = index?.snapshot(q);
      if (held) return held;
      const [r] = await readSnapshot({
        account: q.accountId,
        now: q.now,
        device: q.deviceId,
        country: q.country,
        ip: q.ip,
        ipFrom: q.now - q.ipWindowMs,
        challengeFrom: q.now - q.secondFactorWindowMs,
      });
      if (!r) return null;
      const last1 = num(r.last1);
      const last2 = num(r.last2);
      const factors = kindsOf(r);
      return {
        account: {
          id: r.id,
          status: r.status,
          createdAt: Number(r.created_at),
          factors,
          totpEnabled: factors.includes("totp"),
          verifiedEmail: r.email_id !== null,
          lastSignIns: last1 === null ? [] : last2 === null ? [last1] : [last1, last2],
          allowedCountries: r.allowed_countries === null ? null : (JSON.parse(r.allowed_countries) as string[]),
        },
        firstSeen: { device: num(r.first_device), country: num(r.first_country) },
        previousLogin: r.prev_country ? { at: Number(r.prev_at), country: r.prev_country } : null,
        lastCredentialChange: num(r.credential_at),
        unfinishedSecondFactor: Number(r.unfinished ?? 0),
        ipActivity: { failedLogins: Number(r.ip_failed ?? 0), distinctAccounts: Number(r.ip_accounts ?? 0) },
      };
    },

    async account(accountId, before) {
      const [a] = await readAccount({ account: accountId });
      if (!a) return null;
      const [emails, logins, settings] = await Promise.all([
        readEmail({ account: accountId }),
        readLastLogins({ account: accountId, before }),
        readSettings({ account: accountId }),
      ]);
      const factors = kindsOf(a);
      return {
        id: a.id,
        status: a.status,
        createdAt: Number(a.created_at),
        factors,
        totpEnabled: factors.includes("totp"),
        verifiedEmail: emails.length > 0,
        lastSignIns: logins.map((l) => Number(l.at)),
        allowedCountries: settings[0] ? (JSON.parse(settings[0].allowed_countries) as string[]) : null,
      };
    },

    async firstSeen(accountId, deviceId, country, before) {
      const [device, c] = await Promise.all([
        deviceId === null ? null : readFirstDevice({ account: accountId, before, value: deviceId }),
        country === null ? null : readFirstCountry({ account: accountId, before, value: country }),
      ]);
      return { device: num(device?.[0]?.at), country: num(c?.[0]?.at) };
    },

    async firstSeenNetwork(accountId, asn, network, before) {
      if (asn === null && network === null) return { asn: null, network: null };
      const held = index?.firstSeenNetwork(accountId, asn, network, before);
      if (held) return held;
      const rows = await readNetworks({ account: accountId, before });
      return firstOfNetwork(
        rows.map((r) => ({ at: Number(r.at), ip: String(r.ip), asn: r.asn === null ? null : Number(r.asn) })),
        asn,
        network,
      );
    },

    async deviceSeen(accountId, deviceId, before) {
      return (await this.firstSeen(accountId, deviceId, null, before)).device !== null;
    },

    async previousLogin(accountId, before): Promise<PreviousLogin | null> {
      const [r] = await readPrevious({ account: accountId, before });
      return r?.country ? { at: Number(r.at), country: r.country } : null;
    },

    async lastCredentialChange(accountId, before) {
      const [r] = await readCredential({ account: accountId, before });
      return num(r?.at);
    },

    async unfinishedSecondFactor(accountId, windowMs, now) {
      const [r] = await readUnfinished({ account: accountId, from: now - windowMs, now });
      return Number(r?.n ?? 0);
    },

    async ipActivity(ip, windowMs, now) {
      const [r] = await readIp({ ip, from: now - windowMs, now });
      return { failedLogins: Number(r?.failed ?? 0), distinctAccounts: Number(r?.accounts ?? 0) };
    },
  };
}
