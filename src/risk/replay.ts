/**
 * Backtest on stored decisions: replays the rows of `risk_decisions` (each holds the features the engine saw at the
 * time: event, account, session, signals, and the scores) through a candidate policy set, in time order, with a fresh
 * in-memory velocity store fed by the replayed events themselves — never the live counters — so each `velocity.<name>`
 * is what it would have been had the candidate's counters been running. Each replayed decision is compared with the
 * stored one and with a label: "compromised" when the account had a case whose window covers the event, or the owner
 * said "not me" within 30 days after it.
 *
 * `replayDecisions` is the pure core (rows, policy, labels → summary); `backtestStoredDecisions` reads the store.
 */
import type { Db } from "../db/database.ts";
import {
  type CompiledPolicySet,
  type CompiledVelocity,
  compilePolicySet,
  evaluatePolicy,
  type Features,
  type PolicyDecision,
  RISK_ACTIONS,
  type RiskAction,
  type RiskEventType,
  toActivation,
  velocityField,
  velocityKeyValue,
} from "./policy.ts";
import type { VelocityStore } from "./velocity.ts";
import { createMemoryVelocityStore } from "./velocity-memory.ts";

const DAY = 86_400_000;
/** A "not me" report labels the account's events of the 30 days before it. */
export const NOT_ME_LOOKBACK_MS = 30 * DAY;

/** One stored decision, as replay needs it. */
export interface StoredDecisionRow {
  id: string;
  at: number;
  eventType: RiskEventType;
  accountId: string | null;
  /** The stored (enforced) decision and the version that made it. */
  decision: RiskAction;
  policyVersion: number;
  /** What the engine saw: {event, account, session, signals, scores}; `velocity` is ignored (replay recomputes it). */
  features: Features;
}

export interface LabelCase {
  accountId: string;
  /** Start of the compromise window (ms). */
  since: number;
  /** End of it (ms), or null while not recovered. */
  recoveredAt: number | null;
}

export interface ReplayLabels {
  cases: LabelCase[];
  /** `not_me.reported` events. */
  notMe: { accountId: string; at: number }[];
}

export type Label = "compromised" | "legitimate";

/** Counts with "flagged" (challenge, review or deny) as the positive prediction. */
export interface Confusion {
  /** flagged, compromised */
  tp: number;
  /** flagged, legitimate */
  fp: number;
  /** allowed, compromised */
  fn: number;
  /** allowed, legitimate */
  tn: number;
}

export interface ReplayedRow {
  id: string;
  at: number;
  eventType: RiskEventType;
  accountId: string | null;
  label: Label;
  stored: RiskAction;
  storedVersion: number;
  replayed: RiskAction;
  /** Rules that decided (matched, or failed with onError match), in rule order. */
  rules: string[];
  /** Rules whose expression failed (their error is in `decision.reasons`). */
  errors: string[];
  /** The counters the candidate's rules read for this event, as replayed. */
  velocity: Record<string, number | null>;
  decision: PolicyDecision;
}

export interface ReplaySummary {
  policyName: string | null;
  /** Rows replayed and counted (rows before `from` only warm the counters). */
  decisions: number;
  /** Rows before `from` fed to the counters only. */
  warmup: number;
  from: number | null;
  until: number | null;
  firstAt: number | null;
  lastAt: number | null;
  compromised: number;
  /** The candidate's decisions against the labels. */
  replayed: Confusion;
  /** The stored decisions against the same labels, for comparison. */
  stored: Confusion;
  byType: Partial<Record<RiskEventType, { replayed: Confusion; stored: Confusion }>>;
  /** Replayed decision differs from the stored one. */
  changed: number;
  /** "stored→replayed" → count, for the changed rows. */
  transitions: Record<string, number>;
  /** tp / (tp + fp); null when nothing was flagged. */
  precision: number | null;
  /** tp / (tp + fn); null when nothing is compromised. */
  recall: number | null;
  storedPrecision: number | null;
  storedRecall: number | null;
  /** Rule id → decisions it took part in. */
  ruleHits: Record<string, number>;
  /** Rule id → evaluation errors. */
  ruleErrors: Record<string, number>;
}

