/**
 * Login risk score of Freeman et al., "Who Are You? A Statistical Approach to Measuring User Authenticity" (NDSS 2016),
 * computed the way the public reference implementation (das-group/rba-algorithm, `freeman_rba_score`, as used in
 * Wiefling et al., ACM TOPS 2022) computes it, including its edge cases. Pure: no I/O, no clock.
 *
 * Score (higher = riskier), for the features f in {IP, UA}, each a hierarchy of sub-features h = 0..k:
 *
 *   score = Π_f global_f / local_f · (1 / users) / (n_u / N)
 *
 *   local_f  = Σ_h w_h · c_u(v_h) / n_u                 (the user's history, never smoothed; 0 for an unseen value)
 *   global_f = w_0 · A_0 · G_0 + Σ_{h≥1} w_h · c(v_h) / N
 *     G_0 = (c(v_0) / N) · (1 − U / (N + U)), or 1 / (N + U) when v_0 was never seen   (smoothing, top level only)
 *       U = Σ_{h≥1} |distinct values of h in the history| + 1                            ("unseen values")
 *     A_0 = (c / c) · (1 − u / (c + u)) with c = c(v_0), u = Σ_{h≥1} |distinct h among the rows with v_0| + 1;
 *           1 when v_0 was never seen
 *   local_f = global_f / 4 when the user never had any value of the hierarchy (the reference's edge case: smoothing
 *             both sides would otherwise make a never-seen value look harmless)
 *
 * c = count among all successful logins so far (N of them, from `users` distinct users); c_u and n_u: the same for
 * this user. The reference's attack-data term p(x | attack) is fixed to 1 there (no per-feature attack data); attack IPs
 * are a separate signal in signals.ts rather than folded in here.
 *
 * The arithmetic keeps the reference's operation order (e.g. (c/N)·(1 − U/(N+U)), not c/(N+U)) so the floating-point
 * results are bit-identical, not merely close.
 */

export interface RbaLogin {
  userId: string;
  ip: string;
  /** Autonomous system number, as text (the dataset's integers are compared as their decimal strings). */
  asn: string;
  /** ISO 3166-1 alpha-2. */
  country: string;
  userAgent: string;
  /** Browser name and version, e.g. "Chrome 120.0.0". */
  browser: string;
  /** OS name and version, e.g. "Windows 10". */
  os: string;
  /** desktop | mobile | tablet | bot | unknown */
  deviceType: string;
}

export type RbaAttribute = "ip" | "asn" | "country" | "userAgent" | "browser" | "os" | "deviceType";
export type RbaFeature = "ip" | "userAgent";

/** A feature and its sub-features, top first, with the weight of each level. */
export interface RbaHierarchy {
  feature: RbaFeature;
  levels: readonly { attribute: RbaAttribute; weight: number }[];
  /** The reference's `risk_score_weightings` exponent applied to each weighted term (1 there). */
  exponent: number;
}

/** The reference's weights, fitted there to the RBA data set (Wiefling et al. 2022). */
export const REFERENCE_HIERARCHIES: readonly RbaHierarchy[] = [
  {
    feature: "ip",
    levels: [
      { attribute: "ip", weight: 0.6 },
      { attribute: "asn", weight: 0.3 },
      { attribute: "country", weight: 0.1 },
    ],
    exponent: 1,
  },
  {
    feature: "userAgent",
    levels: [
      { attribute: "userAgent", weight: 0.5386653840551359 },
      { attribute: "browser", weight: 0.2680451498625666 },
      { attribute: "os", weight: 0.18818295100109536 },
      { attribute: "deviceType", weight: 0.0051065150812021525 },
    ],
    exponent: 1,
  },
];

export interface RbaFeatureBreakdown {
  feature: RbaFeature;
  /** Likelihood of the value in this user's history (after the unseen-hierarchy edge case). */
  local: number;
  /** Likelihood of the value in everyone's history (smoothed at the top level). */
  global: number;
  /** global / local: this feature's factor in the score. */
  ratio: number;
  /** True when the user had never used any value of this hierarchy (local = global / 4). */
  unseenByUser: boolean;
  /** Per level: the user's and everyone's count of the login's value. */
  levels: { attribute: RbaAttribute; userCount: number; globalCount: number }[];
}

export interface RbaScore {
  /**
   * The risk score; Infinity when the user has no successful login yet (the reference divides by zero there and only
   * scores users with at least one prior login).
   */
  score: number;
  perFeature: RbaFeatureBreakdown[];
  /** (1 / users) / (n_u / N): how rarely this user logs in compared to the average user. */
  userFactor: number;
  userLogins: number;
  globalLogins: number;
  users: number;
}

interface UserStats {
  n: number;
  counts: Map<string, number>[]; // per attribute index
}

/** Per top-level value: its count and the distinct lower-level values seen with it (A_0's u). */
interface TopStats {
  count: number;
  below: Set<string>[];
}

/**
 * The login history (successful logins) and the scorer over it. Counts are kept incrementally, so `score` is
 * O(number of levels) map lookups and `add` the same, whatever the history size.
 */
