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
  /** The store's device cookie ("" or absent: none sent). Not in the public data set; Freeman's score ignores it. */
  deviceId?: string;
  /** web | app | app-password (live only; a CSV has none): device cookies are bound per channel. */
  channel?: string;
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

/**
 * One value of one level in the whole history. `id` is unique across all levels, so a user's counts can be one sorted
 * array of small integers (UserStats) and a top value's lower-level values one set.
 */
interface ValueStats {
  id: number;
  /** The value itself (the same string as the level map's key), to check a remembered `next*` without a lookup. */
  key: string;
  /** c(v): rows with this value. */
  count: number;
  /** Top levels only: ids of the distinct lower-level values seen with it. */
  below: Set<number> | null;
  /** Top levels only: A_0's u = below.size + 1, kept here so scoring does not touch the set's table. */
  u: number;
  /**
   * Top levels only: the stats of the lower-level values (levels 1–3 below it) of the latest row with this value. An
   * address nearly always comes with the same network and country, a user agent with the same browser, OS and device
   * type, so scoring checks these by `key` before asking the level's map (a miss falls back to the map: exact).
   */
  next1: ValueStats | null;
  next2: ValueStats | null;
  next3: ValueStats | null;
}

/**
 * A user's c_u by ValueStats id, and n_u. The ids sit sorted in one Int32Array with their counts in its second half:
 * a few cache lines per account, where a Map<number, number> of the same ~20–40 entries spread over ~1 KB (its
 * lookups, seven a score, were part of V8's FindOrderedHashMapEntry share in docs/risk.md's perf profile).
 */
class UserStats {
  n = 0;
  /**
   * The top value of the first and second hierarchy (IP and user agent in the reference's) in this user's latest
   * added login: a returning user mostly signs in from the address and browser of last time, and scoring then checks
   * it by `key` instead of looking the value up in the map of every address or user agent.
   */
  top0: ValueStats | null = null;
  top1: ValueStats | null = null;
  /** Distinct ids held. */
  size = 0;
  /** [0, cap): ids ascending (first `size` used); [cap, 2·cap): the count of each. */
  slots = new Int32Array(8);

  /**
   * The slot of a value id among the ids held, or, when it is not held, −(its insertion point) − 1 (the sorted
   * arrays' convention): the one binary search `count` and `increment` share.
   */
  indexOf(id: number): number {
    const slots = this.slots;
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const x = slots[mid]!;
      if (x < id) lo = mid + 1;
      else if (x > id) hi = mid - 1;
      else return mid;
    }
    return -lo - 1;
  }

  /** c_u of a value id (0 when never used by this user). */
  count(id: number): number {
    const i = this.indexOf(id);
    return i < 0 ? 0 : this.slots[(this.slots.length >>> 1) + i]!;
  }

  increment(id: number): void {
    let slots = this.slots;
    let cap = slots.length >>> 1;
    const i = this.indexOf(id);
    if (i >= 0) {
      slots[cap + i]!++;
      return;
    }
    const lo = -i - 1;
    // Not held: insert at lo. Ids are handed out in order, so a value new to everyone lands at the end.
    const size = this.size;
    if (size === cap) {
      const grown = new Int32Array(cap * 4);
      grown.set(slots.subarray(0, size), 0);
      grown.set(slots.subarray(cap, cap + size), cap * 2);
      slots = grown;
      cap *= 2;
      this.slots = slots;
    }
    slots.copyWithin(lo + 1, lo, size);
    slots.copyWithin(cap + lo + 1, cap + lo, cap + size);
    slots[lo] = id;
    slots[cap + lo] = 1;
    this.size = size + 1;
  }
}

/** The cheap part of a score, for the decision's hot path (see `quickScore`). */
export interface RbaQuickScore {
  /** As RbaScore.score. */
  score: number;
  /** The ratio of the first "ip" hierarchy (null when the hierarchies have none). */
  ipRatio: number | null;
  /** The ratio of the first "userAgent" hierarchy (null when the hierarchies have none). */
  uaRatio: number | null;
  userLogins: number;
}

// RbaLogin fields by a small integer: `login[attr]` with a variable name is a keyed load, a switch on a precomputed
// code is a few monomorphic named loads.
const ATTRIBUTE_CODES: Record<RbaAttribute, number> = {
  ip: 0,
  asn: 1,
  country: 2,
  userAgent: 3,
  browser: 4,
  os: 5,
  deviceType: 6,
};

