import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { DEFAULT_POLICY } from "../../src/risk/default-policy.ts";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";
import { enrolStaff } from "./helpers.ts";

const sfx = () => Math.random().toString(36).slice(2, 8);

describe("support console policies: the active set, its shadow and a backtest preview, for leads only", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
  });
  after(() => t.close());

  it("an agent is refused with a page; a lead reads the rules and the shadow set's backtest", async () => {
    const { browser: agent } = await enrolStaff(t, `desk${sfx()}`, "agent");
    const refused = await agent.get("/console/policies");
    assert.equal(refused.statusCode, 403);
    assert.match(agent.text(), /この操作はリーダーのみ行えます/);

    // A candidate without the gift-card burst rule, put in shadow.
    const candidate = {
      ...DEFAULT_POLICY,
      name: "candidate-without-burst",
      rules: DEFAULT_POLICY.rules.filter((r) => r.id !== "giftcard_burst"),
    };
    const draft = await t.app.risk.putPolicySet(candidate, "test");
    await t.app.risk.promote(draft.version, "shadow");

    const { browser: lead } = await enrolStaff(t, `lead${sfx()}`, "lead");
    const r = await lead.get("/console/policies");
    assert.equal(r.statusCode, 200);
    const text = lead.text();
    assert.match(text, /適用中/);
    assert.match(text, /giftcard_burst/);
    assert.match(text, /candidate-without-burst/);
    assert.match(text, new RegExp(`バージョン${draft.version}で再評価`));
    assert.match(text, /replayed on \d+ stored decisions/);
    assert.match(lead.last, /href="[^"]*policies"[^>]*>ポリシー</, "leads have it in the navigation");
    const unknown = await lead.get("/console/policies?version=999");
    assert.equal(unknown.statusCode, 404);
    assert.match(lead.text(), /そのバージョンはありません/);
    // Nothing changed: still the same active set.
    const active = (await t.app.risk.listPolicySets()).filter((x) => x.status === "active");
    assert.equal(active.length, 1);
  });
});
