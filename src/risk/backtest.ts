import fs from "node:fs";
import readline from "node:readline";
import { upperBound } from "../shared/sorted.ts";
import {
  ATO_MODEL,
  AtoHistory,
  type AtoModel,
  type AtoVector,
  atoVector,
  SourceWindow,
  scoreAto,
  shippedModelFor,
} from "./ato-model.ts";
import { DEFAULT_POLICY } from "./default-policy.ts";
import type { LoginRow } from "./generate.ts";
import { compilePolicySet, evaluatePolicy, type PolicyRule, type PolicySetSource } from "./policy.ts";
import { RbaHistory } from "./rba.ts";
import { DEFAULT_SIGNAL_CONFIG, travel } from "./signals.ts";

/**
 * Replays a login CSV in the RBA data set's layout through the login models the live decision uses (Freeman's score
 * and the takeover model, ato-model.ts): each row is scored against the history as it was at that moment, then added
 * to it. Rows must be in time order, as the data set and the generator write them. The takeover labels are read only
 * to grade, never to build the history (unless `oracleHistory`, which says so in the output).
 */

/** RFC 4180 records from a text stream: quoted fields, "" escapes, newlines inside quotes, CRLF or LF. */
export async function* parseCsv(input: AsyncIterable<string | Buffer>): AsyncGenerator<string[]> {
  let field = "";
  let record: string[] = [];
  let quoted = false;
  let afterQuote = false; // just saw a quote inside a quoted field: either an escape or the closing quote
  let any = false;
  for await (const chunk of input) {
    const s = typeof chunk === "string" ? chunk : chunk.toString("utf8");
    for (let i = 0; i < s.length; i++) {
      const c = s[i]!;
      if (quoted) {
        if (afterQuote) {
          afterQuote = false;
          if (c === '"') {
            field += '"';
            continue;
          }
          quoted = false; // the quote closed the field; handle c below as unquoted
        } else if (c === '"') {
          afterQuote = true;
          continue;
        } else {
          field += c;
          continue;
        }
      }
      if (c === '"' && field === "") {
        quoted = true;
        any = true;
      } else if (c === ",") {
        record.push(field);
        field = "";
        any = true;
      } else if (c === "\n") {
        record.push(field);
        yield record;
        record = [];
        field = "";
        any = false;
      } else if (c === "\r") {
        // CR of CRLF: the LF ends the record
      } else {
        field += c;
        any = true;
      }
    }
  }
  if (any || record.length > 0) {
    record.push(field);
    yield record;
  }
}

const COLUMNS = {
  at: "Login Timestamp",
  userId: "User ID",
  ip: "IP Address",
  country: "Country",
  asn: "ASN",
  userAgent: "User Agent String",
  browser: "Browser Name and Version",
  os: "OS Name and Version",
  deviceType: "Device Type",
  success: "Login Successful",
  attackIp: "Is Attack IP",
  takeover: "Is Account Takeover",
} as const;

/** "2020-02-03 12:43:30.772" (the data set, UTC) or any ISO 8601 time. */
export function parseTimestamp(s: string): number {
  const iso = /^\d{4}-\d\d-\d\d \d/.test(s) ? `${s.replace(" ", "T")}${/[zZ]|[+-]\d\d:?\d\d$/.test(s) ? "" : "Z"}` : s;
  const t = Date.parse(iso);
  if (Number.isNaN(t)) throw new Error(`bad timestamp: ${s}`);
  return t;
}

const truthy = (s: string) => /^(true|1|yes)$/i.test(s.trim());

/**
 * Login rows from a CSV with the data set's header; extra columns (index, Round-Trip Time, Region, City) are ignored,
 * so the published data set reads as is. The ASN is kept as text; "29695.0" (pandas float output) becomes "29695".
 */
