/**
 * Issue 14: a takeover through a hosting/VPN exit in the victim's own country, with the victim's browser and even the
 * victim's device cookie (copied with the session), passed the shipped policy: same country, known device, a Freeman
 * score below its threshold. The takeover model (risk/ato-model.ts) sees a network the account never used that is a
 * cloud provider, and the decision names each signal's contribution.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATO_MODEL } from "../../src/risk/ato-model.ts";
import { makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";

const DAY = 86_400_000;
// Amazon's Tokyo region (AS16509): geolocated in Japan, a hosting network.
const AWS_TOKYO = { ...TOKYO, ip: "54.64.0.1" };

describe("takeover-through-domestic-hosting-exit", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
  });
  after(() => t.close());

  it("the right password from a Japanese cloud address is challenged; the reason lists the model's signals", async () => {
    const email = "hosting-exit@example.jp";
    const { accountId } = await t.signUp(email);
    for (let i = 0; i < 5; i++) {
      t.clock.advance(DAY);
      assert.equal((await t.signIn(email, STRONG, TOKYO)).status, "signed_in", "the owner at home");
    }
    t.clock.advance(DAY);
    const r = await t.signIn(email, STRONG, AWS_TOKYO);
    assert.equal(r.status, "challenge");
    const [d] = await t.app.risk.listDecisions(accountId);
    const reason = d?.reasons.find((x) => x.ruleId === "takeover_model");
    assert.ok(reason, JSON.stringify(d?.reasons));
    const score = reason.inputs["scores.ato"] as number;
    assert.ok(score >= ATO_MODEL.threshold);
    const contributions = reason.inputs["scores.atoContributions"] as { signal: string; contribution: number }[];
    const signals = contributions.map((c) => c.signal);
    for (const s of ["hostingAsn", "newAsn", "newIp"]) assert.ok(signals.includes(s), `${s} in ${signals}`);
    assert.ok(!signals.includes("newUserAgent"), "the owner's own browser string");
    // Explainable: the bias and the contributions make the score.
    const sum = contributions.reduce((a, c) => a + c.contribution, ATO_MODEL.bias);
    assert.ok(Math.abs(sum - score) < 0.01, `${sum} vs ${score}`);
    assert.deepEqual(
      contributions.map((c) => c.contribution),
      contributions.map((c) => c.contribution).sort((a, b) => b - a),
      "largest first",
    );
  });

  it("the owner on the known device and network is not asked", async () => {
    const email = "hosting-exit-owner@example.jp";
    const { accountId } = await t.signUp(email);
    for (let i = 0; i < 6; i++) {
      t.clock.advance(DAY);
      assert.equal((await t.signIn(email, STRONG, TOKYO)).status, "signed_in");
    }
    const [d] = await t.app.risk.listDecisions(accountId);
    assert.equal(d?.decision, "allow");
    assert.equal(d?.scores.atoKnownUser, true);
    assert.ok((d?.scores.ato as number) < ATO_MODEL.threshold);
  });
});