function attributeValue(login: RbaLogin, code: number): string {
  switch (code) {
    case 0:
      return login.ip;
    case 1:
      return login.asn;
    case 2:
      return login.country;
    case 3:
      return login.userAgent;
    case 4:
      return login.browser;
    case 5:
      return login.os;
    default:
      return login.deviceType;
  }
}

/**
 * The login history (successful logins) and the scorer over it. Counts are kept incrementally, so `score` is
 * O(number of levels) map lookups and `add` the same, whatever the history size.
 */
export class RbaHistory {
  readonly hierarchies: readonly RbaHierarchy[];
  // Levels flattened, hierarchy after hierarchy: hierarchy hi owns indices first[hi] .. first[hi + 1] - 1.
  private readonly attributes: RbaAttribute[];
  private readonly codes: Int32Array;
  private readonly weights: Float64Array;
  private readonly first: Int32Array;
  private readonly exponents: Float64Array;
  /** Per level index: value → its stats. */
  private readonly values: Map<string, ValueStats>[];
  /** Per hierarchy, U = Σ_{h≥1} |distinct values of h| + 1, kept up to date by `add`. */
  private readonly unseen: Float64Array;
  private readonly users = new Map<string, UserStats>();
  private total = 0;
  private nextId = 0;
  private readonly ipIndex: number;
  /** Level indices of ip, asn, country and userAgent (−1 when no hierarchy holds one), for `userSeen`. */
  private readonly seenIndex: number[];
  private readonly uaIndex: number;
  // Scratch for one evaluation (single-threaded, and `evaluate` never re-enters): each level's stats for the login,
  // and each hierarchy's ratio, so the hot path allocates nothing but its result.
  private readonly found: (ValueStats | undefined)[];
  private readonly ratios: Float64Array;
  private lastUserLogins = 0;
  private lastUserFactor = 0;
  // What the last evaluation looked up, for a `userSeen` of the same login right after it (a decision asks both): the
  // account's stats and each level's key beside `found`. Valid while no login was added since (`add` moves `total`,
  // and nothing else changes the maps) and for the same account and attribute values; looked up afresh otherwise.
  private readonly keys: string[];
  private lastUser: UserStats | undefined = undefined;
  private lastUserId: string | null = null;
  private lastTotal = -1;

