import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { prng } from "./generate.ts";
import { type RbaAttribute, type RbaHierarchy, RbaHistory, type RbaLogin, REFERENCE_HIERARCHIES } from "./rba.ts";

// The reference's weights (das-group/rba-algorithm `feature_weightings`), named for the arithmetic below.
const wIP = 0.6;
const wASN = 0.3;
const wCC = 0.1;
const wUA = 0.5386653840551359;
const wB = 0.2680451498625666;
const wOS = 0.18818295100109536;
const wD = 0.0051065150812021525;

/** Relative difference ≤ 1e-12 (the expressions below use the reference's operation order, so most are exact). */
function close(actual: number, expected: number, what: string) {
  const rel = Math.abs(actual - expected) / Math.max(Math.abs(expected), Number.MIN_VALUE);
  assert.ok(rel <= 1e-12, `${what}: ${actual} vs expected ${expected} (rel ${rel})`);
}

const login = (userId: string, ip: string, asn: string, country: string, ua: 1 | 2 | 3 | 4 | 5): RbaLogin => {
  const devices = {
    1: { userAgent: "UA1", browser: "Chrome 120", os: "Windows 10", deviceType: "desktop" },
    2: { userAgent: "UA2", browser: "Firefox 115", os: "Windows 10", deviceType: "desktop" },
    3: { userAgent: "UA3", browser: "Safari 17", os: "iOS 17", deviceType: "mobile" },
    4: { userAgent: "UA4", browser: "Chrome 120", os: "Linux", deviceType: "desktop" },
    5: { userAgent: "UA5", browser: "Edge 120", os: "Windows 11", deviceType: "desktop" },
  } as const;
  return { userId, ip, asn, country, ...devices[ua] };
};

/**
 * History used by most cases: N = 4 successful logins, 2 users.
 *   alice: 1.1.1.1/AS100/JP/UA1, 1.1.1.1/AS100/JP/UA1, 1.1.1.2/AS100/JP/UA2
 *   bob:   2.2.2.2/AS200/US/UA3
 * Distinct values: ASN {100,200}, country {JP,US} → U_ip = 2 + 2 + 1 = 5;
 *   browser {Chrome 120, Firefox 115, Safari 17}, OS {Windows 10, iOS 17}, device {desktop, mobile} → U_ua = 3+2+2+1 = 8.
 */
function baseHistory(): RbaHistory {
  const h = new RbaHistory();
  h.add(login("alice", "1.1.1.1", "100", "JP", 1));
  h.add(login("alice", "1.1.1.1", "100", "JP", 1));
  h.add(login("alice", "1.1.1.2", "100", "JP", 2));
  h.add(login("bob", "2.2.2.2", "200", "US", 3));
  return h;
}