export async function* readLoginCsv(input: AsyncIterable<string | Buffer>): AsyncGenerator<LoginRow> {
  let idx: Record<keyof typeof COLUMNS, number> | null = null;
  /** The optional "Device ID" column (the store's device cookie; the public data set has none): -1 when absent. */
  let deviceIdx = -1;
  let line = 0;
  for await (const rec of parseCsv(input)) {
    line++;
    if (!idx) {
      const header = rec.map((h) => h.trim());
      const found = {} as Record<keyof typeof COLUMNS, number>;
      for (const [k, name] of Object.entries(COLUMNS) as [keyof typeof COLUMNS, string][]) {
        const i = header.indexOf(name);
        if (i < 0) throw new Error(`CSV header lacks "${name}"`);
        found[k] = i;
      }
      idx = found;
      deviceIdx = header.indexOf("Device ID");
      continue;
    }
    if (rec.length === 1 && rec[0] === "") continue; // blank line
    const get = (k: keyof typeof COLUMNS) => {
      const v = rec[idx![k]];
      if (v === undefined) throw new Error(`CSV record ${line} has ${rec.length} fields`);
      return v;
    };
    yield {
      at: parseTimestamp(get("at")),
      userId: get("userId"),
      ip: get("ip"),
      country: get("country"),
      asn: get("asn").replace(/\.0+$/, ""),
      userAgent: get("userAgent"),
      browser: get("browser"),
      os: get("os"),
      deviceType: get("deviceType"),
      success: truthy(get("success")),
      attackIp: truthy(get("attackIp")),
      takeover: truthy(get("takeover")),
      deviceId: deviceIdx >= 0 ? (rec[deviceIdx] ?? "") : "",
    };
  }
}

/** A labels file from `mamori gen logins --labels`: the attacker kind of each data row (null: legitimate). */
export async function readLabels(file: string): Promise<(string | null)[]> {
  const out: (string | null)[] = [];
  let header = true;
  for await (const rec of parseCsv(fs.createReadStream(file, { encoding: "utf8" }))) {
    if (header) {
      header = false;
      if (rec[0] !== "row" || rec[1] !== "attacker") throw new Error(`${file}: not a labels file (row,attacker,…)`);
      continue;
    }
    if (rec.length === 1 && rec[0] === "") continue;
    const i = Number(rec[0]);
    if (!Number.isInteger(i) || i < 0) throw new Error(`${file}: bad row number ${rec[0]}`);
    out[i] = rec[1] ? rec[1] : null;
  }
  return out;
}

export interface BacktestOptions {
  /** False-positive rates to report TPR and re-authentication at (default 0.1 %, 1 %, 5 %, 10 %). */
  fprs?: number[];
  /**
   * Keep successful account-takeover rows out of the history, reading the label to do so. An oracle: a deployment
   * never knows the label when the row happens, so figures with it are not what a deployment gets. Default false:
   * the history is built from the CSV's observable columns only (every successful row, every failure).
   */
  oracleHistory?: boolean;
  /** The attacker kind of each row (by row index), for per-kind results; the replay never reads it. */
  labels?: readonly (string | null)[];
  /** The login model's numbers for every row (default: the shipped pair, SHIPPED_ATO_MODELS, chosen per row). */
  model?: AtoModel;
  /** The policy set whose CSV-replayable login rules are replayed (default: the shipped DEFAULT_POLICY). */
  policy?: PolicySetSource;
  /** Called for each row with its scores (Infinity / null: the user had no prior successful login). */
  onRow?: (row: LoginRow, scores: RowScores, index: number) => void | Promise<void>;
}

export interface RowScores {
  /** The Freeman RBA score (Infinity without history). */
  freeman: number;
  /** The takeover model's log-odds (Infinity without history). */
  ato: number;
  /** Its signals, null without history. */
  vector: AtoVector | null;
  /** The replayable login rules of the policy (see `replayablePolicy`): matched rule ids; empty = allow. */
  policy: string[];
}

/**
 * Inputs a login CSV can give a rule, as the live decision computes them (service.ts `gather`). The device cookie,
 * the account's settings and second-factor history are not in a CSV: rules reading them are left out of the replay.
 */
const CSV_INPUTS = new Set([
  "signals.attackIp",
  "signals.ipFailedLogins",
  "signals.ipDistinctAccounts",
  "signals.impossibleTravel",
  "signals.travelKmh",
  "signals.newCountry",
  "scores.rba",
  "scores.rbaKnownUser",
  "scores.ato",
  "scores.atoKnownUser",
  "event.country",
  "event.asn",
  "event.ip",
  "event.browser",
  "event.os",
  "event.deviceType",
  "event.userAgent",
]);

