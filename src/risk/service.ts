/**
 * The risk engine: one synchronous answer — allow, challenge, review or deny, with reasons — for an event, from the
 * active policy set (plus an optional shadow set evaluated beside it, recorded and never enforced). Gathers the
 * features the policies read (account facts, login signals, the Freeman RBA score, the velocity counters the sets
 * declare), decides, records the counters and the decision.
 */
import type { CelValue } from "@bufbuild/cel";
import { asnKind } from "../context/hosting.ts";
import { networkOf } from "../context/ip.ts";
import type { Db, Executor, HotQuery } from "../db/database.ts";
import type { EventLog } from "../events/store.ts";
import type { Notifier } from "../notify/notifier.ts";
import type { Clock } from "../shared/clock.ts";
import type { ContextEnricher, EnrichedContext, RequestContext } from "../shared/context.ts";
import { newId, newTimeOrderedId } from "../shared/crypto.ts";
import { CommonErrors } from "../shared/errors.ts";
import { AtoHistory, atoVector, scoreAto, shippedModelFor } from "./ato-model.ts";
import { createStatementDecisionLog, type DecisionLog, type DecisionRecord } from "./decision-log.ts";
import { RiskErrors } from "./errors.ts";
import type { FactIndex } from "./fact-index.ts";
import { createDbFeatureSource, credentialEvents, type FactorSql, type RiskFeatureSource } from "./features.ts";
import {
  type CompiledPolicySet,
  type CompiledVelocity,
  compilePolicySet,
  evaluatePolicy,
  type FactorStrengths,
  type Features,
  type MatchReason,
  type PolicyDecision,
  PolicyError,
  type PolicySetSource,
  RISK_EVENT_TYPES,
  type RiskAction,
  type RiskEventType,
  type RiskFactor,
  toActivation,
  toCelValue,
  velocityField,
  velocityKeyValue,
} from "./policy.ts";
import { RbaHistory, type RbaLogin } from "./rba.ts";
import { backtestStoredDecisions, formatReplaySummary, type ReplaySummary } from "./replay.ts";
import { DEFAULT_SIGNAL_CONFIG, type SignalConfig, travel } from "./signals.ts";
import type { VelocityEvent, VelocityStore } from "./velocity.ts";

export interface RiskServiceDeps {
  db: Db;
  clock: Clock;
  /** record and tell a change of the account's sign-in countries (a security setting) */
  events?: EventLog;
  notifier?: Notifier;
  enricher: ContextEnricher;
  velocity: VelocityStore;
  /** The identity tables by default; replays and benchmarks pass their own. */
  features?: RiskFeatureSource;
  /** Prepared-statement reads (`DatabaseHandle.hot`) for the default feature source; without it, Kysely per call. */
  hot?: HotQuery;
  /** Where decision rows go (decision-log.ts); default: batched INSERTs on `db`. Closed by `close`. */
  decisionLog?: DecisionLog;
  /** The account and IP facts in memory (fact-index.ts; the embedded store on a file), loaded by `start`. */
  factIndex?: FactIndex;
  /** Where they are read (`DatabaseHandle.decisionsDb`); default `db`. */
  decisionsDb?: Db;
  /** The set loaded as version 1 (active) when the store has none. */
  initialPolicy: PolicySetSource;
  /** Starts the response module's lockdown when a deciding rule says so. */
  startLockdown?: (input: {
    accountId: string;
    reason: string;
    openedBy: string;
    reportedAt: number;
    ip: string | null;
  }) => Promise<{ caseId: string }>;
  signalConfig?: SignalConfig;
  /** RBA history rebuilt at start from this many days of successful sign-ins … */
  rbaHistoryDays?: number;
  /** … at most this many (the newest). */
  rbaHistoryMax?: number;
  /** New accounts allow sign-ins only from their sign-up country until the owner changes it (default true). */
  blockAbroadByDefault?: boolean;
  /** How long a node trusts its cached policy sets before re-reading their states (ms). */
  policyRefreshMs?: number;
  /**
   * identity's factor registry (app.ts): the kinds a policy may name with their strengths, and the kinds an account
   * has enrolled — asked only for a set whose rules read `account.factors`, `strongestFactor` or `totpEnabled`.
   */
  factors?: {
    strengths: FactorStrengths;
    enrolled(accountId: string): Promise<string[]>;
    /** the factors' change events: credential changes like a password's (`signals.sinceCredentialChangeS`) */
    changeEvents: readonly string[];
    /** each factor's enrolled accounts as SQL, read with the account's facts (features.ts `FactorSql`) */
    enrolledSql?: readonly FactorSql[];
  };
  onError?: (err: unknown, what: string) => void;
}

export interface AssessInput {
  type: RiskEventType;
  accountId?: string | null;
  /** The end user's request as the store forwarded it (or already enriched, from identity). */
  context?: RequestContext | EnrichedContext;
  /** Event-specific fields (amount, price, marketPrice, addressCreatedAt, …): see docs/risk.md. */
  data?: Record<string, unknown>;
  session?: { id: string; createdAt: number; factor: string; secondFactor: boolean } | null;
}

export interface ShadowResult {
  policyVersion: number;
  decision: RiskAction;
  factor?: RiskFactor;
  hold: boolean;
  reasons: MatchReason[];
}

export interface RiskDecision {
  decisionId: string;
  decision: RiskAction;
  factor?: RiskFactor;
  hold: boolean;
  lockdown: boolean;
  reasons: MatchReason[];
  scores: Record<string, unknown>;
  policyVersion: number;
  shadow?: ShadowResult;
  latencyUs: number;
}

export type PolicyStatus = "draft" | "shadow" | "active" | "retired";