export interface ReplayOptions {
  /** Rows before this time (ms) only feed the counters (warm-up for windows reaching before it). */
  from?: number;
  /** Rows after this time (ms) are not replayed. */
  until?: number;
  /** Called for each counted row, in order (the CLI streams `--out` from it). */
  onRow?: (row: ReplayedRow) => void | Promise<void>;
  /** Counters for the replay; default a fresh in-memory store. Never pass the live one. */
  velocity?: VelocityStore;
}

const FLAGGED = new Set<RiskAction>(["challenge", "review", "deny"]);
export const isFlagged = (d: RiskAction) => FLAGGED.has(d);

const emptyConfusion = (): Confusion => ({ tp: 0, fp: 0, fn: 0, tn: 0 });
function tally(c: Confusion, flagged: boolean, compromised: boolean) {
  if (flagged) compromised ? c.tp++ : c.fp++;
  else compromised ? c.fn++ : c.tn++;
}
const ratio = (a: number, b: number) => (b === 0 ? null : a / b);

/** Labels as a lookup: per account, the case windows and the "not me" times (sorted). */
export function labeller(labels: ReplayLabels): (accountId: string | null, at: number) => Label {
  const cases = new Map<string, LabelCase[]>();
  for (const c of labels.cases) {
    const l = cases.get(c.accountId) ?? [];
    l.push(c);
    cases.set(c.accountId, l);
  }
  const notMe = new Map<string, number[]>();
  for (const n of labels.notMe) {
    const l = notMe.get(n.accountId) ?? [];
    l.push(n.at);
    notMe.set(n.accountId, l);
  }
  return (accountId, at) => {
    if (accountId === null) return "legitimate";
    for (const c of cases.get(accountId) ?? []) {
      if (c.since <= at && (c.recoveredAt === null || c.recoveredAt > at)) return "compromised";
    }
    for (const t of notMe.get(accountId) ?? []) {
      if (t >= at && t - at <= NOT_ME_LOOKBACK_MS) return "compromised";
    }
    return "legitimate";
  };
}

/**
 * The counters a set's rules read for this event (`velocity.<name>`), before the event is recorded: the same
 * semantics as the live engine (risk/service.ts `readVelocity`).
 */
async function readVelocity(
  store: VelocityStore,
  specs: CompiledVelocity[],
  f: Features,
  now: number,
): Promise<Record<string, number | null>> {
  const out: Record<string, number | null> = {};
  for (const v of specs) {
    const k = velocityKeyValue(v.key, f as never);
    out[v.name] = k === undefined ? 0 : await store[v.agg](`${v.series}|${k}`, v.windowMs, now);
  }
  return out;
}

/**
 * Records the event in every counter of the set it feeds, whatever the decision (as risk/service.ts
 * `recordVelocity`: one record per series, the `where` filter, sum of a finite number, distinct of a non-empty member).
 */
