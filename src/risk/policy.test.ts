import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_POLICY, PERMISSIVE_POLICY } from "./default-policy.ts";
import { compilePolicySet, evaluatePolicy, type Features, PolicyError, parseWindow } from "./policy.ts";

const base = (over: Partial<Record<keyof Features, Record<string, unknown>>> = {}): Features => ({
  event: { type: "login", at: 0, ip: "1.2.3.4", country: "JP", data: {} },
  account: { id: "acc1", allowedCountries: [], dormantDays: 0 },
  session: {},
  scores: { rba: 0, rbaKnownUser: true },
  velocity: {},
  signals: { newDevice: false, newCountry: false, attackIp: false },
  ...over,
});

function problems(source: unknown): string[] {
  try {
    compilePolicySet(source, 1);
  } catch (e) {
    assert.ok(e instanceof PolicyError);
    return e.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail("expected a PolicyError");
}

describe("policy sets", () => {
  it("the shipped sets compile", () => {
    const d = compilePolicySet(DEFAULT_POLICY, 1);
    assert.ok((d.rulesByEvent.get("login") ?? []).length >= 4);
    assert.deepEqual(
      (d.readsByEvent.get("gift_card_purchase") ?? []).map((v) => v.name),
      ["giftcard_purchases_10m"],
      "a gift card purchase reads only the counter its rules name",
    );
    assert.deepEqual(d.readsByEvent.get("login") ?? [], [], "a login reads no counter");
    compilePolicySet(PERMISSIVE_POLICY, 2);
  });

  it("the strictest matching action wins, with every matching rule as a reason", () => {
    const set = compilePolicySet(
      {
        rules: [
          { id: "a", events: ["login"], when: "signals.newDevice", action: "challenge", factor: "email_code" },
          { id: "b", events: ["login"], when: "signals.newCountry && scores.rba > 10.0", action: "review", hold: true },
          { id: "c", events: ["login"], when: "signals.attackIp", action: "deny" },
          { id: "d", events: ["order"], when: "true", action: "deny" },
          { id: "e", events: ["login"], when: "signals.newDevice", action: "challenge", factor: "totp" },
        ],
      },
      7,
    );
    const allow = evaluatePolicy(set, "login", base());
    assert.equal(allow.decision, "allow");
    assert.deepEqual(allow.reasons, []);
    assert.equal(allow.rulesEvaluated, 4, "rules of other event types are not run");

    const f = base({ signals: { newDevice: true, newCountry: true, attackIp: false }, scores: { rba: 42.5 } });
    const r = evaluatePolicy(set, "login", f);
    assert.equal(r.decision, "review");
    assert.equal(r.hold, true);
    assert.equal(r.factor, undefined, "a factor only comes with a challenge decision");
    assert.deepEqual(
      r.reasons.map((x) => [x.ruleId, x.action, x.policyVersion]),
      [
        ["a", "challenge", 7],
        ["b", "review", 7],
        ["e", "challenge", 7],
      ],
    );
    assert.deepEqual(r.reasons[1]!.inputs, { "scores.rba": 42.5, "signals.newCountry": true });

    const c = evaluatePolicy(set, "login", base({ signals: { newDevice: true, newCountry: false, attackIp: false } }));
    assert.equal(c.decision, "challenge");
    assert.equal(c.factor, "totp", "the strongest factor any matching challenge asks for");

    const d = evaluatePolicy(set, "login", base({ signals: { newDevice: true, newCountry: true, attackIp: true } }));
    assert.equal(d.decision, "deny");
    assert.equal(evaluatePolicy(set, "order", base()).decision, "deny");
  });

  it("an expression that errors is a reason: deny fails open, challenge and review fail closed", () => {
    const set = compilePolicySet(
      {
        rules: [
          { id: "deny_broken", events: ["login"], when: "event.data.missing > 1.0", action: "deny" },
          { id: "challenge_broken", events: ["login"], when: "signals.nope == true", action: "challenge" },
          { id: "review_not_bool", events: ["login"], when: "scores.rba", action: "review", onError: "skip" },
          {
            id: "null_guarded",
            events: ["login"],
            when: "signals.since != null && signals.since < 10.0",
            action: "deny",
          },
        ],
      },
      3,
    );
    const r = evaluatePolicy(set, "login", base({ signals: { since: null } }));
    assert.equal(r.decision, "challenge");
    const by = Object.fromEntries(r.reasons.map((x) => [x.ruleId, x]));
    assert.equal(by.deny_broken?.applied, false);
    assert.match(by.deny_broken?.error ?? "", /missing/);
    assert.equal(by.challenge_broken?.applied, true);
    assert.match(by.review_not_bool?.error ?? "", /not a bool/);
    assert.equal(by.review_not_bool?.applied, false);
    assert.equal(by.null_guarded, undefined, "a guarded null is a clean false, not an error");
  });

  it("rejects what would fail later, with a path for each problem", () => {
    const p = problems({
      rules: [
        { id: "x", events: ["login"], when: "signals.newDevice &&", action: "challenge" },
        { id: "y", events: ["logon"], when: "true", action: "deny" },
        { id: "z", events: ["login"], when: "true", action: "block" },
        { id: "w", events: ["login"], when: "foo.bar", action: "deny" },
        { id: "v", events: ["login"], when: "velocity.nope > 1.0", action: "deny" },
        { id: "x", events: ["login"], when: "true", action: "deny" },
        { id: "u", events: ["login"], when: "true", action: "deny", factor: "totp" },
      ],
      velocity: [{ name: "n", event: "order", key: "account", window: "45d", agg: "count" }],
    });
    const has = (re: RegExp) =>
      assert.ok(
        p.some((x) => re.test(x)),
        `${re} in ${JSON.stringify(p, null, 1)}`,
      );
    has(/^rules\[0\]\.when: does not compile/);
    has(/^rules\[1\]\.events: unknown event type logon/);
    has(/^rules\[2\]\.action/);
    has(/^rules\[3\]\.when: reads an unknown variable/);
    has(/^rules\[4\]\.when: velocity\.nope is not declared/);
    has(/^rules\[5\]\.id: rule x defined twice/);
    has(/^rules\[6\]\.factor: only a challenge/);
    has(/^velocity\[0\]\.window/);
    assert.deepEqual(problems("nope"), [": expected an object"]);
    assert.ok(problems({ rules: [], extra: 1 }).includes("extra: unknown property"));
  });

  it("windows run from 1 minute to 30 days", () => {
    assert.equal(parseWindow("10m"), 600_000);
    assert.equal(parseWindow("24h"), 86_400_000);
    assert.equal(parseWindow("30d"), 30 * 86_400_000);
    assert.equal(parseWindow("30s"), null);
    assert.equal(parseWindow("31d"), null);
    assert.equal(parseWindow("1w"), null);
  });

  it("counters that count the same thing share a series; a filter gets its own", () => {
    const set = compilePolicySet(
      {
        velocity: [
          { name: "a10", event: "order", key: "account", window: "10m", agg: "count" },
          { name: "a1d", event: "order", key: "account", window: "1d", agg: "count" },
          { name: "amt", event: "order", key: "account", window: "1d", agg: "sum", field: "data.amount" },
          { name: "big", event: "order", key: "account", window: "1d", agg: "count", where: "event.data.amount > 1e4" },
        ],
        rules: [
          { id: "r", events: ["order"], when: "velocity.a10 + velocity.a1d + velocity.amt > 0.0", action: "review" },
        ],
      },
      1,
    );
    const rec = set.recordsByEvent.get("order") ?? [];
    const series = Object.fromEntries(rec.map((v) => [v.name, v.series]));
    assert.equal(series.a10, series.a1d);
    assert.notEqual(series.a10, series.amt);
    assert.notEqual(series.a10, series.big);
    assert.deepEqual((set.readsByEvent.get("order") ?? []).map((v) => v.name).sort(), ["a10", "a1d", "amt"]);
  });
});
