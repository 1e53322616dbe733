import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { isCelError } from "@bufbuild/cel";
import { DEFAULT_POLICY } from "./default-policy.ts";
import { prng } from "./generate.ts";
import {
  BAIL,
  type CompiledPolicySet,
  compileFast,
  compileFastSet,
  compilePolicySet,
  evaluatePolicy,
  type Features,
  toActivation,
} from "./policy.ts";

// The fast path over plain features must answer exactly what CEL answers whenever it answers at all (else BAIL).
const EXPRESSIONS = [
  ...DEFAULT_POLICY.rules.map((r) => r.when),
  "scores.rba > 200.0 && signals.newDevice",
  "event.country == 'CN' && signals.newCountry && scores.rba > 3.5",
  "velocity.logins_ip_1h >= 50.0",
  "velocity.logins_ip_1h >= 2",
  "velocity.ips_acct_1d >= 8.0 && !signals.deviceSeen",
  "signals.unfinishedSecondFactor >= 3.0 && signals.newDevice",
  "account.ageDays < 1.0 && velocity.logins_acct_1d >= 20.0",
  "event.asn == 64000.0 || (event.deviceType == 'bot' && scores.rba > 1.0)",
  "event.asn == 64000 || event.asn != 3",
  "size(account.allowedCountries) == 0 || event.country in account.allowedCountries",
  "signals.sinceCredentialChangeS != null && signals.sinceCredentialChangeS <= 86400.0",
  "has(event.data.price) && event.data.price < 0.6 * event.data.marketPrice",
  "event.data.amount - 100.0 > event.data.price / 2.0",
  "-event.data.amount < -10.0",
  "signals.attackIp ? scores.rba > 1.0 : signals.newDevice",
  "has(session.id) && session.secondFactor == false",
  "account.status == 'active' && account.exists",
  "event.data == null",
  "signals.newDevice == 1",
  "scores.rba",
  "event.browser < 'M'",
  // Policy text never becomes code: literals that would break out of generated source are plain constants.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: the policy's own text, meant to look like a template
  "event.country == '\"); throw new Error(\"injected\"); (\"' || event.country == '`${1}`'",
  "event.data.note == '*/ }; return true; /*'",
];

const VELOCITY = [
  ...(DEFAULT_POLICY.velocity ?? []),
  { name: "logins_ip_1h", event: "login" as const, key: "ip" as const, window: "1h", agg: "count" as const },
  { name: "ips_acct_1d", event: "login" as const, key: "account" as const, window: "24h", agg: "count" as const },
  {
    name: "logins_acct_1d",
    event: "login" as const,
    key: "account" as const,
    window: "24h",
    agg: "count" as const,
  },
];

const VALUES: unknown[] = [
  undefined,
  null,
  true,
  false,
  0,
  1,
  2,
  2.5,
  -3,
  12,
  64000,
  1e308,
  86_400,
  "CN",
  "JP",
  "bot",
  "active",
  "",
  ["JP"],
  ["JP", "CN"],
  [],
  {},
  { price: 10 },
];

function randomFeatures(r: () => number): Features {
  const pick = () => VALUES[Math.floor(r() * VALUES.length)];
  const obj = (keys: string[]) => {
    const o: Record<string, unknown> = {};
    for (const k of keys) if (r() < 0.85) o[k] = pick();
    return o;
  };
  const event = obj(["country", "asn", "deviceType", "browser", "ip"]);
  if (r() < 0.8) event.data = obj(["price", "marketPrice", "amount", "deliveredAgeS", "addressCreatedAgeS"]);
  return {
    event,
    account: obj(["allowedCountries", "ageDays", "dormantDays", "status", "exists"]),
    session: r() < 0.5 ? {} : obj(["id", "secondFactor"]),
    scores: obj(["rba", "rbaKnownUser"]),
    velocity: obj(["logins_ip_1h", "ips_acct_1d", "logins_acct_1d", "giftcard_purchases_10m", "cheap_listings_24h"]),
    signals: obj([
      "newDevice",
      "newCountry",
      "deviceSeen",
      "attackIp",
      "impossibleTravel",
      "unfinishedSecondFactor",
      "sinceCredentialChangeS",
      "recipientNewDevice",
      "recipientNewCountry",
    ]),
  };
}

describe("policy fast path", () => {
  it("answers as CEL does on random features (or leaves it to CEL)", () => {
    const r = prng(7);
    let answered = 0;
    for (const expr of EXPRESSIONS) {
      const set = compilePolicySet(
        { velocity: VELOCITY, rules: [{ id: "x", events: ["order"], when: expr, action: "review" }] },
        1,
      );
      const rule = set.rulesByEvent.get("order")![0]!;
      const fast = compileFast(expr);
      if (!fast) continue;
      for (let i = 0; i < 3000; i++) {
        const f = randomFeatures(r);
        const got: unknown = fast(f);
        if (got === BAIL) continue;
        answered++;
        const cel = rule.run(toActivation(f));
        assert.ok(
          !isCelError(cel) && !(cel instanceof Error),
          `${expr} on ${JSON.stringify(f)}: CEL erred, fast gave ${String(got)}`,
        );
        assert.equal(got, cel, `${expr} on ${JSON.stringify(f)}`);
      }
    }
    assert.ok(answered > 10_000, `the fast path answered ${answered} times`);
  });

  it("one function for a whole set answers per rule what each rule's own plan answers", () => {
    const all = compileFastSet(EXPRESSIONS);
    const one = EXPRESSIONS.map((e) => compileFast(e));
    const r = prng(13);
    let answered = 0;
    for (let i = 0; i < 5000; i++) {
      const f = randomFeatures(r);
      const got = all(f);
      for (const [j, fast] of one.entries()) {
        const want = fast ? fast(f) : BAIL;
        if (want !== BAIL) answered++;
        assert.equal(got[j], want, `${EXPRESSIONS[j]} on ${JSON.stringify(f)}`);
      }
    }
    assert.ok(answered > 20_000, `answered ${answered} times`);
  });

  it("a function named like an Object property is left to CEL, not looked up in the operator tables", () => {
    for (const when of ["constructor(1.0, 2.0)", "toString(scores.rba) == 'x'", "valueOf(1.0, 2.0)"]) {
      assert.equal(compileFast(when), undefined, when);
      compilePolicySet({ rules: [{ id: "x", events: ["login"], when, action: "review" }] }, 1);
    }
  });

  it("the decisions and reasons are the same with and without the fast path", () => {
    const source = {
      ...DEFAULT_POLICY,
      rules: [
        ...DEFAULT_POLICY.rules,
        ...EXPRESSIONS.slice(DEFAULT_POLICY.rules.length).map((when, i) => ({
          id: `r${i}`,
          events: ["login" as const],
          when,
          action: (["challenge", "review", "deny"] as const)[i % 3]!,
        })),
      ],
      velocity: VELOCITY,
    };
    const withFast = compilePolicySet(source, 3);
    const { fastByEvent: _all, ...rest } = withFast;
    const celOnly: CompiledPolicySet = rest; // no fast plans: every rule through CEL
    const r = prng(11);
    for (let i = 0; i < 3000; i++) {
      const f = randomFeatures(r);
      for (const type of ["login", "order", "listing_created", "gift_card_redemption"] as const) {
        assert.deepEqual(evaluatePolicy(withFast, type, f), evaluatePolicy(celOnly, type, f), JSON.stringify(f));
      }
    }
  });
});