async function recordVelocity(store: VelocityStore, set: CompiledPolicySet, type: RiskEventType, f: Features) {
  const specs = set.recordsByEvent.get(type);
  if (!specs?.length) return;
  const at = f.event.at as number;
  const done = new Set<string>();
  let activation: ReturnType<typeof toActivation> | undefined;
  for (const v of specs) {
    const k = velocityKeyValue(v.key, f as never);
    if (k === undefined) continue;
    const series = `${v.series}|${k}`;
    if (done.has(series)) continue;
    if (v.filter) {
      activation ??= toActivation(f);
      if (v.filter(activation) !== true) continue;
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
    await store.record(series, {
      at,
      ...(value !== undefined ? { value } : {}),
      ...(member !== undefined ? { member } : {}),
    });
  }
}

function isCompiled(p: unknown): p is CompiledPolicySet {
  return typeof p === "object" && p !== null && (p as CompiledPolicySet).rulesByEvent instanceof Map;
}

/**
 * Replays stored decisions through a policy set (a source is compiled first: a PolicyError on an invalid set).
 * Rows must be in time order (ties keep their order); an out-of-order row is an error. Counters start empty.
 */
export async function replayDecisions(
  rows: Iterable<StoredDecisionRow> | AsyncIterable<StoredDecisionRow>,
  policy: CompiledPolicySet | unknown,
  labels: ReplayLabels,
  opts: ReplayOptions = {},
): Promise<ReplaySummary> {
  const set = isCompiled(policy) ? policy : compilePolicySet(policy, 0);
  const store = opts.velocity ?? createMemoryVelocityStore();
  const label = labeller(labels);
  const s: ReplaySummary = {
    policyName: set.source.name ?? null,
    decisions: 0,
    warmup: 0,
    from: opts.from ?? null,
    until: opts.until ?? null,
    firstAt: null,
    lastAt: null,
    compromised: 0,
    replayed: emptyConfusion(),
    stored: emptyConfusion(),
    byType: {},
    changed: 0,
    transitions: {},
    precision: null,
    recall: null,
    storedPrecision: null,
    storedRecall: null,
    ruleHits: {},
    ruleErrors: {},
  };
  let last = Number.NEGATIVE_INFINITY;
  try {
    for await (const row of rows) {
      if (row.at < last) {
        throw new Error(`decision ${row.id} at ${new Date(row.at).toISOString()} is out of time order`);
      }
      last = row.at;
      if (opts.until !== undefined && row.at > opts.until) break;
      // The event's own time, whatever the stored JSON says (they are written together, so they agree).
      const f: Features = { ...row.features, event: { ...row.features.event, at: row.at }, velocity: {} };
      const type = row.eventType;
      const warm = opts.from !== undefined && row.at < opts.from;
      if (!warm) {
        const velocity = await readVelocity(store, set.readsByEvent.get(type) ?? [], f, row.at);
        const d = evaluatePolicy(set, type, { ...f, velocity });
        const l = label(row.accountId, row.at);
        const compromised = l === "compromised";
        const rules = d.reasons.filter((r) => r.applied !== false).map((r) => r.ruleId);
        const errors = d.reasons.filter((r) => r.error !== undefined).map((r) => r.ruleId);
        s.decisions++;
        s.firstAt ??= row.at;
        s.lastAt = row.at;
        if (compromised) s.compromised++;
        tally(s.replayed, isFlagged(d.decision), compromised);
        tally(s.stored, isFlagged(row.decision), compromised);
        s.byType[type] ??= { replayed: emptyConfusion(), stored: emptyConfusion() };
        const t = s.byType[type];
        tally(t.replayed, isFlagged(d.decision), compromised);
        tally(t.stored, isFlagged(row.decision), compromised);
        if (d.decision !== row.decision) {
          s.changed++;
          const k = `${row.decision}→${d.decision}`;
          s.transitions[k] = (s.transitions[k] ?? 0) + 1;
        }
        for (const r of rules) s.ruleHits[r] = (s.ruleHits[r] ?? 0) + 1;
        for (const r of errors) s.ruleErrors[r] = (s.ruleErrors[r] ?? 0) + 1;
        await opts.onRow?.({
          id: row.id,
          at: row.at,
          eventType: type,
          accountId: row.accountId,
          label: l,
          stored: row.decision,
          storedVersion: row.policyVersion,
          replayed: d.decision,
          rules,
          errors,
          velocity,
          decision: d,
        });
      } else {
        s.warmup++;
      }
      // Every replayed event feeds the candidate's counters, whatever its decision (as live).
      await recordVelocity(store, set, type, f);
    }
  } finally {
    if (!opts.velocity) await store.close();
  }
  s.precision = ratio(s.replayed.tp, s.replayed.tp + s.replayed.fp);
  s.recall = ratio(s.replayed.tp, s.replayed.tp + s.replayed.fn);
  s.storedPrecision = ratio(s.stored.tp, s.stored.tp + s.stored.fp);
  s.storedRecall = ratio(s.stored.tp, s.stored.tp + s.stored.fn);
  return s;
}

/** The largest velocity window a set declares (how far before `from` the counters need warming), 0 without any. */
export function maxWindowMs(set: CompiledPolicySet): number {
  let max = 0;
  for (const specs of set.recordsByEvent.values()) for (const v of specs) max = Math.max(max, v.windowMs);
  return max;
}

function parseJson<T>(s: string, what: string, id: string): T {
  try {
    return JSON.parse(s) as T;
  } catch {
    throw new Error(`decision ${id}: ${what} is not JSON`);
  }
}

/** Stored decision rows with `from ≤ at ≤ until`, in (at, id) order, read in keyset pages. */
export async function* readStoredDecisions(
  db: Db,
  range: { from?: number; until?: number } = {},
  pageSize = 2000,
): AsyncGenerator<StoredDecisionRow> {
  let cursor: { at: number; id: string } | null = null;
  for (;;) {
    const from: { at: number; id: string } | null = cursor;
    const rows: {
      id: string;
      at: number;
      event_type: string;
      account_id: string | null;
      decision: string;
      policy_version: number;
      event: string;
      scores: string;
    }[] = await db
      .selectFrom("risk_decisions")
      .select(["id", "at", "event_type", "account_id", "decision", "policy_version", "event", "scores"])
      .$if(range.from !== undefined, (q) => q.where("at", ">=", range.from!))
      .$if(range.until !== undefined, (q) => q.where("at", "<=", range.until!))
      .$if(from !== null, (q) =>
        q.where((eb) => eb.or([eb("at", ">", from!.at), eb.and([eb("at", "=", from!.at), eb("id", ">", from!.id)])])),
      )
      .orderBy("at")
      .orderBy("id")
      .limit(pageSize)
      .execute();
    for (const r of rows) {
      const stored = parseJson<Partial<Features>>(r.event, "event", r.id);
      yield {
        id: r.id,
        at: Number(r.at),
        eventType: r.event_type as RiskEventType,
        accountId: r.account_id,
        decision: (RISK_ACTIONS as readonly string[]).includes(r.decision) ? (r.decision as RiskAction) : "allow",
        policyVersion: Number(r.policy_version),
        features: {
          event: stored.event ?? {},
          account: stored.account ?? {},
          session: stored.session ?? {},
          signals: stored.signals ?? {},
          scores: parseJson<Record<string, unknown>>(r.scores, "scores", r.id),
          velocity: {},
        },
      };
    }
    const lastRow: { at: number; id: string } | undefined = rows[rows.length - 1];
    if (rows.length < pageSize || !lastRow) return;
    cursor = { at: Number(lastRow.at), id: lastRow.id };
  }
}

/** Case windows (with a `since`) and "not me" reports from the store. */
export async function readLabels(db: Db): Promise<ReplayLabels> {
  const cases = await db
    .selectFrom("cases")
    .select(["account_id", "since", "recovered_at"])
    .where("since", "is not", null)
    .execute();
  const notMe = await db
    .selectFrom("events")
    .select(["account_id", "at"])
    .where("type", "=", "not_me.reported")
    .execute();
  return {
    cases: cases.map((c) => ({
      accountId: c.account_id,
      since: Number(c.since),
      recoveredAt: c.recovered_at === null ? null : Number(c.recovered_at),
    })),
    notMe: notMe.map((n) => ({ accountId: n.account_id, at: Number(n.at) })),
  };
}

/**
 * Backtests a candidate policy set on the stored decisions between `since` and `until`. The counters are warmed with
 * the rows of the candidate's largest window before `since`. Throws PolicyError when the set does not compile.
 * The caller flushes a running engine's pending decision rows first (`risk.flush()`).
 */
export async function backtestStoredDecisions(
  db: Db,
  policy: CompiledPolicySet | unknown,
  opts: { since?: number; until?: number; onRow?: ReplayOptions["onRow"]; decisionsDb?: Db } = {},
): Promise<ReplaySummary> {
  const set = isCompiled(policy) ? policy : compilePolicySet(policy, 0);
  const warm = opts.since === undefined ? undefined : opts.since - maxWindowMs(set);
  const labels = await readLabels(db);
  return replayDecisions(
    readStoredDecisions(opts.decisionsDb ?? db, { ...(warm !== undefined ? { from: warm } : {}), until: opts.until }),
    set,
    labels,
    {
      ...(opts.since !== undefined ? { from: opts.since } : {}),
      ...(opts.until !== undefined ? { until: opts.until } : {}),
      ...(opts.onRow ? { onRow: opts.onRow } : {}),
    },
  );
}

const pct = (x: number | null) => (x === null ? "—" : `${(x * 100).toFixed(1)} %`);
const iso = (ms: number | null) => (ms === null ? "—" : new Date(ms).toISOString());

function confusionLines(name: string, r: Confusion, st: Confusion, width: number): string {
  const cell = (n: number) => String(n).padStart(6);
  return `${name.padEnd(width)}${cell(r.tp)}${cell(r.fp)}${cell(r.fn)}${cell(r.tn)}   ${cell(st.tp)}${cell(st.fp)}${cell(st.fn)}${cell(st.tn)}`;
}

/** The summary as printed by `mamori backtest --policy`. */
export function formatReplaySummary(s: ReplaySummary): string {
  const types = Object.keys(s.byType).sort() as RiskEventType[];
  const width = Math.max(10, ...types.map((t) => t.length + 2));
  const head = `${"".padEnd(width)}${["TP", "FP", "FN", "TN"].map((h) => h.padStart(6)).join("")}   ${["TP", "FP", "FN", "TN"].map((h) => h.padStart(6)).join("")}`;
  const lines = [
    `policy ${s.policyName ?? "(unnamed)"} replayed on ${s.decisions} stored decisions (${iso(s.firstAt)} … ${iso(s.lastAt)})` +
      (s.warmup ? `; ${s.warmup} earlier decisions warmed the counters` : ""),
    `labels: ${s.compromised} compromised, ${s.decisions - s.compromised} legitimate`,
    "flagged = challenge, review or deny",
    "",
    `${"".padEnd(width)}${"replayed".padEnd(24)}   stored`,
    head,
    confusionLines("all", s.replayed, s.stored, width),
    ...types.map((t) => confusionLines(t, s.byType[t]!.replayed, s.byType[t]!.stored, width)),
    "",
    `precision ${pct(s.precision)}, recall ${pct(s.recall)}   (stored: precision ${pct(s.storedPrecision)}, recall ${pct(s.storedRecall)})`,
    `changed vs stored: ${s.changed} of ${s.decisions}` +
      (s.changed
        ? ` (${Object.entries(s.transitions)
            .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
            .map(([k, n]) => `${k} ${n}`)
            .join(", ")})`
        : ""),
  ];
  const hits = Object.entries(s.ruleHits).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (hits.length) lines.push(`rules: ${hits.map(([k, n]) => `${k} ${n}`).join(", ")}`);
  const errs = Object.entries(s.ruleErrors);
  if (errs.length) lines.push(`rule errors: ${errs.map(([k, n]) => `${k} ${n}`).join(", ")}`);
  return lines.join("\n");
}

const csvField = (v: string) => (/[",\n\r]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);

export const REPLAY_CSV_HEADER =
  "decision_id,at,event_type,account_id,label,stored_decision,stored_version,replayed_decision,changed,rules";

/** One `--out` line per replayed decision. */
export function replayCsvLine(r: ReplayedRow): string {
  return [
    r.id,
    new Date(r.at).toISOString(),
    r.eventType,
    r.accountId ?? "",
    r.label,
    r.stored,
    String(r.storedVersion),
    r.replayed,
    r.replayed !== r.stored ? "yes" : "no",
    r.rules.join(";"),
  ]
    .map(csvField)
    .join(",");
}