/** The login rules of `source` whose every input is in a CSV, and the others (with the inputs a CSV lacks). */
export function replayablePolicy(source: PolicySetSource = DEFAULT_POLICY): {
  set: PolicySetSource;
  replayed: string[];
  skipped: { id: string; lacks: string[] }[];
} {
  const rules: PolicyRule[] = [];
  const skipped: { id: string; lacks: string[] }[] = [];
  for (const r of source.rules) {
    if (!r.events.includes("login")) continue;
    const paths = r.when.match(/\b(?:event|account|session|scores|velocity|signals)(?:\.[A-Za-z_]\w*)+/g) ?? [];
    const lacks = [...new Set(paths.filter((p) => !CSV_INPUTS.has(p)))];
    if (lacks.length) skipped.push({ id: r.id, lacks });
    else rules.push({ ...r, events: ["login"] });
  }
  return {
    set: { name: `${source.name ?? "policy"} (CSV-replayable login rules)`, rules },
    replayed: rules.map((r) => r.id),
    skipped,
  };
}

export interface KindResult {
  /** Takeover rows (successful attacker sign-ins) of this kind that were scored. */
  takeovers: number;
  caught: number;
  /** Scored attempts of this kind, failed ones included. */
  attempts: number;
  attemptsCaught: number;
}

export interface OperatingPoint {
  targetFpr: number;
  /** Rows scoring strictly above it are challenged (the shipped point: at or above). */
  threshold: number;
  fpr: number;
  /** Share of account-takeover rows challenged. */
  tpr: number;
  /** Share of all rows from attack IPs (every attempt, failed or not) challenged. */
  tprAttackIp: number;
  /** Median over users of the share of their legitimate logins challenged. */
  medianReauthRate: number;
  /** Per attacker kind, when labels were given. */
  byKind?: Record<string, KindResult>;
}

export interface ModelSummary {
  /** Area under the ROC curve (takeovers against legitimate logins); ties count one half. */
  auc: number;
  roc: { threshold: number; fpr: number; tpr: number }[];
  operatingPoints: OperatingPoint[];
}

export interface BacktestSummary {
  rows: number;
  /** Rows of users with no prior successful login: not scored (as in the reference), challenged by any policy. */
  unscored: number;
  /** Legitimate rows: successful, not from an attack IP, not a takeover. */
  negatives: number;
  /** Account-takeover rows. */
  positives: number;
  attackIpRows: number;
  outOfOrder: number;
  oracleHistory: boolean;
  /** Freeman's score (the reference), at the target FPRs. */
  freeman: ModelSummary;
  /** The takeover model, at the target FPRs and at its shipped threshold (`shipped`). */
  ato: ModelSummary & { shipped: OperatingPoint };
  /** Freeman at the legitimate challenge rate the shipped takeover model reached on these rows. */
  freemanAtAtoFpr: OperatingPoint;
  /**
   * The policy's login rules that a CSV can feed (`replayablePolicy`), as the live decision evaluates them: challenged
   * when any matches. `skipped`: the rules left out and the inputs a CSV lacks for them.
   */
  policy: OperatingPoint & { replayed: string[]; skipped: { id: string; lacks: string[] }[] };
  /** Scored takeover rows per attacker kind (labels given) whose user had no history, per kind. */
  unscoredByKind?: Record<string, number>;
}

export const DEFAULT_FPRS = [0.001, 0.01, 0.05, 0.1];

/**
 * Replays logins in time order through the live decision's models: each row is scored against the history as it was
 * at that moment (Freeman's score and the takeover model's signals, the source's failed attempts across accounts in
 * the last hour), then a successful row joins the history and a failed one the source window. Reads only the CSV's
 * observable columns, unless `oracleHistory` (see there).
 */