describe("Freeman RBA score, as das-group/rba-algorithm computes it", () => {
  it("a known IP and user agent: every level seen by the user and globally", () => {
    const r = baseHistory().score(login("alice", "1.1.1.1", "100", "JP", 1));
    // IP. local = 0.6·2/3 + 0.3·3/3 + 0.1·3/3 = 0.8
    //   global top: c = 2 rows with 1.1.1.1, u = 1 ASN + 1 country + 1 = 3 → A = (2/2)(1 − 3/5) = 0.4
    //               G = (2/4)(1 − 5/9) = 2/9            → 0.6 · 0.4 · 2/9 = 4/75
    //   + ASN 100: 0.3 · 3/4, + JP: 0.1 · 3/4           → global = 4/75 + 0.3 = 53/150
    //   ratio = (53/150) / (4/5) = 53/120 ≈ 0.44167
    const ipLocal = wIP * ((2 / 3) * (1 - 0 / 3)) + wASN * ((3 / 3) * (1 - 0 / 3)) + wCC * ((3 / 3) * (1 - 0 / 3));
    const ipGlobal =
      wIP * ((2 / 2) * (1 - 3 / (2 + 3)) * ((2 / 4) * (1 - 5 / (4 + 5)))) + wASN * (3 / 4) + wCC * (3 / 4);
    const ip = r.perFeature[0]!;
    close(ip.local, 0.8, "ip local");
    close(ip.global, 53 / 150, "ip global");
    close(ip.ratio, 53 / 120, "ip ratio");
    assert.equal(ip.unseenByUser, false);
    // UA. local = wUA·2/3 + wB·2/3 + wOS·3/3 + wD·3/3
    //   global top: c(UA1) = 2, u = 1 browser + 1 OS + 1 device + 1 = 4 → A = 1 − 4/6 = 1/3
    //               G = (2/4)(1 − 8/12) = 1/6 → wUA · 1/18
    //   + Chrome 120: wB · 2/4, + Windows 10: wOS · 3/4, + desktop: wD · 3/4
    const uaLocal = wUA * (2 / 3) + wB * (2 / 3) + wOS * 1 + wD * 1;
    const uaGlobal = wUA * ((1 - 4 / 6) * ((2 / 4) * (1 - 8 / 12))) + wB * (2 / 4) + wOS * (3 / 4) + wD * (3 / 4);
    const ua = r.perFeature[1]!;
    close(ua.local, uaLocal, "ua local");
    close(ua.global, uaGlobal, "ua global");
    // userFactor = (1/users) / (n_u/N) = (1/2) / (3/4) = 2/3
    close(r.userFactor, 2 / 3, "user factor");
    close(r.score, (ipGlobal / ipLocal) * (uaGlobal / uaLocal) * (2 / 3), "score");
    // By hand: uaGlobal ≈ 0.029926 + 0.134023 + 0.141137 + 0.003830 = 0.308916,
    //          uaLocal ≈ 2/3 · 0.806711 + 0.193289 = 0.731096 → ratio ≈ 0.422538; score ≈ 0.441667 · 0.422538 · 2/3
    assert.ok(Math.abs(r.score - 0.124414) < 1e-5, `score ≈ 0.124414, got ${r.score}`);
    assert.equal(r.userLogins, 3);
    assert.equal(r.globalLogins, 4);
    assert.equal(r.users, 2);
  });

  it("unseen values: smoothing at the top level and the local = global / 4 edge case", () => {
    const r = baseHistory().score(login("alice", "9.9.9.9", "300", "CN", 4));
    // IP: nothing of 9.9.9.9 / AS300 / CN seen anywhere.
    //   global = 0.6 · A(=1, no rows with that IP) · 1/(N + U) = 0.6 · 1/(4 + 5) = 1/15; ASN, country: 0
    //   local = 0 → local = global / 4 = 1/60 → ratio exactly 4
    const ip = r.perFeature[0]!;
    close(ip.global, 1 / 15, "ip global");
    close(ip.local, 1 / 60, "ip local");
    assert.equal(ip.ratio, 4);
    assert.equal(ip.unseenByUser, true);
    // UA4 = Chrome 120 on Linux, desktop. User: Chrome 2/3, desktop 3/3; UA4 and Linux unseen.
    //   local  = 0 + wB · 2/3 + 0 + wD · 3/3
    //   global = wUA · 1 · 1/(4 + 8) + wB · 2/4 + 0 + wD · 3/4
    const uaLocal = wB * (2 / 3) + wD * 1;
    const uaGlobal = wUA * (1 / 12) + wB * (2 / 4) + wD * (3 / 4);
    close(r.perFeature[1]!.local, uaLocal, "ua local");
    close(r.perFeature[1]!.global, uaGlobal, "ua global");
    assert.equal(r.perFeature[1]!.unseenByUser, false);
    // score = 4 · uaGlobal/uaLocal · 2/3 ≈ 4 · 0.9279 · 0.6667 ≈ 2.474
    close(r.score, 4 * (uaGlobal / uaLocal) * (2 / 3), "score");
  });

  it("a device the user never used, known globally: the UA hierarchy's ratio is exactly 4", () => {
    const r = baseHistory().score(login("alice", "1.1.1.1", "100", "JP", 3));
    // alice never used UA3 / Safari 17 / iOS 17 / mobile → local = global / 4 whatever the global popularity.
    assert.equal(r.perFeature[1]!.ratio, 4);
    close(r.score, (53 / 120) * 4 * (2 / 3), "score");
  });

  it("a user with one prior login", () => {
    const r = baseHistory().score(login("bob", "2.2.2.2", "200", "US", 3));
    // IP. local = 0.6 + 0.3 + 0.1 (each 1/1)
    //   global top: c = 1, u = 3 → A = 1 − 3/4 = 1/4; G = (1/4)(1 − 5/9) = 1/9 → 0.6 · 1/36 = 1/60
    //   + AS200 0.3 · 1/4 + US 0.1 · 1/4 → global = 1/60 + 1/10 = 7/60; ratio ≈ 7/60
    const ipLocal = wIP * 1 + wASN * 1 + wCC * 1;
    const ipGlobal = wIP * ((1 - 3 / 4) * ((1 / 4) * (1 - 5 / 9))) + wASN * (1 / 4) + wCC * (1 / 4);
    close(r.perFeature[0]!.global, 7 / 60, "ip global");
    close(r.perFeature[0]!.ratio, 7 / 60, "ip ratio");
    // UA. local = wUA + wB + wOS + wD (each 1/1)
    //   global top: c = 1, u = 4 → A = 1 − 4/5 = 1/5; G = (1/4)(1 − 8/12) = 1/12 → wUA/60
    //   + (wB + wOS + wD) · 1/4
    const uaLocal = wUA + wB + wOS + wD;
    const uaGlobal = wUA * ((1 - 4 / 5) * ((1 / 4) * (1 - 8 / 12))) + wB * (1 / 4) + wOS * (1 / 4) + wD * (1 / 4);
    close(r.perFeature[1]!.global, uaGlobal, "ua global");
    // userFactor = (1/2) / (1/4) = 2
    assert.equal(r.userFactor, 2);
    close(r.score, (ipGlobal / ipLocal) * (uaGlobal / uaLocal) * 2, "score");
    assert.equal(r.userLogins, 1);
  });

  it("global popularity: a new IP that many others use raises the score", () => {
    // Same user view (alice: AS100/JP 3/3, IP 1.1.1.3 never), two global pictures.
    const rare = baseHistory().score(login("alice", "1.1.1.3", "100", "JP", 1));
    // rare: 1.1.1.3 unseen → 0.6 · 1 · 1/(4 + 5) = 1/15; + 0.3 · 3/4 + 0.1 · 3/4 → global = 1/15 + 3/10 = 11/30
    //       local = 0.3 + 0.1 = 0.4 → ratio = (11/30) / 0.4 = 11/12
    close(rare.perFeature[0]!.global, 11 / 30, "rare global");
    close(rare.perFeature[0]!.local, 0.4, "rare local");
    close(rare.perFeature[0]!.ratio, 11 / 12, "rare ratio");

    const h = baseHistory();
    for (let i = 0; i < 6; i++) h.add(login("carol", "1.1.1.3", "100", "JP", 5));
    const popular = h.score(login("alice", "1.1.1.3", "100", "JP", 1));
    // popular: N = 10, U = 5. 1.1.1.3: c = 6, u = 3 → A = 1 − 3/9 = 2/3; G = (6/10)(1 − 5/15) = 0.4
    //          top = 0.6 · 2/3 · 0.4 = 0.16; AS100 0.3 · 9/10 = 0.27; JP 0.1 · 9/10 = 0.09 → global = 0.52
    //          ratio = 0.52 / 0.4 = 1.3
    close(popular.perFeature[0]!.global, 0.52, "popular global");
    close(popular.perFeature[0]!.ratio, 1.3, "popular ratio");
    // users = 3, n_u = 3, N = 10 → userFactor = (1/3) / (3/10) = 10/9
    close(popular.userFactor, 10 / 9, "user factor");
    assert.ok(popular.perFeature[0]!.ratio > rare.perFeature[0]!.ratio);
  });

  it("no history for the user: Infinity (the reference only scores users with a prior login)", () => {
    const r = baseHistory().score(login("dave", "1.1.1.1", "100", "JP", 1));
    assert.equal(r.score, Number.POSITIVE_INFINITY);
    assert.equal(r.userLogins, 0);
    assert.equal(new RbaHistory().score(login("x", "1.1.1.1", "1", "JP", 1)).score, Number.POSITIVE_INFINITY);
  });

  it("the score grows with the evidence: known context < new IP in known ASN < everything new", () => {
    const h = baseHistory();
    const known = h.score(login("alice", "1.1.1.1", "100", "JP", 1)).score;
    const newIp = h.score(login("alice", "1.1.1.3", "100", "JP", 1)).score;
    const allNew = h.score(login("alice", "9.9.9.9", "300", "CN", 3)).score;
    assert.ok(known < newIp && newIp < allNew, `${known} < ${newIp} < ${allNew}`);
  });
});

