import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { PolicySetSource } from "../../src/risk/policy.ts";
import { makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";
import { shopper } from "../commerce/helpers.ts";

// A policy can end a takeover by itself: a rule marked `lockdown` starts the same durable lockdown support would.
const POLICY: PolicySetSource = {
  name: "lockdown-on-burst",
  velocity: [{ name: "gc10m", event: "gift_card_purchase", key: "account", window: "10m", agg: "count" }],
  rules: [
    {
      id: "gift_card_flood",
      description: "A fourth gift card within ten minutes is a takeover: deny it and lock the account down.",
      events: ["gift_card_purchase"],
      when: "velocity.gc10m >= 3.0",
      action: "deny",
      lockdown: true,
    },
  ],
};

describe("policy-lockdown", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: POLICY });
  });
  after(() => t.close());

  it("a rule marked lockdown denies the action and locks the account down; support then sees the case", async () => {
    const owner = await shopper(t, "flood@example.jp");
    t.clock.advance(3_600_000);
    const atk = await t.signIn("flood@example.jp", STRONG, { ...TOKYO, ip: "126.200.3.4" });
    const s = atk.session.token as string;
    const order = () =>
      t.call(
        "POST",
        "/v1/commerce/orders",
        {
          items: [
            {
              category: "gift_card",
              sku: "gc",
              title: "Gift card",
              quantity: 1,
              unitPrice: 2500,
              recipientEmail: "d@x.example",
            },
          ],
          payment: { method: "instrument", instrumentId: owner.instrumentId },
        },
        { session: s },
      );
    for (let i = 0; i < 3; i++) assert.equal((await order()).statusCode, 201);
    const fourth = await order();
    assert.equal(fourth.statusCode, 403, fourth.body);
    assert.equal(fourth.json().error.code, "risk_denied");
    // The lockdown runs in the background of the denied request; wait for it to finish.
    let report: Record<string, any> | undefined;
    const admin = await t.adminToken();
    for (let i = 0; i < 100 && report?.status !== "locked_down"; i++) {
      await new Promise((r) => setTimeout(r, 20));
      const cases = (
        await t.call("GET", `/v1/admin/cases?accountId=${owner.accountId}`, undefined, { auth: admin })
      ).json().cases;
      if (cases[0]) report = (await t.call("GET", `/v1/admin/cases/${cases[0].id}`, undefined, { auth: admin })).json();
    }
    assert.equal(report?.status, "locked_down");
    assert.equal(report?.openedBy, "policy:gift_card_flood");
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: s })).json().active, false);
    // Support's openCase answers the same case rather than a second one, and notes go on it.
    const opened = await t.call(
      "POST",
      `/v1/admin/accounts/${owner.accountId}/cases`,
      { reason: "phoned" },
      { auth: admin },
    );
    assert.equal(opened.statusCode, 200, opened.body);
    assert.equal(opened.json().id, report?.id);
  });

  it("support can open a case first and lock down later: one case", async () => {
    const a = await shopper(t, "later@example.jp");
    const admin = await t.adminToken();
    const opened = (
      await t.call("POST", `/v1/admin/accounts/${a.accountId}/cases`, { reason: "suspicious call" }, { auth: admin })
    ).json();
    assert.equal(opened.status, "open");
    const lock = (
      await t.call("POST", `/v1/admin/accounts/${a.accountId}/lockdown`, { reason: "confirmed" }, { auth: admin })
    ).json();
    assert.equal(lock.id, opened.id);
    assert.equal(lock.status, "locked_down");
    const missing = await t.call("POST", "/v1/admin/accounts/nope/cases", { reason: "x" }, { auth: admin });
    assert.equal(missing.statusCode, 404);
  });
});
