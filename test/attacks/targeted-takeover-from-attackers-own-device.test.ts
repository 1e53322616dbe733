/**
 * Issue 14's targeted attacker: the victim's country and ISP, the victim's browser family, OS and even user agent
 * string, the right password — but the attacker's own device. Freeman's score and the network signals see only a new
 * address on a known network, which the owner's own line produces too. The store's device cookie tells them apart:
 * the takeover model's `unknownDevice` signal (risk/ato-model.ts, fitted with the others on generated logins).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";

const DAY = 86_400_000;

describe("targeted-takeover-from-attackers-own-device", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
  });
  after(() => t.close());

  it("a new address on the owner's ISP with the owner's browser but another device is challenged", async () => {
    const email = "targeted-own-device@example.jp";
    const { accountId } = await t.signUp(email);
    for (let i = 0; i < 6; i++) {
      t.clock.advance(DAY);
      assert.equal((await t.signIn(email, STRONG, TOKYO)).status, "signed_in", "the owner at home");
    }
    t.clock.advance(DAY);
    // The owner's home address changed (the same ISP): their own device still gets straight in.
    const owner = await t.signIn(email, STRONG, { ...TOKYO, ip: "133.0.1.20" });
    assert.equal(owner.status, "signed_in");
    t.clock.advance(DAY);
    const attacker = await t.signIn(email, STRONG, { ...TOKYO, ip: "133.0.2.30", deviceId: "dev-targeted-attacker" });
    assert.equal(attacker.status, "challenge");
    const [d] = await t.app.risk.listDecisions(accountId);
    const reason = d?.reasons.find((x) => x.ruleId === "takeover_model");
    assert.ok(reason, JSON.stringify(d?.reasons));
    const signals = (reason.inputs["scores.atoContributions"] as { signal: string }[]).map((c) => c.signal);
    assert.ok(signals.includes("unknownDevice"), `${signals}`);
    assert.ok(!signals.includes("newUserAgent") && !signals.includes("newAsn"), `${signals}`);
  });
});