describe("RbaHistory.quickScore", () => {
  /** Random logins from small pools, so values repeat across users and levels (and some lower levels are shared). */
  function randomLogins(seed: number, n: number): RbaLogin[] {
    const r = prng(seed);
    const pick = (k: number) => Math.floor(r() * k);
    const out: RbaLogin[] = [];
    for (let i = 0; i < n; i++) {
      const ua = pick(8);
      out.push({
        userId: `u${pick(25)}`,
        ip: `10.0.${pick(4)}.${pick(10)}`,
        asn: String(pick(6)),
        country: ["JP", "US", "DE", ""][pick(4)]!,
        userAgent: `UA${ua}`,
        browser: `B${ua % 4}`,
        os: `OS${pick(3)}`,
        deviceType: ["desktop", "mobile", ""][ua % 3]!,
      });
    }
    return out;
  }

  function assertAgrees(h: RbaHistory, login: RbaLogin) {
    const full = h.score(login);
    const quick = h.quickScore(login);
    const ratio = (f: string) => full.perFeature.find((p) => p.feature === f)?.ratio ?? null;
    const what = JSON.stringify(login);
    assert.ok(Object.is(quick.score, full.score), `score ${quick.score} vs ${full.score} for ${what}`);
    assert.ok(Object.is(quick.ipRatio, ratio("ip")), `ip ratio for ${what}`);
    assert.ok(Object.is(quick.uaRatio, ratio("userAgent")), `ua ratio for ${what}`);
    assert.equal(quick.userLogins, full.userLogins);
  }

  const variants: [string, readonly RbaHierarchy[]][] = [
    ["reference hierarchies", REFERENCE_HIERARCHIES],
    [
      "UA first, exponent 2, no country level",
      [
        { ...REFERENCE_HIERARCHIES[1]!, exponent: 2 },
        { feature: "ip", levels: REFERENCE_HIERARCHIES[0]!.levels.slice(0, 2), exponent: 2 },
      ],
    ],
    ["one hierarchy", [REFERENCE_HIERARCHIES[1]!]],
  ];
  for (const [name, hierarchies] of variants) {
    it(`agrees exactly with score() on random logins over a growing random history (${name})`, () => {
      const h = new RbaHistory(hierarchies);
      const logins = randomLogins(7, 3000);
      const probes = randomLogins(8, 3000);
      for (let i = 0; i < logins.length; i++) {
        // Scored before and after each add: empty history, unknown users and values, and every size in between.
        assertAgrees(h, probes[i]!);
        h.add(logins[i]!);
        if (i % 3 === 0) assertAgrees(h, logins[i]!);
      }
      assert.equal(h.size, logins.length);
    });
  }

  it("reports no ratio for a feature the hierarchies lack", () => {
    const h = new RbaHistory([REFERENCE_HIERARCHIES[1]!]);
    const [a] = randomLogins(1, 1);
    h.add(a!);
    const q = h.quickScore(a!);
    assert.equal(q.ipRatio, null);
    assert.equal(q.uaRatio, h.score(a!).perFeature[0]!.ratio);
  });

  it("matches the breakdown's counts after many adds (the incremental U and u)", () => {
    // Counts, U and u recounted from the rows with the reference's definitions must give the same global term.
    const rows = randomLogins(3, 500);
    const h = new RbaHistory();
    for (const l of rows) h.add(l);
    // Seen and never-seen values, and the other seed's combinations of the same pools.
    const fresh = { ...rows[0]!, ip: "192.0.2.1", userAgent: "new UA", browser: "new browser" };
    for (const probe of [rows[0]!, rows[499]!, fresh, ...randomLogins(4, 30)]) checkProbe(probe);

    function checkProbe(probe: RbaLogin) {
      const r = h.score(probe);
      for (const [fi, f] of r.perFeature.entries()) {
        for (const lv of f.levels) {
          const same = (l: RbaLogin) => l[lv.attribute] === probe[lv.attribute];
          assert.equal(lv.globalCount, rows.filter(same).length, `${f.feature}/${lv.attribute} global`);
          assert.equal(
            lv.userCount,
            rows.filter((l) => l.userId === probe.userId && same(l)).length,
            `${f.feature}/${lv.attribute} user`,
          );
        }
        // Recompute the top-level term with U and u counted from scratch (the reference's definitions).
        const levels = REFERENCE_HIERARCHIES[fi]!.levels;
        const topAttr = levels[0]!.attribute;
        let U = 1;
        for (const l of levels.slice(1)) U += new Set(rows.map((x) => x[l.attribute])).size;
        let u = 1;
        for (const l of levels.slice(1))
          u += new Set(rows.filter((x) => x[topAttr] === probe[topAttr]).map((x) => x[l.attribute])).size;
        const c = f.levels[0]!.globalCount;
        const N = rows.length;
        const top = c > 0 ? (c / c) * (1 - u / (c + u)) * ((c / N) * (1 - U / (N + U))) : 1 / (N + U);
        let global = levels[0]!.weight * top;
        for (const [li, l] of levels.entries())
          if (li > 0) global += l.weight * ((f.levels[li]!.globalCount / N) * (1 - 0 / N));
        assert.equal(f.global, global, `${f.feature} global`);
      }
    }
  });
});