export async function* replayScores(
  rows: AsyncIterable<LoginRow> | Iterable<LoginRow>,
  opts: { oracleHistory?: boolean; model?: AtoModel; policy?: PolicySetSource } = {},
): AsyncGenerator<{ row: LoginRow; scores: RowScores }> {
  const rba = new RbaHistory();
  const history = new AtoHistory();
  const sources = new SourceWindow(DEFAULT_SIGNAL_CONFIG.attackIpWindowMs);
  const policy = compilePolicySet(replayablePolicy(opts.policy).set, 0);
  const cfg = DEFAULT_SIGNAL_CONFIG;
  for await (const row of rows) {
    const freeman = rba.score(row).score;
    const previous = history.previous(row.userId);
    const source = sources.activity(row.ip, row.at);
    const vector = atoVector({ login: row, at: row.at, rba, history, previous, source });
    const scored = vector ? scoreAto(vector, opts.model ?? shippedModelFor(history, row)).score : null;
    const ato = scored ?? Number.POSITIVE_INFINITY;
    // The features the live decision gives these rules (service.ts gather), from the row and the replayed history.
    const tr = previous && row.country ? travel(previous, { at: row.at, country: row.country }, cfg) : null;
    const known = rba.userLogins(row.userId) > 0;
    const decision = evaluatePolicy(policy, "login", {
      event: {
        type: "login",
        at: row.at,
        ip: row.ip,
        country: row.country || null,
        asn: Number(row.asn) || null,
        userAgent: row.userAgent,
        browser: row.browser,
        os: row.os,
        deviceType: row.deviceType,
        data: {},
      },
      account: {},
      session: {},
      velocity: {},
      scores: {
        rba: Number.isFinite(freeman) ? freeman : 1e308,
        rbaKnownUser: known,
        ato: scored ?? 0,
        atoKnownUser: scored !== null,
      },
      signals: {
        attackIp: source.failedLogins >= cfg.attackIpFailures || source.distinctAccounts >= cfg.attackIpAccounts,
        ipFailedLogins: source.failedLogins,
        ipDistinctAccounts: source.distinctAccounts,
        impossibleTravel: tr?.flagged ?? false,
        ...(tr ? { travelKmh: Number.isFinite(tr.speedKmh) ? tr.speedKmh : 1e9 } : {}),
        newCountry: !rba.userSeen(row).country,
      },
    });
    const matched =
      decision.decision === "allow" ? [] : decision.reasons.filter((r) => r.applied !== false).map((r) => r.ruleId);
    yield { row, scores: { freeman, ato, vector, policy: matched } };
    if (row.success) {
      if (!opts.oracleHistory || !row.takeover) {
        rba.add(row);
        history.add(row, row.at);
      }
    } else sources.recordFailure(row.ip, row.userId, row.at);
  }
}

