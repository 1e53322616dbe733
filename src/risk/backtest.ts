import fs from "node:fs";
import readline from "node:readline";
import { upperBound } from "../shared/sorted.ts";
import type { LoginRow } from "./generate.ts";
import { RbaHistory } from "./rba.ts";

/**
 * Replays a login CSV in the RBA data set's layout through the Freeman model: each row is scored against the history
 * as it was at that moment, then (if it was a successful login) added to it. Rows must be in time order, as the data
 * set and the generator write them.
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
    };
  }
}

export interface BacktestOptions {
  /** False-positive rates to report TPR and re-authentication at (default 0.1 %, 1 %, 5 %, 10 %). */
  fprs?: number[];
  /**
   * Successful account-takeover rows enter the history too, as in the reference (which does not know the labels).
   * Default false: a takeover the deployment is meant to stop must not teach the model the attacker's context.
   */
  historyIncludesTakeovers?: boolean;
  /** Called for each row with its score (Infinity: the user had no prior successful login). */
  onRow?: (row: LoginRow, score: number, index: number) => void | Promise<void>;
}

export interface OperatingPoint {
  targetFpr: number;
  /** Rows scoring strictly above it are challenged. */
  threshold: number;
  fpr: number;
  /** Share of account-takeover rows challenged. */
  tpr: number;
  /** Share of all rows from attack IPs (every attempt, failed or not) challenged. */
  tprAttackIp: number;
  /** Median over users of the share of their legitimate logins challenged. */
  medianReauthRate: number;
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
  /** Area under the ROC curve (takeovers against legitimate logins); ties count one half. */
  auc: number;
  roc: { threshold: number; fpr: number; tpr: number }[];
  operatingPoints: OperatingPoint[];
}

export const DEFAULT_FPRS = [0.001, 0.01, 0.05, 0.1];

/** Scores every row in order and summarises how well the score separates takeovers from legitimate logins. */
export async function backtest(
  rows: AsyncIterable<LoginRow> | Iterable<LoginRow>,
  opts: BacktestOptions = {},
): Promise<BacktestSummary> {
  const history = new RbaHistory();
  const neg: number[] = [];
  const negUser: number[] = [];
  const pos: number[] = [];
  const atk: number[] = [];
  const userIndex = new Map<string, number>();
  let n = 0;
  let unscored = 0;
  let outOfOrder = 0;
  let last = Number.NEGATIVE_INFINITY;

  for await (const row of rows) {
    if (row.at < last) outOfOrder++;
    last = Math.max(last, row.at);
    const score = history.score(row).score;
    await opts.onRow?.(row, score, n);
    n++;
    if (score === Number.POSITIVE_INFINITY) unscored++;
    else {
      if (row.takeover) pos.push(score);
      if (row.attackIp) atk.push(score);
      if (row.success && !row.attackIp && !row.takeover) {
        neg.push(score);
        let u = userIndex.get(row.userId);
        if (u === undefined) {
          u = userIndex.size;
          userIndex.set(row.userId, u);
        }
        negUser.push(u);
      }
    }
    if (row.success && (opts.historyIncludesTakeovers || !row.takeover)) history.add(row);
  }

  const negSorted = Float64Array.from(neg).sort().reverse(); // descending
  const above = (xs: number[], t: number) => xs.reduce((c, s) => c + (s > t ? 1 : 0), 0);
  const operatingPoints = (opts.fprs ?? DEFAULT_FPRS).map((target): OperatingPoint => {
    // The k-th highest legitimate score, k = ⌊target · negatives⌋: at most k legitimate rows score above it.
    const k = Math.floor(target * negSorted.length);
    const threshold = k < negSorted.length ? negSorted[k]! : Number.NEGATIVE_INFINITY;
    const perUser = new Map<number, [number, number]>();
    neg.forEach((s, i) => {
      const e = perUser.get(negUser[i]!) ?? [0, 0];
      if (s > threshold) e[0]++;
      e[1]++;
      perUser.set(negUser[i]!, e);
    });
    const rates = [...perUser.values()].map(([flagged, total]) => flagged / total).sort((a, b) => a - b);
    return {
      targetFpr: target,
      threshold,
      fpr: neg.length ? above(neg, threshold) / neg.length : 0,
      tpr: pos.length ? above(pos, threshold) / pos.length : 0,
      tprAttackIp: atk.length ? above(atk, threshold) / atk.length : 0,
      medianReauthRate: median(rates),
    };
  });

  return {
    rows: n,
    unscored,
    negatives: neg.length,
    positives: pos.length,
    attackIpRows: atk.length,
    outOfOrder,
    auc: auc(pos, neg),
    roc: roc(pos, neg, 50),
    operatingPoints,
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
 * The CLI's backtest: streams `csvPath`, writes per-row scores and, once the thresholds are known, the decision at each
 * operating point to `outPath` (scores go to a temporary file first, so memory stays flat for large inputs).
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
    onRow: (row, score, i) =>
      write(
        tmp,
        `${i},${new Date(row.at).toISOString()},${row.userId},${row.success},${row.attackIp},${row.takeover},${score}\n`,
      ),
  });
  await new Promise<void>((resolve, reject) => tmp.end((e?: Error | null) => (e ? reject(e) : resolve())));

  const out = fs.createWriteStream(outPath);
  const points = summary.operatingPoints;
  await write(
    out,
    `row,timestamp,user_id,login_successful,is_attack_ip,is_account_takeover,score,${points
      .map((p) => `decision_fpr_${p.targetFpr}`)
      .join(",")}\n`,
  );
  for await (const line of readline.createInterface({ input: fs.createReadStream(tmpPath), crlfDelay: Infinity })) {
    const score = Number(line.slice(line.lastIndexOf(",") + 1));
    // No history: the model cannot vouch for the login, so every operating point asks for a second factor.
    const decisions = points.map((p) => (score > p.threshold ? "challenge" : "allow"));
    await write(out, `${line},${decisions.join(",")}\n`);
  }
  await new Promise<void>((resolve, reject) => out.end((e?: Error | null) => (e ? reject(e) : resolve())));
  await fs.promises.rm(tmpPath, { force: true });
  return summary;
}

export function formatSummary(s: BacktestSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
  const lines = [
    `rows ${s.rows} · legitimate ${s.negatives} · takeovers ${s.positives} · attack-IP rows ${s.attackIpRows} · unscored (no history) ${s.unscored}${s.outOfOrder ? ` · OUT OF ORDER ${s.outOfOrder}` : ""}`,
    `AUC ${s.auc.toFixed(4)}`,
    "target FPR   threshold       FPR       TPR (ATO)  TPR (attack IP)  median re-auth",
    ...s.operatingPoints.map(
      (p) =>
        `${pct(p.targetFpr).padStart(10)}   ${p.threshold.toExponential(4).padStart(11)}  ${pct(p.fpr).padStart(8)}  ${pct(p.tpr).padStart(9)}  ${pct(p.tprAttackIp).padStart(15)}  ${pct(p.medianReauthRate).padStart(14)}`,
    ),
    "ROC (threshold, FPR, TPR):",
    ...s.roc.map((p) => `  ${p.threshold.toExponential(4)}  ${p.fpr.toFixed(4)}  ${p.tpr.toFixed(4)}`),
  ];
  return lines.join("\n");
}
