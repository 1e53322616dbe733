import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RequestContext } from "../../src/shared/context.ts";
import { codeIn, makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";

// Seed 002: a seller account listed popular electronics far below market; buyers paid and their data went to the
// attacker. The shipped rule held such a burst only from a seller idle for 180 days, so a taken-over *active* seller
// listed freely. Now a burst from a device or network new to the seller is held, dormant or not; the seller's own
// clearance sale from her own PC is not. Dormancy is measured on the injected clock (ManualClock).

const DAY = 86_400_000;
const IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
/** A residential proxy of a Japanese ISP. */
const JP_PROXY: RequestContext = { ip: "126.10.44.5", userAgent: IPHONE, deviceId: "attacker-phone", channel: "web" };

describe("cheap-listing-burst-from-active-seller", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
    await t.call("POST", "/v1/commerce/products", { id: "cam-x", title: "Camera X", marketPrice: 120_000 });
  });
  after(() => t.close());

  const home = (n: number): RequestContext => ({ ...TOKYO, ip: `153.150.${n}.20`, deviceId: `seller-pc-${n}` });

  /** A seller who signed up long ago and signed in from home yesterday (active, not dormant). */
  async function activeSeller(n: number) {
    const email = `seller${n}@example.jp`;
    const { accountId } = await t.signUp(email, STRONG, home(n));
    t.clock.advance(60 * DAY);
    assert.equal((await t.signIn(email, STRONG, home(n))).status, "signed_in");
    t.clock.advance(DAY);
    return { email, accountId };
  }

  /** Five listings of the camera at a quarter of its market price, a minute apart: the statuses. */
  async function burst(session: string): Promise<string[]> {
    const out: string[] = [];
    for (let i = 0; i < 5; i++) {
      t.clock.advance(60_000);
      const r = await t.call(
        "POST",
        "/v1/commerce/listings",
        { title: "Camera X (new)", price: 30_000, quantity: 20, productId: "cam-x" },
        { session },
      );
      assert.equal(r.statusCode, 201, r.body);
      out.push(r.json().status);
    }
    return out;
  }

  async function lastDecision(accountId: string) {
    const [d] = await t.app.risk.listDecisions(accountId);
    return { rules: d?.reasons.map((r) => r.ruleId) ?? [], dormantDays: d?.reasons[0]?.inputs["account.dormantDays"] };
  }

  it("an active seller's account, signed into from a new device through a Japanese proxy: the fifth cheap listing is held", async () => {
    const seller = await activeSeller(1);
    // The attacker has the password and reads the seller's mail: the sign-in challenge is met.
    const s = await t.signIn(seller.email, STRONG, JP_PROXY);
    assert.equal(s.status, "challenge", JSON.stringify(s));
    await t.call("POST", "/v1/sign-in/challenge/code", { challengeToken: s.challengeToken });
    const done = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: s.challengeToken,
      factor: "email_code",
      code: codeIn((await t.lastMail(seller.email, "signin_code"))?.body),
      context: JP_PROXY,
    });
    assert.equal(done.json().status, "signed_in", done.body);
    assert.deepEqual(await burst(done.json().session.token), ["active", "active", "active", "active", "held"]);
    assert.deepEqual((await lastDecision(seller.accountId)).rules, ["cheap_listing_burst_new_device"]);
  });

  it("a stolen device cookie used from a new network signs in without friction, but its burst is held", async () => {
    const seller = await activeSeller(2);
    const s = await t.signIn(seller.email, STRONG, { ...home(2), ip: "126.10.77.8" });
    assert.equal(s.status, "signed_in", "a known device on a new network: no challenge at sign-in");
    assert.deepEqual(await burst(s.session.token), ["active", "active", "active", "active", "held"]);
  });

  it("the seller's own clearance sale from her own PC at home is not held", async () => {
    const seller = await activeSeller(3);
    const s = await t.signIn(seller.email, STRONG, home(3));
    assert.equal(s.status, "signed_in");
    assert.deepEqual(await burst(s.session.token), ["active", "active", "active", "active", "active"]);
    assert.deepEqual((await lastDecision(seller.accountId)).rules, []);
  });

  it("a dormant seller's burst is held from any device: dormancy counted on the injected clock", async () => {
    const email = "dormant-seller@example.jp";
    const { accountId } = await t.signUp(email, STRONG, home(4));
    t.clock.advance(200 * DAY);
    const s = await t.signIn(email, STRONG, home(4));
    assert.equal(s.status, "signed_in");
    assert.deepEqual(await burst(s.session.token), ["active", "active", "active", "active", "held"]);
    const d = await lastDecision(accountId);
    assert.deepEqual(d.rules, ["dormant_seller_cheap_listings"]);
    assert.ok((d.dormantDays as number) >= 200, String(d.dormantDays));
  });
});
