/**
 * Fits the takeover model (ato-model.ts) on a labelled login CSV: an L2-regularised logistic regression by iteratively
 * reweighted least squares over the signals the replay computes (the same replay the backtest runs, honest history),
 * then the threshold from the training rows. `mamori fit logins` prints the result as the ATO_MODEL literal.
 */
import { ATO_SIGNALS, type AtoModel, type AtoVector } from "./ato-model.ts";
import { replayScores } from "./backtest.ts";
import type { LoginRow } from "./generate.ts";

export interface FitOptions {
  /** L2 penalty on the weights (not the bias); default 1. */
  l2?: number;
  /**
   * The threshold is the lowest score at which at most this share of the training seed's legitimate sign-ins is
   * challenged (default 0.02) …
   */
  maxLegitChallengeRate?: number;
  /** … and the median user's share of challenged sign-ins is at most this (default 0.005, half the 1 % target). */
  maxMedianReauth?: number;
  /** Fit as if the rows carried no device id (ATO_MODEL_NO_DEVICE: stores that send none, the public data set). */
  withoutDeviceIds?: boolean;
}

async function* withoutDeviceIds(rows: AsyncIterable<LoginRow> | Iterable<LoginRow>): AsyncGenerator<LoginRow> {
  for await (const row of rows) yield { ...row, deviceId: "" };
}

/** Solves A x = b (A symmetric positive definite, small) by Gaussian elimination with partial pivoting. */
function solve(A: number[][], b: number[]): number[] {
  const n = b.length;
  const M = A.map((row, i) => [...row, b[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r]![c]!) > Math.abs(M[p]![c]!)) p = r;
    [M[c], M[p]] = [M[p]!, M[c]!];
    for (let r = c + 1; r < n; r++) {
      const f = M[r]![c]! / M[c]![c]!;
      for (let k = c; k <= n; k++) M[r]![k]! -= f * M[c]![k]!;
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r]![n]!;
    for (let k = r + 1; k < n; k++) s -= M[r]![k]! * x[k]!;
    x[r] = s / M[r]![r]!;
  }
  return x;
}

/** Logistic regression: returns [bias, ...weights in ATO_SIGNALS order]. */
export function logisticFit(xs: number[][], ys: number[], l2 = 1, iterations = 30): number[] {
  const d = (xs[0]?.length ?? 0) + 1;
  let w = new Array<number>(d).fill(0);
  for (let it = 0; it < iterations; it++) {
    const g = new Array<number>(d).fill(0);
    const H = Array.from({ length: d }, () => new Array<number>(d).fill(0));
    for (let i = 0; i < xs.length; i++) {
      const x = [1, ...xs[i]!];
      let z = 0;
      for (let k = 0; k < d; k++) z += w[k]! * x[k]!;
      const p = 1 / (1 + Math.exp(-z));
      const r = ys[i]! - p;
      const v = p * (1 - p);
      for (let a = 0; a < d; a++) {
        g[a]! += r * x[a]!;
        if (x[a] === 0) continue;
        for (let b = 0; b < d; b++) H[a]![b]! += v * x[a]! * x[b]!;
      }
    }
    for (let a = 1; a < d; a++) {
      g[a]! -= l2 * w[a]!;
      H[a]![a]! += l2;
    }
    H[0]![0]! += 1e-9;
    const step = solve(H, g);
    w = w.map((x, k) => x + step[k]!);
    if (Math.max(...step.map(Math.abs)) < 1e-7) break;
  }
  return w;
}

const round = (x: number) => Math.round(x * 1e4) / 1e4;

export async function fitAtoModel(
  rows: AsyncIterable<LoginRow> | Iterable<LoginRow>,
  fittedWith: string,
  opts: FitOptions = {},
): Promise<
  AtoModel & { training: { takeovers: number; legitimate: number; legitChallengeRate: number; medianReauth: number } }
> {
  const xs: number[][] = [];
  const ys: number[] = [];
  const users: string[] = [];
  for await (const { row, scores } of replayScores(opts.withoutDeviceIds ? withoutDeviceIds(rows) : rows)) {
    if (!scores.vector) continue;
    const legit = row.success && !row.attackIp && !row.takeover;
    if (!row.takeover && !legit) continue;
    xs.push(ATO_SIGNALS.map((s) => (scores.vector as AtoVector)[s]));
    ys.push(row.takeover ? 1 : 0);
    users.push(row.userId);
  }
  const w = logisticFit(xs, ys, opts.l2 ?? 1);
  const weights = Object.fromEntries(ATO_SIGNALS.map((s, i) => [s, round(w[i + 1]!)])) as AtoVector;
  const bias = round(w[0]!);
  const score = (x: number[]) => x.reduce((z, v, i) => z + weights[ATO_SIGNALS[i]!] * v, bias);
  const legitRows = xs.flatMap((x, i) => (ys[i] === 0 ? [{ score: score(x), user: users[i]! }] : []));
  const legit = legitRows.map((r) => r.score).sort((a, b) => b - a);
  const medianReauth = (t: number) => {
    const per = new Map<string, [number, number]>();
    for (const r of legitRows) {
      const e = per.get(r.user) ?? [0, 0];
      if (r.score >= t) e[0]++;
      e[1]++;
      per.set(r.user, e);
    }
    const rates = [...per.values()].map(([f, n]) => f / n).sort((a, b) => a - b);
    const m = rates.length >> 1;
    return rates.length % 2 ? rates[m]! : (rates[m - 1]! + rates[m]!) / 2;
  };
  // Candidates: just above each distinct legitimate score, from the top; the lowest that keeps both budgets.
  const maxRate = opts.maxLegitChallengeRate ?? 0.02;
  const maxMedian = opts.maxMedianReauth ?? 0.005;
  let threshold = round((legit[0] ?? 0) + 1e-3);
  for (let k = 0; k < legit.length; k++) {
    if (k > 0 && legit[k] === legit[k - 1]) continue;
    // Challenging everything scoring above legit[k]: the k rows before it.
    if (k / legit.length > maxRate) break;
    const t = round(legit[k]! + 1e-3);
    if (medianReauth(t) > maxMedian) break;
    threshold = t;
  }
  return {
    fittedWith,
    bias,
    weights,
    threshold,
    training: {
      takeovers: ys.filter((y) => y === 1).length,
      legitimate: legit.length,
      legitChallengeRate: legit.filter((x) => x >= threshold).length / legit.length,
      medianReauth: medianReauth(threshold),
    },
  };
}