/** Scores every row in order and summarises how well each model separates takeovers from legitimate logins. */
export async function backtest(
  rows: AsyncIterable<LoginRow> | Iterable<LoginRow>,
  opts: BacktestOptions = {},
): Promise<BacktestSummary> {
  const model = opts.model;
  const threshold = (opts.model ?? ATO_MODEL).threshold;
  const fprs = opts.fprs ?? DEFAULT_FPRS;
  const labels = opts.labels;
  const scored: {
    freeman: number;
    ato: number;
    policy: boolean;
    kind: string | null;
    success: boolean;
    user: number;
    cls: number;
  }[] = [];
  const userIndex = new Map<string, number>();
  const unscoredByKind: Record<string, number> = {};
  let n = 0;
  let unscored = 0;
  let outOfOrder = 0;
  let last = Number.NEGATIVE_INFINITY;

  for await (const { row, scores } of replayScores(rows, {
    oracleHistory: opts.oracleHistory ?? false,
    ...(model ? { model } : {}),
    ...(opts.policy ? { policy: opts.policy } : {}),
  })) {
    if (row.at < last) outOfOrder++;
    last = Math.max(last, row.at);
    await opts.onRow?.(row, scores, n);
    const kind = labels?.[n] ?? null;
    n++;
    if (scores.vector === null) {
      unscored++;
      if (kind && row.takeover) unscoredByKind[kind] = (unscoredByKind[kind] ?? 0) + 1;
      continue;
    }
    // Classes: 1 takeover, 0 legitimate, 2 other (failed attempts, attack-IP rows that are not takeovers).
    const legit = row.success && !row.attackIp && !row.takeover;
    let u = -1;
    if (legit) {
      u = userIndex.get(row.userId) ?? userIndex.size;
      userIndex.set(row.userId, u);
    }
    scored.push({
      freeman: scores.freeman,
      ato: scores.ato,
      policy: scores.policy.length > 0,
      kind: kind ?? (row.attackIp ? "attack-ip" : null),
      success: row.success,
      user: u,
      cls: row.takeover ? 1 : legit ? 0 : row.attackIp ? 3 : 2,
    });
  }

  type S = (typeof scored)[number];
  const summarise = (get: (s: S) => number) => {
    const neg = scored.filter((s) => s.cls === 0).map(get);
    const pos = scored.filter((s) => s.cls === 1).map(get);
    const negSorted = Float64Array.from(neg).sort().reverse(); // descending
    const point = (
      targetFpr: number,
      threshold: number,
      inclusive: boolean,
      flag?: (s: S) => boolean,
    ): OperatingPoint => {
      const flagged = (x: number) => (inclusive ? x >= threshold : x > threshold);
      const perUser = new Map<number, [number, number]>();
      let fp = 0;
      let tp = 0;
      let atk = 0;
      let atkFlagged = 0;
      const byKind: Record<string, KindResult> = {};
      for (const s of scored) {
        const f = flag ? flag(s) : flagged(get(s));
        if (s.cls === 0) {
          const e = perUser.get(s.user) ?? [0, 0];
          if (f) {
            e[0]++;
            fp++;
          }
          e[1]++;
          perUser.set(s.user, e);
        }
        if (s.cls === 1 && f) tp++;
        if (s.cls === 1 || s.cls === 3) {
          atk++;
          if (f) atkFlagged++;
        }
        if (labels && s.kind && s.kind !== "attack-ip") {
          const k = byKind[s.kind] ?? { takeovers: 0, caught: 0, attempts: 0, attemptsCaught: 0 };
          byKind[s.kind] = k;
          k.attempts++;
          if (f) k.attemptsCaught++;
          if (s.cls === 1) {
            k.takeovers++;
            if (f) k.caught++;
          }
        }
      }
      const rates = [...perUser.values()].map(([x, t]) => x / t).sort((a, b) => a - b);
      return {
        targetFpr,
        threshold,
        fpr: neg.length ? fp / neg.length : 0,
        tpr: pos.length ? tp / pos.length : 0,
        tprAttackIp: atk ? atkFlagged / atk : 0,
        medianReauthRate: median(rates),
        ...(labels ? { byKind } : {}),
      };
    };
    const atFpr = (target: number) => {
      // The k-th highest legitimate score, k = ⌊target · negatives⌋: at most k legitimate rows score above it.
      const k = Math.floor(target * negSorted.length);
      return point(target, k < negSorted.length ? negSorted[k]! : Number.NEGATIVE_INFINITY, false);
    };
    return {
      summary: { auc: auc(pos, neg), roc: roc(pos, neg, 50), operatingPoints: fprs.map(atFpr) } as ModelSummary,
      point,
      atFpr,
      negatives: neg.length,
      positives: pos.length,
    };
  };

  const freeman = summarise((s) => s.freeman);
  const ato = summarise((s) => s.ato);
  const shipped = ato.point(Number.NaN, threshold, true);
  shipped.targetFpr = shipped.fpr;
  const policyPoint = ato.point(Number.NaN, Number.NaN, true, (s) => s.policy);
  policyPoint.targetFpr = policyPoint.fpr;
  const { replayed, skipped } = replayablePolicy(opts.policy);
  return {
    rows: n,
    unscored,
    negatives: freeman.negatives,
    positives: freeman.positives,
    attackIpRows: scored.filter((s) => s.cls === 1 || s.cls === 3).length,
    outOfOrder,
    oracleHistory: opts.oracleHistory ?? false,
    freeman: freeman.summary,
    ato: { ...ato.summary, shipped },
    freemanAtAtoFpr: freeman.atFpr(shipped.fpr),
    policy: { ...policyPoint, replayed, skipped },
    ...(labels ? { unscoredByKind } : {}),
  };
}