export interface PolicySetView {
  version: number;
  status: PolicyStatus;
  name: string | null;
  rules: number;
  createdAt: string;
  activatedAt: string | null;
}

const DAY = 86_400_000;
const view = ({ source: _source, ...v }: PolicySetView & { source: PolicySetSource }): PolicySetView => v;
const iso = (ms: number) => new Date(ms).toISOString();
const COUNTRY = /^[A-Z]{2}$/;

/** Numeric `…At` fields in event data also appear as `…AgeS`: seconds before the event (policies compare ages). */
function withAges(data: Record<string, unknown>, at: number): Record<string, unknown> {
  const out: Record<string, unknown> = { ...data };
  for (const [k, v] of Object.entries(data)) {
    if (k.endsWith("At") && typeof v === "number" && Number.isFinite(v)) out[`${k.slice(0, -2)}AgeS`] = (at - v) / 1000;
  }
  return out;
}

/**
 * A sign-in is new when never seen; anything else happens inside a session whose sign-in already counted, so there
 * "new" means first seen within the last 24 hours.
 */
function isFresh(at: number | null, login: boolean, now: number): boolean {
  return at === null || (!login && now - at < DAY);
}

/** How close to the account's creation a device or network must be first seen to count as the one it started with. */
const STARTED_WITH_MS = 60_000;

/**
 * "New" for the device and network signals added for issue 14: for a sign-in, never seen before; for anything else,
 * first seen within the last 24 hours — unless it is what the account was created on (a shopper who just signed up
 * is not on a "new" device), which `isFresh` cannot tell.
 */
function isNewHere(at: number | null, login: boolean, now: number, createdAt: number | null): boolean {
  if (at === null) return true;
  if (login) return false;
  return now - at < DAY && (createdAt === null || at - createdAt > STARTED_WITH_MS);
}

/**
 * `make()` on the first call, its result after. A helper rather than a named closure in assessEvent: under tsx
 * (keepNames) each named closure costs an Object.defineProperty whenever it is created, once per decision there.
 */
function once<T>(make: () => T): () => T {
  let value: T | undefined;
  let made = false;
  return () => {
    if (!made) {
      value = make();
      made = true;
    }
    return value as T;
  };
}

/**
 * A rule that read the takeover model's score explains it: its reason carries each signal's contribution (ato-model.ts),
 * so the decision log and the support view say which signals made the score, not only that it was high.
 */
function withContributions(reasons: MatchReason[], scores: Record<string, unknown>): void {
  if (scores.atoContributions === undefined) return;
  for (const r of reasons) {
    if (Object.hasOwn(r.inputs, "scores.ato")) r.inputs["scores.atoContributions"] = scores.atoContributions;
  }
}

function isEnriched(c: RequestContext | EnrichedContext): c is EnrichedContext {
  return "country" in c && "browser" in c;
}

export function rbaLoginOf(accountId: string, ctx: EnrichedContext): RbaLogin {
  return {
    userId: accountId,
    ip: ctx.ip,
    asn: ctx.asn === null ? "" : String(ctx.asn),
    country: ctx.country ?? "",
    userAgent: ctx.userAgent,
    browser: ctx.browser ?? "",
    os: ctx.os ?? "",
    deviceType: ctx.deviceType ?? "",
    deviceId: ctx.deviceId ?? "",
    channel: ctx.channel,
  };
}