  constructor(hierarchies: readonly RbaHierarchy[] = REFERENCE_HIERARCHIES) {
    this.hierarchies = hierarchies;
    this.attributes = hierarchies.flatMap((h) => h.levels.map((l) => l.attribute));
    this.codes = Int32Array.from(this.attributes, (a) => ATTRIBUTE_CODES[a]);
    this.weights = Float64Array.from(hierarchies.flatMap((h) => h.levels.map((l) => l.weight)));
    this.first = new Int32Array(hierarchies.length + 1);
    for (let hi = 0; hi < hierarchies.length; hi++)
      this.first[hi + 1] = this.first[hi]! + hierarchies[hi]!.levels.length;
    this.exponents = Float64Array.from(hierarchies, (h) => h.exponent);
    this.values = this.attributes.map(() => new Map());
    this.unseen = new Float64Array(hierarchies.length).fill(1);
    this.ipIndex = hierarchies.findIndex((h) => h.feature === "ip");
    this.seenIndex = (["ip", "asn", "country", "userAgent"] as const).map((a) => this.attributes.indexOf(a));
    this.uaIndex = hierarchies.findIndex((h) => h.feature === "userAgent");
    this.found = this.attributes.map(() => undefined);
    this.keys = this.attributes.map(() => "");
    this.ratios = new Float64Array(hierarchies.length);
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

  /**
   * Whether this user signed in before with the login's IP, ASN, country and exact user agent (false for an
   * attribute no hierarchy holds), and how often in all. A few map lookups; the score is not touched.
   */
  userSeen(login: RbaLogin): { logins: number; ip: boolean; asn: boolean; country: boolean; userAgent: boolean } {
    // Right after `quickScore` of the same login (the decision's order), the maps of every account and every value
    // were just asked the same questions: their answers are reused.
    const evaluated = this.justEvaluated(login);
    const user = evaluated ? this.lastUser : this.users.get(login.userId);
    if (user === undefined) return { logins: 0, ip: false, asn: false, country: false, userAgent: false };
    const [ip, asn, country, userAgent] = this.seenIndex;
    return {
      logins: user.n,
      ip: this.userHas(user, login, ip!, evaluated),
      asn: this.userHas(user, login, asn!, evaluated),
      country: this.userHas(user, login, country!, evaluated),
      userAgent: this.userHas(user, login, userAgent!, evaluated),
    };
  }

  /** Was the last evaluation of this account with these attribute values, and nothing added since? */
  private justEvaluated(login: RbaLogin): boolean {
    if (this.lastTotal !== this.total || this.lastUserId !== login.userId) return false;
    for (const i of this.seenIndex) if (i >= 0 && attributeValue(login, this.codes[i]!) !== this.keys[i]) return false;
    return true;
  }

  private userHas(user: UserStats, login: RbaLogin, i: number, evaluated: boolean): boolean {
    if (i < 0) return false;
    const s = evaluated ? this.found[i] : this.values[i]!.get(attributeValue(login, this.codes[i]!));
    return s !== undefined && user.count(s.id) > 0;
  }

  /** Records a successful login (the reference's history holds only successful ones). */
  add(login: RbaLogin): void {
    let user = this.users.get(login.userId);
    if (!user) {
      user = new UserStats();
      this.users.set(login.userId, user);
    }
    user.n++;
    this.total++;
    const hierarchyCount = this.hierarchies.length;
    for (let hi = 0; hi < hierarchyCount; hi++) {
      const from = this.first[hi]!;
      const to = this.first[hi + 1]!;
      let top: ValueStats | null = null;
      for (let i = from; i < to; i++) {
        const v = attributeValue(login, this.codes[i]!);
        let s: ValueStats | undefined = top === null ? undefined : remembered(top, i - from, v);
        if (s === undefined) {
          const level = this.values[i]!;
          s = level.get(v);
          if (s === undefined) {
            s = {
              id: this.nextId++,
              key: v,
              count: 0,
              below: i === from ? new Set() : null,
              u: 1,
              next1: null,
              next2: null,
              next3: null,
            };
            level.set(v, s);
            // A new distinct value below the top grows U (integers: exact in any order).
            if (i !== from) this.unseen[hi]!++;
          }
        }
        s.count++;
        user.increment(s.id);
        if (top === null) {
          top = s;
          if (hi === 0) user.top0 = s;
          else if (hi === 1) user.top1 = s;
        } else {
          const below = top.below!;
          const before = below.size;
          below.add(s.id);
          if (below.size !== before) top.u++;
          remember(top, i - from, s);
        }
      }
    }
  }

  /** The score with its per-feature breakdown (for explanations and the backtest). */
  score(login: RbaLogin): RbaScore {
    const perFeature: RbaFeatureBreakdown[] = [];
    const score = this.evaluate(login, perFeature);
    return {
      score,
      perFeature,
      userFactor: this.lastUserFactor,
      userLogins: this.lastUserLogins,
      globalLogins: this.total,
      users: this.users.size,
    };
  }

  /**
   * The same score and ratios as `score` (bit for bit: one shared computation) without building the breakdown; the
   * login decision's hot path needs no more.
   */
  quickScore(login: RbaLogin): RbaQuickScore {
    const score = this.evaluate(login, null);
    return {
      score,
      ipRatio: this.ipIndex < 0 ? null : this.ratios[this.ipIndex]!,
      uaRatio: this.uaIndex < 0 ? null : this.ratios[this.uaIndex]!,
      userLogins: this.lastUserLogins,
    };
  }

  /**
   * The score; leaves each hierarchy's ratio in `ratios`, n_u in `lastUserLogins` and the user factor in
   * `lastUserFactor`, and fills `breakdown` when given. Operation order is the reference's (see the file header).
   */
  private evaluate(login: RbaLogin, breakdown: RbaFeatureBreakdown[] | null): number {
    const user = this.users.get(login.userId);
    const n_u = user === undefined ? 0 : user.n;
    const N = this.total;
    const found = this.found;
    const keys = this.keys;
    this.lastUser = user;
    this.lastUserId = login.userId;
    this.lastTotal = N;
    let risk = 1.0;
    const hierarchyCount = this.hierarchies.length;
    for (let hi = 0; hi < hierarchyCount; hi++) {
      const from = this.first[hi]!;
      const to = this.first[hi + 1]!;
      const exponent = this.exponents[hi]!;

      // Local: each level's share of the user's logins, unsmoothed (the reference's `smoothing = False` throughout).
      // A value nobody has used has no stats, and then the user has not used it either.
      let local = 0.0;
      let topFound: ValueStats | undefined;
      for (let i = from; i < to; i++) {
        const key = attributeValue(login, this.codes[i]!);
        let s: ValueStats | undefined;
        if (i === from) {
          const last = user === undefined ? null : hi === 0 ? user.top0 : hi === 1 ? user.top1 : null;
          if (last !== null && last.key === key) s = last;
        } else if (topFound !== undefined) s = remembered(topFound, i - from, key);
        if (s === undefined) s = this.values[i]!.get(key);
        if (i === from) topFound = s;
        found[i] = s;
        keys[i] = key;
        const c = s === undefined || user === undefined ? 0 : user.count(s.id);
        // likelihood_user_subfeature (1 if seen, else 0) × likelihood_subfeature (c / n_u · (1 − 0 / n_u)).
        const term = c > 0 ? 1 * likelihood(c, n_u, 0) : 0.0;
        local += weighted(this.weights[i]!, term, exponent);
      }

      // Global: the top level smoothed by the number of lower-level values (so a new IP in a known ASN is less rare
      // than one in an unknown ASN); lower levels plain shares of N.
      let global = 0.0;
      const top = found[from];
      const U = this.unseen[hi]!;
      let topTerm: number;
      if (top !== undefined) {
        const c = top.count;
        const u = top.u;
        topTerm = likelihood(c, c, u) * likelihood(c, N, U);
      } else {
        topTerm = (1 / (0 + 1)) * (1 / (N + U));
      }
      global += weighted(this.weights[from]!, topTerm, exponent);
      for (let i = from + 1; i < to; i++) {
        const s = found[i];
        const term = s !== undefined ? 1 * likelihood(s.count, N, 0) : 0.0;
        global += weighted(this.weights[i]!, term, exponent);
      }

      const unseenByUser = local === 0.0;
      if (unseenByUser) local = global / 4;
      const ratio = global / local;
      risk *= ratio;
      this.ratios[hi] = ratio;
      if (breakdown !== null) {
        const levels: RbaFeatureBreakdown["levels"] = [];
        for (let i = from; i < to; i++) {
          const s = found[i];
          levels.push({
            attribute: this.attributes[i]!,
            userCount: s === undefined || user === undefined ? 0 : user.count(s.id),
            globalCount: s === undefined ? 0 : s.count,
          });
        }
        breakdown.push({ feature: this.hierarchies[hi]!.feature, local, global, ratio, unseenByUser, levels });
      }
    }

    const users = this.users.size;
    const userLoginLikelihood = n_u / N;
    const attackLikelihood = 1 / users;
    const userFactor = n_u === 0 ? Number.POSITIVE_INFINITY : attackLikelihood / userLoginLikelihood;
    this.lastUserLogins = n_u;
    this.lastUserFactor = userFactor;
    return n_u === 0 ? Number.POSITIVE_INFINITY : risk * userFactor;
  }
}

/** (weight · term) ^ exponent; x ** 1 is x exactly (IEEE pow), so the usual exponent 1 skips the pow call. */
function weighted(weight: number, term: number, exponent: number): number {
  const x = weight * term;
  return exponent === 1 ? x : x ** exponent;
}

/** The reference's get_likelihood for a value seen `appearance` times in `numLogs` rows, with `unseen` smoothing. */
function likelihood(appearance: number, numLogs: number, unseen: number): number {
  let l = appearance / numLogs;
  l *= 1 - unseen / (numLogs + unseen);
  return l;
}

/** The stats `top` remembers for the level `depth` below it when they are `key`'s, else undefined (ask the map). */
function remembered(top: ValueStats, depth: number, key: string): ValueStats | undefined {
  const s = depth === 1 ? top.next1 : depth === 2 ? top.next2 : depth === 3 ? top.next3 : null;
  return s !== null && s.key === key ? s : undefined;
}

function remember(top: ValueStats, depth: number, s: ValueStats): void {
  if (depth === 1) top.next1 = s;
  else if (depth === 2) top.next2 = s;
  else if (depth === 3) top.next3 = s;
}