describe("RbaHistory's interned ids, per-account arrays and remembered values", () => {
  /**
   * Sign-ins shaped like real ones: an address mostly keeps its network and country and a user agent its browser, OS
   * and device type, but not always (re-assigned blocks, enrichment changes), so the values a top value remembers are
   * right most of the time and stale some of the time; a few heavy accounts with hundreds of distinct values grow
   * their arrays far past the first size. Fresh strings each time, as a parsed request has.
   */
  function signIns(seed: number, n: number): RbaLogin[] {
    const r = prng(seed);
    const pick = (k: number) => Math.floor(r() * k);
    const out: RbaLogin[] = [];
    for (let i = 0; i < n; i++) {
      const heavy = r() < 0.3;
      const ipN = heavy ? pick(400) : pick(60);
      const uaN = pick(30);
      const drift = r() < 0.1;
      out.push({
        userId: heavy ? `heavy${pick(3)}` : `u${pick(300)}`,
        ip: `10.${ipN % 7}.${ipN}.1`,
        asn: String(drift ? pick(20) : ipN % 13),
        country: ["JP", "US", "DE", "NO", ""][drift ? pick(5) : ipN % 5]!,
        userAgent: `Mozilla/5.0 (${uaN})`,
        browser: `Browser ${drift ? pick(9) : uaN % 9}`,
        os: `OS ${drift ? pick(5) : uaN % 5}`,
        deviceType: ["desktop", "mobile", "tablet", ""][drift ? pick(4) : uaN % 4]!,
      });
    }
    return out;
  }

  /** The score from string-keyed counts of every row, in rba.ts's operation order (so equal means bit-identical). */
  class Reference {
    private readonly rows: RbaLogin[] = [];
    private readonly count = new Map<string, number>();
    private readonly users = new Set<string>();
    constructor(private readonly hierarchies: readonly RbaHierarchy[]) {}
    add(l: RbaLogin) {
      this.rows.push(l);
      this.users.add(l.userId);
      // Once per attribute, however many hierarchies hold it.
      const attributes = new Set(this.hierarchies.flatMap((h) => h.levels.map((x) => x.attribute)));
      for (const a of attributes)
        for (const k of [`${a}=${l[a]}`, `${l.userId}|${a}=${l[a]}`]) this.count.set(k, (this.count.get(k) ?? 0) + 1);
    }
    seen(l: RbaLogin, a: RbaAttribute): boolean {
      return (
        this.hierarchies.some((h) => h.levels.some((x) => x.attribute === a)) && this.c(`${l.userId}|${a}=${l[a]}`) > 0
      );
    }
    private c(k: string) {
      return this.count.get(k) ?? 0;
    }
    score(l: RbaLogin): { score: number; ratios: number[] } {
      const N = this.rows.length;
      const n_u = this.rows.filter((x) => x.userId === l.userId).length;
      const lk = (a: number, n: number, u: number) => {
        let v = a / n;
        v *= 1 - u / (n + u);
        return v;
      };
      const w = (weight: number, term: number, e: number) => (e === 1 ? weight * term : (weight * term) ** e);
      let risk = 1.0;
      const ratios: number[] = [];
      for (const h of this.hierarchies) {
        const [top, ...below] = h.levels;
        let local = 0.0;
        for (const { attribute: a, weight } of h.levels) {
          const c = this.c(`${l.userId}|${a}=${l[a]}`);
          local += w(weight, c > 0 ? 1 * lk(c, n_u, 0) : 0.0, h.exponent);
        }
        let U = 1;
        for (const { attribute: a } of below) U += new Set(this.rows.map((x) => x[a])).size;
        const c0 = this.c(`${top!.attribute}=${l[top!.attribute]}`);
        let global = 0.0;
        if (c0 > 0) {
          const withTop = this.rows.filter((x) => x[top!.attribute] === l[top!.attribute]);
          let u = 1;
          for (const { attribute: a } of below) u += new Set(withTop.map((x) => x[a])).size;
          global += w(top!.weight, lk(c0, c0, u) * lk(c0, N, U), h.exponent);
        } else global += w(top!.weight, (1 / (0 + 1)) * (1 / (N + U)), h.exponent);
        for (const { attribute: a, weight } of below) {
          const c = this.c(`${a}=${l[a]}`);
          global += w(weight, c > 0 ? 1 * lk(c, N, 0) : 0.0, h.exponent);
        }
        if (local === 0.0) local = global / 4;
        ratios.push(global / local);
        risk *= global / local;
      }
      const userFactor = n_u === 0 ? Number.POSITIVE_INFINITY : 1 / this.users.size / (n_u / N);
      return { score: n_u === 0 ? Number.POSITIVE_INFINITY : risk * userFactor, ratios };
    }
  }

  const variants: [string, readonly RbaHierarchy[]][] = [
    ["reference hierarchies", REFERENCE_HIERARCHIES],
    [
      // A level four deep (not remembered by its top value) and a third hierarchy (no per-account top memo).
      "five levels under the address, a third hierarchy",
      [
        {
          feature: "ip",
          levels: [
            { attribute: "ip", weight: 0.4 },
            { attribute: "asn", weight: 0.3 },
            { attribute: "country", weight: 0.1 },
            { attribute: "os", weight: 0.1 },
            { attribute: "deviceType", weight: 0.1 },
          ],
          exponent: 1,
        },
        { ...REFERENCE_HIERARCHIES[1]!, exponent: 2 },
        {
          feature: "ip",
          levels: [
            { attribute: "country", weight: 0.7 },
            { attribute: "browser", weight: 0.3 },
          ],
          exponent: 1,
        },
      ],
    ],
  ];
  for (const [name, hierarchies] of variants) {
    it(`scores every sign-in exactly as string-keyed counts of all rows do (${name})`, () => {
      const h = new RbaHistory(hierarchies);
      const ref = new Reference(hierarchies);
      const rows = signIns(11, 1500);
      const probes = signIns(12, 1500);
      for (let i = 0; i < rows.length; i++) {
        for (const probe of i % 2 === 0 ? [probe0(i), rows[i]!] : [probe0(i)]) {
          const want = ref.score(probe);
          const what = `${name} #${i} ${JSON.stringify(probe)}`;
          const quick = h.quickScore(probe);
          assert.ok(Object.is(quick.score, want.score), `score ${quick.score} vs ${want.score}: ${what}`);
          assert.deepEqual(
            h.score(probe).perFeature.map((f) => f.ratio),
            want.ratios,
            what,
          );
          // userSeen right after the score (its answers reused) and on its own (looked up afresh).
          for (const seen of [h.userSeen(probe), h.userSeen({ ...probe })])
            assert.deepEqual(
              seen,
              {
                logins: ref.score(probe).score === Number.POSITIVE_INFINITY ? 0 : h.userLogins(probe.userId),
                ip: ref.seen(probe, "ip"),
                asn: ref.seen(probe, "asn"),
                country: ref.seen(probe, "country"),
                userAgent: ref.seen(probe, "userAgent"),
              },
              what,
            );
        }
        h.add({ ...rows[i]! });
        ref.add(rows[i]!);
      }
      function probe0(i: number) {
        // Copies, so no string is the very object the history keeps.
        return { ...probes[i]!, ip: `${probes[i]!.ip}`.slice(0), userAgent: [probes[i]!.userAgent].join("") };
      }
    });
  }
});