export function createRiskService(deps: RiskServiceDeps) {
  const { db, clock } = deps;
  const features =
    deps.features ??
    createDbFeatureSource(
      db,
      deps.hot,
      deps.factIndex,
      credentialEvents(deps.factors?.changeEvents),
      deps.factors?.enrolledSql,
    );
  const signalConfig = deps.signalConfig ?? DEFAULT_SIGNAL_CONFIG;
  const refreshMs = deps.policyRefreshMs ?? 5000;
  const blockAbroad = deps.blockAbroadByDefault ?? true;
  const report = deps.onError ?? (() => {});
  const rba = new RbaHistory();
  // The takeover model's history beside Freeman's (ato-model.ts), fed in the same two places.
  const atoHistory = new AtoHistory();

  // Decision rows are written behind the answer, in batches (decision-log.ts): a durable write per decision would put
  // an fsync on every answer. Reads of decisions flush first.
  const decisionLog = deps.decisionLog ?? createStatementDecisionLog(db, report);
  const flush = () => decisionLog.flush();
  const logDecision = (row: DecisionRecord) => decisionLog.append(row);

  const compiled = new Map<number, CompiledPolicySet>();
  let live: { active: CompiledPolicySet; shadow: CompiledPolicySet | null; at: number } | null = null;
  let installedAt = 0;

  function compile(version: number, source: string): CompiledPolicySet {
    let c = compiled.get(version);
    if (!c) {
      c = compilePolicySet(JSON.parse(source), version, deps.factors?.strengths);
      compiled.set(version, c);
    }
    return c;
  }

  async function loadLive(force = false) {
    const now = performance.now();
    if (live && !force && now - live.at < refreshMs) return live;
    const rows = await db
      .selectFrom("risk_policy_sets")
      .select(["version", "status", "source"])
      .where("status", "in", ["active", "shadow"])
      .execute();
    const a = rows.find((r) => r.status === "active");
    if (!a) throw CommonErrors.unavailable({ reason: "no active risk policy set" });
    const s = rows.find((r) => r.status === "shadow");
    live = {
      active: compile(Number(a.version), a.source),
      shadow: s ? compile(Number(s.version), s.source) : null,
      at: now,
    };
    return live;
  }

  function invalid(e: unknown): never {
    if (e instanceof PolicyError) throw RiskErrors.policy_invalid({ problems: e.problems });
    throw e;
  }

  /** `readVelocity` for counters in this process: answered at once, no promise per counter. */
  function readVelocitySync(
    specs: CompiledVelocity[],
    f: Features,
    now: number,
    sync: NonNullable<VelocityStore["sync"]>,
  ): Record<string, number | null> {
    const out: Record<string, number | null> = {};
    for (const v of specs) {
      const k = velocityKeyValue(v.key, f as never);
      out[v.name] = k === undefined ? 0 : sync.read(v.agg, `${v.series}|${k}`, v.windowMs, now);
    }
    return out;
  }

  /** Velocity values a set's rules read for this event, keyed as `velocity.<name>`; null where the store failed. */
  async function readVelocity(
    specs: CompiledVelocity[],
    f: Features,
    now: number,
    cache: Map<string, Promise<number | null>>,
  ): Promise<Record<string, number | null>> {
    const out: Record<string, number | null> = {};
    const pending: Promise<void>[] = [];
    for (const v of specs) {
      const k = velocityKeyValue(v.key, f as never);
      if (k === undefined) {
        out[v.name] = 0;
        continue;
      }
      const series = `${v.series}|${k}`;
      const ck = `${series}|${v.agg}|${v.windowMs}`;
      let p = cache.get(ck);
      if (p === undefined) {
        // A remote store (Redis) is asked for every counter in parallel.
        p = deps.velocity[v.agg](series, v.windowMs, now).catch((e: unknown) => {
          report(e, "velocity read");
          return null;
        });
        cache.set(ck, p);
      }
      pending.push(
        p.then((x) => {
          out[v.name] = x;
        }),
      );
    }
    await Promise.all(pending);
    return out;
  }

  /** Undefined when every write was synchronous (the in-process store): the caller then has nothing to wait for. */
  function recordVelocity(
    sets: CompiledPolicySet[],
    type: RiskEventType,
    f: Features,
    now: number,
    base: () => Record<string, CelValue>,
  ): Promise<unknown> | undefined {
    const done = new Set<string>();
    // Filters see the event as recorded, without counters (as before: velocity is empty in the gathered features).
    let activation: Record<string, CelValue> | null = null;
    const writes: Promise<void>[] = [];
    for (const set of sets) {
      for (const v of set.recordsByEvent.get(type) ?? []) {
        const k = velocityKeyValue(v.key, f as never);
        if (k === undefined) continue;
        const series = `${v.series}|${k}`;
        if (done.has(series)) continue;
        if (v.filter) {
          activation ??= { ...base(), velocity: toCelValue({}) };
          const r = v.filter(activation);
          if (r !== true) continue;
        }
        let value: number | undefined;
        let member: string | undefined;
        if (v.agg === "sum") {
          const x = velocityField(v.field!, f.event);
          if (typeof x !== "number" || !Number.isFinite(x)) continue;
          value = x;
        } else if (v.agg === "distinct") {
          const x = velocityField(v.field!, f.event);
          if (x === null || x === undefined || x === "") continue;
          member = String(x);
        }
        done.add(series);
        const event: VelocityEvent = { at: now };
        if (value !== undefined) event.value = value;
        if (member !== undefined) event.member = member;
        const sync = deps.velocity.sync;
        if (sync) sync.record(series, event);
        else writes.push(deps.velocity.record(series, event).catch((e: unknown) => report(e, "velocity record")));
      }
    }
    return writes.length > 0 ? Promise.all(writes) : undefined;
  }

  /**
   * With blockAbroadByDefault, an account created after the engine was installed starts with its sign-up country;
   * any other account with none stored allows every country ([]). Synchronous, so the decision's hot path asks it
   * before calling the async function below.
   */
  function startsWithSignUpCountry(createdAt: number): boolean {
    return blockAbroad && createdAt >= installedAt;
  }

  /**
   * Allowed sign-in countries of an account that has none stored: its sign-up country (the first successful sign-in's),
   * stored the first time it is needed, when `startsWithSignUpCountry`; none otherwise.
   */
  async function defaultAllowedCountries(accountId: string, createdAt: number): Promise<string[]> {
    if (!startsWithSignUpCountry(createdAt)) return [];
    const first = await db
      .selectFrom("login_attempts")
      .select("country")
      .where("account_id", "=", accountId)
      .where("outcome", "=", "succeeded")
      .orderBy("at", "asc")
      .limit(1)
      .executeTakeFirst();
    const list = first?.country ? [first.country] : [];
    await db
      .insertInto("risk_account_settings")
      .values({ account_id: accountId, allowed_countries: JSON.stringify(list), updated_at: clock.now() })
      .onConflict((oc) => oc.column("account_id").doNothing())
      .execute();
    const row = await db
      .selectFrom("risk_account_settings")
      .select("allowed_countries")
      .where("account_id", "=", accountId)
      .executeTakeFirst();
    return row ? (JSON.parse(row.allowed_countries) as string[]) : list;
  }

  /** The reads `snapshot` answers in one statement, one by one (sources without it, accounts that do not exist). */
  async function readSeparately(accountId: string | null, ctx: EnrichedContext | null, now: number, login: boolean) {
    const none = Promise.resolve(null);
    const [ip, facts, credentialAt, seen, previous, unfinished] = await Promise.all([
      ctx ? features.ipActivity(ctx.ip, signalConfig.attackIpWindowMs, now) : none,
      accountId ? features.account(accountId, now) : none,
      accountId ? features.lastCredentialChange(accountId, now) : none,
      accountId && ctx ? features.firstSeen(accountId, ctx.deviceId ?? null, ctx.country, now) : none,
      accountId && ctx && login ? features.previousLogin(accountId, now) : none,
      accountId && ctx && login
        ? features.unfinishedSecondFactor(accountId, signalConfig.secondFactorWindowMs, now)
        : Promise.resolve(0),
    ]);
    return { ip, facts, credentialAt, seen, previous, unfinished };
  }

  /** Features for one event, as plain JSON-like values (also what the decision row stores). */
  async function gather(
    input: AssessInput,
    ctx: EnrichedContext | null,
    now: number,
    withFactors = false,
  ): Promise<Features> {
    const type = input.type;
    const data = input.data ? withAges(input.data, now) : {};
    const event: Record<string, unknown> = {
      type,
      at: now,
      ip: ctx?.ip ?? null,
      country: ctx?.country ?? null,
      asn: ctx?.asn ?? null,
      deviceId: ctx?.deviceId ?? null,
      channel: ctx?.channel ?? null,
      userAgent: ctx?.userAgent ?? null,
      browser: ctx?.browser ?? null,
      os: ctx?.os ?? null,
      deviceType: ctx?.deviceType ?? null,
      data,
    };
    const accountId = input.accountId ?? null;
    const account: Record<string, unknown> = { id: accountId, exists: false, allowedCountries: [], dormantDays: 0 };
    const signals: Record<string, unknown> = {
      newDevice: false,
      newCountry: false,
      deviceSeen: null,
      attackIp: false,
      impossibleTravel: false,
      sinceCredentialChangeS: null,
      unfinishedSecondFactor: 0,
      recipientNewDevice: false,
      recipientNewCountry: false,
      unknownDevice: false,
      newAsn: false,
      newNetwork: false,
      hostingAsn: false,
      vpnAsn: false,
      recipientNewNetwork: false,
    };
    const scores: Record<string, unknown> = { rba: 0, rbaKnownUser: false, ato: 0, atoKnownUser: false };
    const session: Record<string, unknown> = input.session
      ? {
          id: input.session.id,
          ageS: (now - input.session.createdAt) / 1000,
          factor: input.session.factor,
          secondFactor: input.session.secondFactor,
        }
      : {};

    // The account's and the request's reads in one statement when the source offers it (the default source does);
    // the separate reads otherwise, and for an account that does not exist. Same values either way. The features are
    // then computed synchronously from what was read.
    const login = type === "login";
    const network = ctx ? networkOf(ctx.ip) : null;
    // The networks the account signed in from are derived from stored IPs, so they are a read of their own (in memory
    // with the fact index), in parallel with the snapshot.
    const networkSeen =
      accountId && ctx ? features.firstSeenNetwork(accountId, ctx.asn, network, now) : Promise.resolve(null);
    // Handled now: when the store goes away both reads fail, and the snapshot's rejection leaves this one un-awaited;
    // unhandled, it ended the node (seen with PostgreSQL stopped under load). `await networkSeen` below still throws.
    networkSeen.catch(() => {});
    const snap =
      accountId && ctx && features.snapshot
        ? await features.snapshot({
            accountId,
            deviceId: ctx.deviceId ?? null,
            country: ctx.country,
            ip: ctx.ip,
            now,
            ipWindowMs: signalConfig.attackIpWindowMs,
            secondFactorWindowMs: signalConfig.secondFactorWindowMs,
          })
        : null;
    const read = snap
      ? {
          ip: snap.ipActivity,
          facts: snap.account,
          credentialAt: snap.lastCredentialChange,
          seen: snap.firstSeen,
          previous: snap.previousLogin,
          unfinished: snap.unfinishedSecondFactor,
        }
      : await readSeparately(accountId, ctx, now, login);
    const net = await networkSeen;
    if (ctx) {
      const kind = asnKind(ctx.asn);
      signals.hostingAsn = kind !== null;
      signals.vpnAsn = kind === "vpn";
    }
    if (ctx && read.ip) {
      const a = read.ip;
      signals.attackIp =
        a.failedLogins >= signalConfig.attackIpFailures || a.distinctAccounts >= signalConfig.attackIpAccounts;
      signals.ipFailedLogins = a.failedLogins;
      signals.ipDistinctAccounts = a.distinctAccounts;
    }
    if (accountId) {
      const facts = read.facts;
      if (facts) {
        const [last, prev] = facts.lastSignIns;
        Object.assign(account, {
          exists: true,
          status: facts.status,
          ageDays: (now - facts.createdAt) / DAY,
          totpEnabled: facts.totpEnabled,
          verifiedEmail: facts.verifiedEmail,
          // How long the account was idle before its current activity: for a sign-in, since the last one; for
          // anything else (done in a session), between the session's sign-in and the one before it.
          dormantDays: login
            ? last === undefined
              ? 0
              : (now - last) / DAY
            : last !== undefined && prev !== undefined
              ? (last - prev) / DAY
              : 0,
          lastSignInAgeS: last === undefined ? null : (now - last) / 1000,
          // Only an account made since the install can need its default stored: the others answer [] without the
          // call (an async function's promise and a turn of the microtask queue on every decision).
          allowedCountries:
            facts.allowedCountries ??
            (startsWithSignUpCountry(facts.createdAt) ? await defaultAllowedCountries(accountId, facts.createdAt) : []),
        });
        if (withFactors && deps.factors) {
          // From the registry: the enrolled kinds, the strongest's strength, and the older fact kept for the
          // policies written with it (an authenticator app enrolled).
          const kinds = await deps.factors.enrolled(accountId);
          const strengths = deps.factors.strengths;
          account.factors = kinds;
          account.strongestFactor = kinds.reduce((m, k) => Math.max(m, strengths[k] ?? 0), 0);
          account.totpEnabled = kinds.includes("totp");
        }
      }
      const t = read.credentialAt;
      signals.sinceCredentialChangeS = t === null ? null : (now - t) / 1000;
      if (ctx && read.seen) {
        const seen = read.seen;
        signals.deviceSeen = ctx.deviceId ? seen.device !== null : null;
        signals.deviceFirstSeenS = seen.device === null ? null : (now - seen.device) / 1000;
        signals.countryFirstSeenS = seen.country === null ? null : (now - seen.country) / 1000;
        signals.newDevice = ctx.deviceId ? isFresh(seen.device, login, now) : false;
        signals.newCountry = ctx.country ? isFresh(seen.country, login, now) : false;
        const createdAt = read.facts ? read.facts.createdAt : null;
        // A sign-in without a device cookie is from a device nobody can vouch for.
        signals.unknownDevice = login
          ? !ctx.deviceId || seen.device === null
          : !!ctx.deviceId && isNewHere(seen.device, login, now, createdAt);
        if (net) {
          signals.newAsn = ctx.asn !== null && isNewHere(net.asn, login, now, createdAt);
          signals.newNetwork =
            (signals.newAsn as boolean) || (network !== null && isNewHere(net.network, login, now, createdAt));
        }
      }
      if (ctx && login) {
        const previous = read.previous;
        const tr = previous && ctx.country ? travel(previous, { at: now, country: ctx.country }, signalConfig) : null;
        signals.impossibleTravel = tr?.flagged ?? false;
        if (tr) signals.travelKmh = Number.isFinite(tr.speedKmh) ? tr.speedKmh : 1e9;
        signals.unfinishedSecondFactor = read.unfinished;
      }
      if (ctx) {
        const rbaLogin = rbaLoginOf(accountId, ctx);
        const s = rba.quickScore(rbaLogin);
        scores.rba = Number.isFinite(s.score) ? s.score : 1e308;
        scores.rbaKnownUser = s.userLogins > 0;
        scores.rbaIpRatio = s.ipRatio;
        scores.rbaUaRatio = s.uaRatio;
        scores.rbaUserLogins = s.userLogins;
        if (login) {
          // The takeover model: the same signals the CSV backtest replays (ato-model.ts), the previous sign-in and
          // the address's failed attempts from the reads above.
          const atoLogin = rbaLogin;
          const atoAccount = atoHistory.account(accountId);
          const x = atoVector({
            login: atoLogin,
            at: now,
            rba,
            history: atoHistory,
            account: atoAccount ?? null,
            previous: read.previous ?? null,
            source: read.ip ?? { failedLogins: 0, distinctAccounts: 0 },
          });
          if (x) {
            const a = scoreAto(x, shippedModelFor(atoHistory, atoLogin, atoAccount));
            scores.ato = a.score;
            scores.atoKnownUser = true;
            scores.atoContributions = a.contributions;
          }
        }
      }
    }
    const recipient = typeof data.recipientAccountId === "string" ? data.recipientAccountId : null;
    if (recipient && ctx && recipient !== accountId) {
      // Someone else's card: is this device, country, network one its recipient ever signed in from?
      const [seen, rnet] = await Promise.all([
        features.firstSeen(recipient, ctx.deviceId ?? null, ctx.country, now),
        features.firstSeenNetwork(recipient, ctx.asn, network, now),
      ]);
      signals.recipientNewDevice = ctx.deviceId ? seen.device === null : false;
      signals.recipientNewCountry = ctx.country ? seen.country === null : false;
      signals.recipientNewNetwork =
        (ctx.asn !== null && rnet.asn === null) || (network !== null && rnet.network === null);
    } else if (recipient && ctx) {
      // Into the recipient's own account: new is what this account's session came from lately (a takeover's session).
      signals.recipientNewDevice = signals.unknownDevice;
      signals.recipientNewCountry = signals.newCountry;
      signals.recipientNewNetwork = signals.newNetwork;
    } else if (!recipient) {
      signals.recipientNewDevice = signals.newDevice;
      signals.recipientNewCountry = signals.newCountry;
      signals.recipientNewNetwork = signals.newNetwork;
    }
    return { event, account, session, scores, velocity: {}, signals };
  }

  function shadowOf(d: PolicyDecision): ShadowResult {
    return {
      policyVersion: d.policyVersion,
      decision: d.decision,
      ...(d.factor ? { factor: d.factor } : {}),
      hold: d.hold,
      reasons: d.reasons,
    };
  }

  const service = {
    /** What the decisions read (the store's tables, or the in-memory facts in front of them). */
    features,
    /** Loads the initial policy set as version 1 (active) when there is none, and rebuilds the RBA history. */
    async start(): Promise<void> {
      const now = clock.now();
      const any = await db.selectFrom("risk_policy_sets").select("version").limit(1).executeTakeFirst();
      if (!any) {
        try {
          compilePolicySet(deps.initialPolicy, 1, deps.factors?.strengths);
        } catch (e) {
          invalid(e);
        }
        await db
          .insertInto("risk_policy_sets")
          .values({
            id: newId(),
            version: 1,
            status: "active",
            source: JSON.stringify(deps.initialPolicy),
            created_at: now,
            created_by: "system",
            activated_at: now,
            retired_at: null,
          })
          .onConflict((oc) => oc.column("version").doNothing())
          .execute();
      }
      const first = await db
        .selectFrom("risk_policy_sets")
        .select("created_at")
        .where("version", "=", 1)
        .executeTakeFirst();
      installedAt = first ? Number(first.created_at) : now;
      await service.rebuildRbaHistory();
      deps.factIndex?.load();
      await loadLive(true);
    },

    /** The RBA history from the last `rbaHistoryDays` of successful sign-ins, at most `rbaHistoryMax`, oldest first. */
    async rebuildRbaHistory(): Promise<number> {
      const now = clock.now();
      const since = now - (deps.rbaHistoryDays ?? 180) * DAY;
      const max = deps.rbaHistoryMax ?? 1_000_000;
      const total = await db
        .selectFrom("login_attempts")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("outcome", "=", "succeeded")
        .where("at", ">", since)
        .where("account_id", "is not", null)
        .executeTakeFirst();
      // Keep the newest `max`: start after the (total − max)-th oldest row. Then keyset pages on (at, id).
      const skip = Math.max(0, Number(total?.n ?? 0) - max);
      const base = db
        .selectFrom("login_attempts")
        .where("outcome", "=", "succeeded")
        .where("at", ">", since)
        .where("account_id", "is not", null);
      let cursor: { at: number; id: string } | null = null;
      if (skip > 0) {
        const c = await base
          .select(["at", "id"])
          .orderBy("at")
          .orderBy("id")
          .offset(skip - 1)
          .limit(1)
          .executeTakeFirst();
        cursor = c ? { at: Number(c.at), id: c.id } : null;
      }
      const page = 20_000;
      let added = 0;
      for (;;) {
        const from = cursor;
        const rows = await base
          .select([
            "id",
            "at",
            "account_id",
            "ip",
            "asn",
            "country",
            "user_agent",
            "browser",
            "os",
            "device_type",
            "device_id",
            "channel",
          ])
          .$if(from !== null, (q) =>
            q.where((eb) =>
              eb.or([eb("at", ">", from!.at), eb.and([eb("at", "=", from!.at), eb("id", ">", from!.id)])]),
            ),
          )
          .orderBy("at")
          .orderBy("id")
          .limit(page)
          .execute();
        for (const r of rows) {
          const login: RbaLogin = {
            userId: r.account_id!,
            ip: r.ip,
            asn: r.asn === null ? "" : String(r.asn),
            country: r.country ?? "",
            userAgent: r.user_agent,
            browser: r.browser ?? "",
            os: r.os ?? "",
            deviceType: r.device_type ?? "",
            deviceId: r.device_id ?? "",
            channel: r.channel,
          };
          rba.add(login);
          atoHistory.add(login, Number(r.at));
        }
        added += rows.length;
        const last = rows[rows.length - 1];
        if (rows.length < page || !last) break;
        cursor = { at: Number(last.at), id: last.id };
      }
      return added;
    },

    /** The process's RBA history (fed by `loginSucceeded`). */
    rba,

    /** Decides one event with the active set (and the shadow set beside it), records counters and the decision. */
    async assessEvent(input: AssessInput): Promise<RiskDecision> {
      const t0 = performance.now();
      if (!RISK_EVENT_TYPES.includes(input.type)) throw RiskErrors.risk_event_invalid({ field: "type" });
      // The cached sets are used without a promise while fresh.
      const sets = live && performance.now() - live.at < refreshMs ? live : await loadLive();
      const now = clock.now();
      const ctx = input.context
        ? isEnriched(input.context)
          ? input.context
          : deps.enricher.enrich(input.context)
        : null;
      const f = await gather(input, ctx, now, sets.active.readsFactors || (sets.shadow?.readsFactors ?? false));

      // The CEL activation is converted at most once per decision, and only when a rule needs CEL itself (most rules
      // run on the fast path over the plain features); each set gets it with its own counters.
      const base = once(() => toActivation(f));
      const sync = deps.velocity.sync;
      const cache = sync ? null : new Map<string, Promise<number | null>>();
      const activeSpecs = sets.active.readsByEvent.get(input.type) ?? [];
      const activeVel = sync
        ? readVelocitySync(activeSpecs, f, now, sync)
        : await readVelocity(activeSpecs, f, now, cache!);
      const active = evaluatePolicy(sets.active, input.type, { ...f, velocity: activeVel }, () => ({
        ...base(),
        velocity: toCelValue(activeVel),
      }));
      withContributions(active.reasons, f.scores);
      let shadow: PolicyDecision | null = null;
      let shadowVel: Record<string, number | null> = {};
      if (sets.shadow) {
        const shadowSpecs = sets.shadow.readsByEvent.get(input.type) ?? [];
        shadowVel = sync
          ? readVelocitySync(shadowSpecs, f, now, sync)
          : await readVelocity(shadowSpecs, f, now, cache!);
        shadow = evaluatePolicy(sets.shadow, input.type, { ...f, velocity: shadowVel }, () => ({
          ...base(),
          velocity: toCelValue(shadowVel),
        }));
        withContributions(shadow.reasons, f.scores);
      }
      // Counters count every assessed event, whatever the decision: a denied attempt is still an attempt.
      const recording = recordVelocity(
        sets.shadow ? [sets.active, sets.shadow] : [sets.active],
        input.type,
        f,
        now,
        base,
      );
      if (recording) await recording;

      const decisionId = newTimeOrderedId();
      const latencyUs = (performance.now() - t0) * 1000;
      logDecision({
        id: decisionId,
        account_id: input.accountId ?? null,
        event_type: input.type,
        event: {
          event: f.event,
          account: f.account,
          session: f.session,
          signals: f.signals,
          velocity: sets.shadow ? { ...shadowVel, ...activeVel } : activeVel,
        },
        decision: active.decision,
        factor: active.factor ?? null,
        hold: active.hold ? 1 : 0,
        reasons: active.reasons,
        policy_version: active.policyVersion,
        shadow: shadow ? shadowOf(shadow) : null,
        scores: f.scores,
        at: now,
        latency_us: Math.round(latencyUs),
      });

      if (active.lockdown && input.accountId && deps.startLockdown) {
        const rule = active.reasons.find((r) => r.lockdown && r.applied !== false);
        await deps
          .startLockdown({
            accountId: input.accountId,
            reason: `risk:${rule?.ruleId ?? "policy"}`,
            openedBy: `policy:${rule?.ruleId ?? "policy"}`,
            reportedAt: now,
            ip: ctx?.ip ?? null,
          })
          .catch((e: unknown) => report(e, "lockdown"));
      }
      return {
        decisionId,
        decision: active.decision,
        ...(active.factor ? { factor: active.factor } : {}),
        hold: active.hold,
        lockdown: active.lockdown,
        reasons: active.reasons,
        scores: f.scores,
        policyVersion: active.policyVersion,
        ...(shadow ? { shadow: shadowOf(shadow) } : {}),
        latencyUs,
      };
    },

    /** Identity's narrow login interface (see identity/service.ts `LoginRisk`). */
    /** Asked before the password is checked, for every attempt; accountId null when no account has the identifier. */
    async assessLogin(input: { accountId: string | null; context: EnrichedContext }) {
      const d = await service.assessEvent({ type: "login", accountId: input.accountId, context: input.context });
      return {
        action: d.decision,
        ...(d.factor ? { factor: d.factor } : {}),
        decisionId: d.decisionId,
        reasons: d.reasons.filter((r) => r.applied !== false).map((r) => r.ruleId),
      };
    },

    /** A sign-in succeeded: it joins the RBA history at once (other nodes see it at their next start). */
    loginSucceeded(input: { accountId: string; context: EnrichedContext }): void {
      const login = rbaLoginOf(input.accountId, input.context);
      rba.add(login);
      atoHistory.add(login, clock.now());
    },

    /** Stores a policy set as a draft with the next version, after compiling every expression. */
    async putPolicySet(source: unknown, by: string | null = null): Promise<PolicySetView> {
      try {
        compilePolicySet(source, 0, deps.factors?.strengths);
      } catch (e) {
        invalid(e);
      }
      const now = clock.now();
      for (let attempt = 0; ; attempt++) {
        const max = await db
          .selectFrom("risk_policy_sets")
          .select((eb) => eb.fn.max<number>("version").as("v"))
          .executeTakeFirst();
        const version = Number(max?.v ?? 0) + 1;
        try {
          await db
            .insertInto("risk_policy_sets")
            .values({
              id: newId(),
              version,
              status: "draft",
              source: JSON.stringify(source),
              created_at: now,
              created_by: by,
              activated_at: null,
              retired_at: null,
            })
            .execute();
          return view(await service.getPolicySet(version));
        } catch (e) {
          // Another node took this version number: take the next one.
          if (attempt >= 5) throw e;
        }
      }
    },

    async getPolicySet(version: number): Promise<PolicySetView & { source: PolicySetSource }> {
      const r = await db.selectFrom("risk_policy_sets").selectAll().where("version", "=", version).executeTakeFirst();
      if (!r) throw RiskErrors.policy_not_found();
      const source = JSON.parse(r.source) as PolicySetSource;
      return {
        version: Number(r.version),
        status: r.status as PolicyStatus,
        name: source.name ?? null,
        rules: source.rules.length,
        createdAt: iso(Number(r.created_at)),
        activatedAt: r.activated_at === null ? null : iso(Number(r.activated_at)),
        source,
      };
    },

    /**
     * A backtest preview (the console's policies page): the stored decisions of the last `days` replayed through policy
     * set `version`, against the labels (cases and "not me" reports), beside what was decided at the time.
     */
    async backtestPreview(version: number, days = 7): Promise<{ summary: ReplaySummary; text: string }> {
      const r = await db
        .selectFrom("risk_policy_sets")
        .select("source")
        .where("version", "=", version)
        .executeTakeFirst();
      if (!r) throw RiskErrors.policy_not_found();
      await flush();
      const summary = await backtestStoredDecisions(db, JSON.parse(r.source) as unknown, {
        since: clock.now() - days * DAY,
        ...(deps.decisionsDb ? { decisionsDb: deps.decisionsDb } : {}),
      });
      return { summary, text: formatReplaySummary(summary) };
    },

    async listPolicySets(): Promise<PolicySetView[]> {
      const rows = await db.selectFrom("risk_policy_sets").selectAll().orderBy("version", "desc").limit(100).execute();
      return rows.map((r) => {
        const source = JSON.parse(r.source) as PolicySetSource;
        return {
          version: Number(r.version),
          status: r.status as PolicyStatus,
          name: source.name ?? null,
          rules: source.rules.length,
          createdAt: iso(Number(r.created_at)),
          activatedAt: r.activated_at === null ? null : iso(Number(r.activated_at)),
        };
      });
    },

    /**
     * draft|retired|shadow → active (the previous active set retires; a set leaving shadow leaves it empty), or
     * draft|retired → shadow (the previous shadow set retires). Exactly one active, at most one shadow.
     */
    async promote(version: number, to: "shadow" | "active"): Promise<PolicySetView> {
      const now = clock.now();
      await db.transaction().execute(async (t) => {
        const r = await t
          .selectFrom("risk_policy_sets")
          .select(["status", "source"])
          .where("version", "=", version)
          .executeTakeFirst();
        if (!r) throw RiskErrors.policy_not_found();
        if (r.status === to) return;
        if (r.status === "active") throw RiskErrors.policy_state_invalid({ status: r.status, to });
        // Compiles under this node's engine before it can go live (a set stored by an older node might not).
        try {
          compilePolicySet(JSON.parse(r.source), version, deps.factors?.strengths);
        } catch (e) {
          invalid(e);
        }
        await t
          .updateTable("risk_policy_sets")
          .set({ status: "retired", retired_at: now })
          .where("status", "=", to)
          .execute();
        await t
          .updateTable("risk_policy_sets")
          .set({ status: to, retired_at: null, ...(to === "active" ? { activated_at: now } : {}) })
          .where("version", "=", version)
          .execute();
      });
      live = null;
      return view(await service.getPolicySet(version));
    },

    /** Writes the decision rows still queued. */
    flush,

    async close(): Promise<void> {
      await decisionLog.close();
    },

    async listDecisions(accountId: string, limit = 100) {
      await flush();
      const rows = await (deps.decisionsDb ?? db)
        .selectFrom("risk_decisions")
        .selectAll()
        .where("account_id", "=", accountId)
        // Newest first; decisions in the same millisecond by id (time-ordered, made in creation order). Without it
        // PostgreSQL returns ties in storage order, which batches inserted side by side on the pool can swap.
        .orderBy("at", "desc")
        .orderBy("id", "desc")
        .limit(Math.min(Math.max(1, limit), 500))
        .execute();
      return rows.map((r) => ({
        decisionId: r.id,
        at: iso(Number(r.at)),
        eventType: r.event_type,
        decision: r.decision as RiskAction,
        factor: r.factor,
        hold: r.hold === 1,
        policyVersion: Number(r.policy_version),
        reasons: JSON.parse(r.reasons) as MatchReason[],
        scores: JSON.parse(r.scores) as Record<string, unknown>,
        shadow: r.shadow === null ? null : (JSON.parse(r.shadow) as ShadowResult),
        latencyUs: Number(r.latency_us),
      }));
    },

    /** Decisions by id (the review queue says why each action was held): the rules that fired, in order. */
    async getDecisions(ids: string[]) {
      const out = new Map<
        string,
        {
          decision: string;
          eventType: string;
          policyVersion: number;
          at: string;
          rules: { ruleId: string; description: string | null }[];
        }
      >();
      if (ids.length === 0) return out;
      await flush();
      const rows = await (deps.decisionsDb ?? db)
        .selectFrom("risk_decisions")
        .select(["id", "decision", "event_type", "policy_version", "at", "reasons"])
        .where("id", "in", ids.slice(0, 500))
        .execute();
      for (const r of rows) {
        out.set(r.id, {
          decision: r.decision,
          eventType: r.event_type,
          policyVersion: Number(r.policy_version),
          at: iso(Number(r.at)),
          rules: (JSON.parse(r.reasons) as MatchReason[]).map((m) => ({
            ruleId: m.ruleId,
            description: m.description ?? null,
          })),
        });
      }
      return out;
    },

    /**
     * Bulk import (identity/import.ts): a new account's allowed countries, in the import's transaction. No event of
     * its own and no notice: nobody changed anything, and the import's account.imported event names the list.
     */
    async importAllowedCountries(
      t: Executor,
      rows: { accountId: string; countries: string[] }[],
      now: number,
    ): Promise<void> {
      for (const r of rows) {
        if (r.countries.length > 50 || r.countries.some((c) => !COUNTRY.test(c))) throw RiskErrors.country_invalid();
      }
      for (let i = 0; i < rows.length; i += 500) {
        await t
          .insertInto("risk_account_settings")
          .values(
            rows.slice(i, i + 500).map((r) => ({
              account_id: r.accountId,
              allowed_countries: JSON.stringify(r.countries),
              updated_at: now,
            })),
          )
          .execute();
      }
    },

    /** Allowed sign-in countries ([] = any). */
    async getAllowedCountries(accountId: string): Promise<string[]> {
      const facts = await features.account(accountId, clock.now());
      if (!facts) return [];
      return facts.allowedCountries ?? defaultAllowedCountries(accountId, facts.createdAt);
    },

    /**
     * A security setting: recorded with its value before and after (so a lockdown can roll it back) and told to every
     * verified address with the "This wasn't me" link, in one transaction.
     */
    async setAllowedCountries(
      accountId: string,
      countries: string[],
      by: { sessionId: string | null; ip: string | null } = { sessionId: null, ip: null },
    ): Promise<string[]> {
      const list = [...new Set(countries.map((c) => c.toUpperCase()))];
      if (list.length > 50 || list.some((c) => !COUNTRY.test(c))) throw RiskErrors.country_invalid();
      const now = clock.now();
      const facts = await features.account(accountId, now);
      if (!facts) throw CommonErrors.not_found();
      const before = facts.allowedCountries ?? (await defaultAllowedCountries(accountId, facts.createdAt));
      const stored = await db
        .selectFrom("risk_account_settings")
        .select("account_id")
        .where("account_id", "=", accountId)
        .executeTakeFirst();
      await db.transaction().execute(async (t) => {
        await t
          .insertInto("risk_account_settings")
          .values({ account_id: accountId, allowed_countries: JSON.stringify(list), updated_at: now })
          .onConflict((oc) =>
            oc.column("account_id").doUpdateSet({ allowed_countries: JSON.stringify(list), updated_at: now }),
          )
          .execute();
        if (!deps.events) return;
        const ev = await deps.events.append(t, {
          accountId,
          type: "sign_in_countries.changed",
          data: {
            objectId: accountId,
            before: { countries: before, stored: stored !== undefined },
            after: { countries: list, stored: true },
          },
          actor: by.sessionId ? `session:${by.sessionId}` : "system",
          ip: by.ip,
        });
        await deps.notifier?.securityNotice(t, {
          accountId,
          eventId: ev.id,
          template: "sign_in_countries_changed",
          vars: { countries: list.length ? list.join(", ") : "any" },
        });
      });
      return list;
    },
  };
  return service;
}

export type RiskService = ReturnType<typeof createRiskService>;