function median(sorted: number[]): number {
  if (!sorted.length) return 0;
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

/** Mann–Whitney AUC: P(positive scores above negative) + ½ P(tie). */
function auc(pos: number[], neg: number[]): number {
  if (!pos.length || !neg.length) return Number.NaN;
  const all = [...pos.map((s) => [s, 1] as const), ...neg.map((s) => [s, 0] as const)].sort((a, b) => a[0] - b[0]);
  let rankSum = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j < all.length && all[j]![0] === all[i]![0]) j++;
    const avgRank = (i + 1 + j) / 2; // ranks i+1 … j share their mean
    for (let k = i; k < j; k++) if (all[k]![1] === 1) rankSum += avgRank;
    i = j;
  }
  return (rankSum - (pos.length * (pos.length + 1)) / 2) / (pos.length * neg.length);
}

/** Up to `points` ROC points at thresholds spread over the legitimate scores' quantiles, plus both ends. */
function roc(pos: number[], neg: number[], points: number): { threshold: number; fpr: number; tpr: number }[] {
  if (!neg.length) return [];
  // Plain arrays, numerically sorted (a Float64Array sort), so the shared binary search sees the element kind its
  // hot callers (counters, fact index) give it.
  const negSorted = Array.from(Float64Array.from(neg).sort());
  const posSorted = Array.from(Float64Array.from(pos).sort());
  const countAbove = (xs: number[], t: number) => xs.length - upperBound(xs, t);
  const thresholds = new Set<number>([Number.NEGATIVE_INFINITY]);
  for (let i = 0; i < points; i++) thresholds.add(negSorted[Math.floor(((negSorted.length - 1) * i) / (points - 1))]!);
  return [...thresholds]
    .sort((a, b) => b - a)
    .map((t) => ({
      threshold: t,
      fpr: countAbove(negSorted, t) / negSorted.length,
      tpr: posSorted.length ? countAbove(posSorted, t) / posSorted.length : 0,
    }));
}

/**
 * The CLI's backtest: streams `csvPath`, writes per-row scores and, once the thresholds are known, the decisions to
 * `outPath` (scores go to a temporary file first, so memory stays flat for large inputs).
 */