export class RbaHistory {
  readonly hierarchies: readonly RbaHierarchy[];
  private readonly attributes: RbaAttribute[];
  private readonly globalCounts: Map<string, number>[];
  private readonly tops: Map<string, TopStats>[]; // per hierarchy
  private readonly users = new Map<string, UserStats>();
  private total = 0;

  constructor(hierarchies: readonly RbaHierarchy[] = REFERENCE_HIERARCHIES) {
    this.hierarchies = hierarchies;
    this.attributes = hierarchies.flatMap((h) => h.levels.map((l) => l.attribute));
    this.globalCounts = this.attributes.map(() => new Map());
    this.tops = hierarchies.map(() => new Map());
  }

  get size(): number {
    return this.total;
  }

  get userCount(): number {
    return this.users.size;
  }

  /** Logins of one user in the history. */
  userLogins(userId: string): number {
    return this.users.get(userId)?.n ?? 0;
  }

  /** Records a successful login (the reference's history holds only successful ones). */
  add(login: RbaLogin): void {
    let user = this.users.get(login.userId);
    if (!user) {
      user = { n: 0, counts: this.attributes.map(() => new Map()) };
      this.users.set(login.userId, user);
    }
    user.n++;
    this.total++;
    this.attributes.forEach((attr, i) => {
      const v = login[attr];
      inc(this.globalCounts[i]!, v);
      inc(user.counts[i]!, v);
    });
    this.hierarchies.forEach((h, hi) => {
      const topValue = login[h.levels[0]!.attribute];
      const tops = this.tops[hi]!;
      let t = tops.get(topValue);
      if (!t) {
        t = { count: 0, below: h.levels.slice(1).map(() => new Set()) };
        tops.set(topValue, t);
      }
      t.count++;
      h.levels.slice(1).forEach((l, li) => {
        t.below[li]!.add(login[l.attribute]);
      });
    });
  }

  score(login: RbaLogin): RbaScore {
    const user = this.users.get(login.userId);
    const n_u = user?.n ?? 0;
    const N = this.total;
    const perFeature: RbaFeatureBreakdown[] = [];
    let risk = 1.0;
    let attrIndex = 0;
    this.hierarchies.forEach((h, hi) => {
      const first = attrIndex;
      attrIndex += h.levels.length;
      const levels = h.levels.map((l, li) => ({
        attribute: l.attribute,
        userCount: user?.counts[first + li]?.get(login[l.attribute]) ?? 0,
        globalCount: this.globalCounts[first + li]!.get(login[l.attribute]) ?? 0,
      }));

      // Local: each level's share of the user's logins, unsmoothed (the reference's `smoothing = False` throughout).
      let local = 0.0;
      h.levels.forEach((l, li) => {
        const c = levels[li]!.userCount;
        // likelihood_user_subfeature (1 if seen, else 0) × likelihood_subfeature (c / n_u · (1 − 0 / n_u)).
        const term = c > 0 ? 1 * likelihood(c, n_u, 0) : 0.0;
        local += (l.weight * term) ** h.exponent;
      });

      // Global: the top level smoothed by the number of lower-level values (so a new IP in a known ASN is less rare
      // than one in an unknown ASN); lower levels plain shares of N.
      let global = 0.0;
      h.levels.forEach((l, li) => {
        const c = levels[li]!.globalCount;
        let term: number;
        if (li === 0) {
          let U = 1;
          for (let k = 1; k < h.levels.length; k++) U += this.globalCounts[first + k]!.size;
          const top = this.tops[hi]!.get(login[l.attribute]);
          let u = 1;
          if (top) for (const s of top.below) u += s.size;
          const withinTop = c > 0 ? likelihood(c, c, u) : 1 / (0 + 1);
          const overall = c > 0 ? likelihood(c, N, U) : 1 / (N + U);
          term = withinTop * overall;
        } else {
          term = c > 0 ? 1 * likelihood(c, N, 0) : 0.0;
        }
        global += (l.weight * term) ** h.exponent;
      });

      const unseenByUser = local === 0.0;
      if (unseenByUser) local = global / 4;
      const ratio = global / local;
      risk *= ratio;
      perFeature.push({ feature: h.feature, local, global, ratio, unseenByUser, levels });
    });

    const users = this.users.size;
    const userLoginLikelihood = n_u / N;
    const attackLikelihood = 1 / users;
    const userFactor = n_u === 0 ? Number.POSITIVE_INFINITY : attackLikelihood / userLoginLikelihood;
    const score = n_u === 0 ? Number.POSITIVE_INFINITY : risk * userFactor;
    return { score, perFeature, userFactor, userLogins: n_u, globalLogins: N, users };
  }
}

/** The reference's get_likelihood for a value seen `appearance` times in `numLogs` rows, with `unseen` smoothing. */
function likelihood(appearance: number, numLogs: number, unseen: number): number {
  let l = appearance / numLogs;
  l *= 1 - unseen / (numLogs + unseen);
  return l;
}

function inc(m: Map<string, number>, k: string): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}