export async function backtestCsvFile(
  csvPath: string,
  outPath: string | undefined,
  opts: Omit<BacktestOptions, "onRow"> = {},
): Promise<BacktestSummary> {
  const input = fs.createReadStream(csvPath, { encoding: "utf8", highWaterMark: 1 << 20 });
  if (!outPath) return backtest(readLoginCsv(input), opts);

  const tmpPath = `${outPath}.partial`;
  const tmp = fs.createWriteStream(tmpPath);
  const write = (stream: fs.WriteStream, s: string) =>
    stream.write(s) ? undefined : new Promise<void>((resolve) => stream.once("drain", () => resolve()));
  const summary = await backtest(readLoginCsv(input), {
    ...opts,
    onRow: (row, scores, i) =>
      write(
        tmp,
        `${i},${new Date(row.at).toISOString()},${row.userId},${row.success},${row.attackIp},${row.takeover},${scores.freeman},${scores.ato}\n`,
      ),
  });
  await new Promise<void>((resolve, reject) => tmp.end((e?: Error | null) => (e ? reject(e) : resolve())));

  const out = fs.createWriteStream(outPath);
  const points = summary.freeman.operatingPoints;
  const shipped = summary.ato.shipped.threshold;
  await write(
    out,
    `row,timestamp,user_id,login_successful,is_attack_ip,is_account_takeover,freeman_score,ato_score,ato_decision,${points
      .map((p) => `freeman_decision_fpr_${p.targetFpr}`)
      .join(",")}\n`,
  );
  for await (const line of readline.createInterface({ input: fs.createReadStream(tmpPath), crlfDelay: Infinity })) {
    const cut = line.lastIndexOf(",");
    const ato = Number(line.slice(cut + 1));
    const freeman = Number(line.slice(line.lastIndexOf(",", cut - 1) + 1, cut));
    // No history: the models cannot vouch for the login, so every operating point asks for a second factor.
    const decisions = points.map((p) => (freeman > p.threshold ? "challenge" : "allow"));
    await write(out, `${line},${ato >= shipped ? "challenge" : "allow"},${decisions.join(",")}\n`);
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  await fs.promises.rm(tmpPath, { force: true });
  return summary;
}

const pct = (x: number) => `${(x * 100).toFixed(2)} %`;

function pointLine(p: OperatingPoint, label: string): string {
  return `${label.padStart(10)}   ${p.threshold.toExponential(4).padStart(11)}  ${pct(p.fpr).padStart(8)}  ${pct(p.tpr).padStart(9)}  ${pct(p.tprAttackIp).padStart(15)}  ${pct(p.medianReauthRate).padStart(14)}`;
}

function kindTable(points: [string, OperatingPoint][]): string[] {
  const kinds = [...new Set(points.flatMap(([, p]) => Object.keys(p.byKind ?? {})))].sort();
  if (!kinds.length) return [];
  const head = `${"".padEnd(34)}${kinds.map((k) => k.padStart(22)).join("")}`;
  const cell = (k?: KindResult) => (k ? `${pct(k.takeovers ? k.caught / k.takeovers : 0)} of ${k.takeovers}` : "—");
  return [
    "takeovers caught per attacker kind:",
    head,
    ...points.map(([name, p]) => `${name.padEnd(34)}${kinds.map((k) => cell(p.byKind?.[k]).padStart(22)).join("")}`),
  ];
}

export function formatSummary(s: BacktestSummary): string {
  const header = "target FPR   threshold       FPR       TPR (ATO)  TPR (attack IP)  median re-auth";
  const shipped = s.ato.shipped;
  const lines = [
    s.oracleHistory
      ? "history: ORACLE (--oracle-history): takeover rows kept out of the history by reading the label; not what a deployment gets"
      : "history: every observed row (labels are read only to grade)",
    `rows ${s.rows} · legitimate ${s.negatives} · takeovers ${s.positives} · attack-IP rows ${s.attackIpRows} · unscored (no history) ${s.unscored}${s.outOfOrder ? ` · OUT OF ORDER ${s.outOfOrder}` : ""}`,
    `AUC: takeover model ${s.ato.auc.toFixed(4)} · Freeman ${s.freeman.auc.toFixed(4)}`,
    "",
    `takeover model at its shipped threshold (score ≥ ${shipped.threshold}) and Freeman at the same legitimate challenge rate:`,
    header,
    pointLine(shipped, "ato"),
    pointLine(s.freemanAtAtoFpr, "Freeman"),
    pointLine(s.policy, "policy"),
    `policy: the shipped set's login rules a CSV can feed (${s.policy.replayed.join(", ")}); left out: ${
      s.policy.skipped.map((r) => `${r.id} (needs ${r.lacks.join(", ")})`).join("; ") || "none"
    }`,
    ...kindTable([
      ["takeover model (shipped threshold)", shipped],
      ["Freeman (same FPR)", s.freemanAtAtoFpr],
      ["policy (replayable rules)", s.policy],
    ]),
    ...(s.unscoredByKind && Object.keys(s.unscoredByKind).length
      ? [
          `takeovers of users with no history (not scored, challenged by any policy): ${Object.entries(s.unscoredByKind)
            .map(([k, n]) => `${k} ${n}`)
            .join(", ")}`,
        ]
      : []),
    "",
    "takeover model at target FPRs:",
    header,
    ...s.ato.operatingPoints.map((p) => pointLine(p, pct(p.targetFpr))),
    "Freeman at target FPRs:",
    header,
    ...s.freeman.operatingPoints.map((p) => pointLine(p, pct(p.targetFpr))),
    ...kindTable(
      s.ato.operatingPoints.flatMap((p, i): [string, OperatingPoint][] => [
        [`takeover model @ FPR ${pct(p.targetFpr)}`, p],
        [`Freeman @ FPR ${pct(p.targetFpr)}`, s.freeman.operatingPoints[i]!],
      ]),
    ),
    "",
    "ROC of the takeover model (threshold, FPR, TPR):",
    ...s.ato.roc.map((p) => `  ${p.threshold.toExponential(4)}  ${p.fpr.toFixed(4)}  ${p.tpr.toFixed(4)}`),
  ];
  return lines.join("\n");
}
