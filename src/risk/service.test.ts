import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, type TestApp, TOKYO } from "../testing/app.ts";
import { RiskErrors } from "./errors.ts";

const MIN = 60_000;
const DAY = 86_400_000;
const TAIPEI = { ...TOKYO, ip: "1.160.0.1", deviceId: "dev-taipei" };

describe("risk service (default policy)", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
  });
  after(() => t.close());

  it("starts with the default set as version 1, active", async () => {
    const sets = await t.app.risk.listPolicySets();
    assert.deepEqual(
      sets.map((s) => [s.version, s.status, s.name]),
      [[1, "active", "default"]],
    );
  });

  it("003: the third gift card purchase within 10 minutes goes to review and is held; the window slides", async () => {
    const { accountId } = await t.signUp("giftburst@example.jp");
    const buy = () =>
      t.app.risk.assessEvent({ type: "gift_card_purchase", accountId, context: TOKYO, data: { amount: 5000 } });
    assert.equal((await buy()).decision, "allow");
    t.clock.advance(2 * MIN);
    assert.equal((await buy()).decision, "allow");
    t.clock.advance(2 * MIN);
    const third = await buy();
    assert.equal(third.decision, "review");
    assert.equal(third.hold, true);
    assert.deepEqual(
      third.reasons.map((r) => [r.ruleId, r.inputs]),
      [["giftcard_burst", { "velocity.giftcard_purchases_10m": 2 }]],
    );
    assert.equal(third.policyVersion, 1);
    // Counters count attempts: the held one too. Ten minutes after the first two they have left the window.
    t.clock.advance(7 * MIN);
    const later = await buy();
    assert.equal(later.decision, "review", "purchases 3 (held) and the one at +4 min are still within 10 minutes");
    t.clock.advance(11 * MIN);
    assert.equal((await buy()).decision, "allow");
    const other = await t.signUp("giftburst-other@example.jp");
    assert.equal(
      (await t.app.risk.assessEvent({ type: "gift_card_purchase", accountId: other.accountId, context: TOKYO }))
        .decision,
      "allow",
      "counters are per account",
    );
    const stored = await t.app.risk.listDecisions(accountId);
    assert.equal(stored.length, 5);
    assert.equal(stored.filter((d) => d.decision === "review" && d.hold).length, 2);
  });

  it("000: an order to a new address with a new card within 24 h of a credential change is challenged", async () => {
    const { accountId } = await t.signUp("order000@example.jp");
    t.clock.advance(30 * DAY);
    const order = (data: Record<string, unknown>) =>
      t.app.risk.assessEvent({ type: "order", accountId, context: TOKYO, data: { amount: 48_000, ...data } });
    const now = () => t.clock.now();
    const fresh = { addressCreatedAt: now() - 3_600_000, paymentInstrumentCreatedAt: now() - 1_800_000 };
    assert.equal((await order(fresh)).decision, "allow", "no credential change yet");
    await t.app.database.db
      .transaction()
      .execute((tx) =>
        t.app.events.append(tx, { accountId, type: "password.changed", data: {}, actor: "system", ip: null }),
      );
    t.clock.advance(MIN);
    const d = await order({ addressCreatedAt: now() - 3_600_000, paymentInstrumentCreatedAt: now() - 1_800_000 });
    assert.equal(d.decision, "challenge");
    assert.equal(d.reasons[0]?.ruleId, "order_new_address_new_card_after_credential_change");
    assert.equal(d.reasons[0]?.inputs["signals.sinceCredentialChangeS"], 60);
    assert.equal(d.reasons[0]?.inputs["event.data.addressCreatedAgeS"], 3600);
    assert.equal(
      (await order({ addressCreatedAt: now() - 40 * DAY, paymentInstrumentCreatedAt: now() - 1_800_000 })).decision,
      "allow",
      "an old address",
    );
    t.clock.advance(DAY);
    assert.equal(
      (await order({ addressCreatedAt: now() - 3_600_000, paymentInstrumentCreatedAt: now() - 1_800_000 })).decision,
      "allow",
      "more than 24 h after the change",
    );
  });

  it("a seller idle 180 days listing a fifth cheap item within a day goes to review, held", async () => {
    const seller = await t.signUp("dormant-seller@example.jp");
    const active = await t.signUp("active-seller@example.jp");
    t.clock.advance(200 * DAY);
    assert.equal((await t.signIn("dormant-seller@example.jp", "amber lantern drifts past quiet harbors 47")).http, 200);
    assert.equal((await t.signIn("active-seller@example.jp", "amber lantern drifts past quiet harbors 47")).http, 200);
    const list = (accountId: string, price: number) =>
      t.app.risk.assessEvent({
        type: "listing_created",
        accountId,
        context: TOKYO,
        data: { listingId: `l${price}`, price, marketPrice: 10_000, quantity: 1 },
      });
    const dormant = [];
    for (let i = 0; i < 5; i++) {
      t.clock.advance(30 * MIN);
      dormant.push((await list(seller.accountId, 3000 + i)).decision);
    }
    assert.deepEqual(dormant, ["allow", "allow", "allow", "allow", "review"]);
    t.clock.advance(MIN);
    assert.equal((await list(seller.accountId, 9500)).decision, "allow", "a listing at market price is not held");
    const d = await list(seller.accountId, 2000);
    assert.equal(d.hold, true);
    assert.ok((d.reasons[0]?.inputs["account.dormantDays"] as number) >= 180);
    // The other account signed in at sign-up and again now: also 200 days dormant, so we need one that was active.
    t.clock.advance(DAY);
    assert.equal((await t.signIn("active-seller@example.jp", "amber lantern drifts past quiet harbors 47")).http, 200);
    const act = [];
    for (let i = 0; i < 6; i++) act.push((await list(active.accountId, 3000 + i)).decision);
    assert.deepEqual(act, ["allow", "allow", "allow", "allow", "allow", "allow"], "a seller active yesterday");
  });

  it("004: a gift card redeemed within 2 h of delivery from a device and country its recipient never used is held", async () => {
    const owner = await t.signUp("gift004@example.jp");
    const stranger = await t.signUp("stranger004@attacker.example", undefined, TAIPEI);
    const deliveredAt = t.clock.now();
    t.clock.advance(40 * MIN);
    const redeem = (accountId: string, ctx: typeof TOKYO, at = deliveredAt) =>
      t.app.risk.assessEvent({
        type: "gift_card_redemption",
        accountId,
        context: ctx,
        data: { giftCardId: "gc-1", amount: 20_000, deliveredAt: at, recipientAccountId: owner.accountId },
      });
    const d = await redeem(stranger.accountId, TAIPEI);
    assert.equal(d.decision, "review");
    assert.equal(d.hold, true);
    assert.equal(d.reasons[0]?.ruleId, "giftcard_redeemed_soon_new_device_or_network");
    assert.equal((await redeem(owner.accountId, TOKYO)).decision, "allow", "the recipient's own device");
    assert.equal(
      (await redeem(stranger.accountId, TAIPEI, t.clock.now() - 3 * 3_600_000)).decision,
      "allow",
      "delivered more than 2 h ago",
    );
  });

  it("shadow sets are evaluated and recorded, never enforced; promotion retires the previous set", async () => {
    await assert.rejects(
      t.app.risk.putPolicySet({ rules: [{ id: "x", events: ["login"], when: "event.ip ==", action: "deny" }] }),
      (e: Error & { code?: string; details?: { problems: unknown[] } }) =>
        e.code === "policy_invalid" && (e.details?.problems.length ?? 0) === 1,
    );
    const strict = {
      name: "strict",
      rules: [{ id: "all_orders_review", events: ["order"], when: "event.data.amount > 1000.0", action: "review" }],
    };
    const v = await t.app.risk.putPolicySet(strict);
    assert.equal(v.status, "draft");
    assert.ok(v.version >= 2);
    await t.app.risk.promote(v.version, "shadow");
    const { accountId } = await t.signUp("shadow@example.jp");
    const d = await t.app.risk.assessEvent({ type: "order", accountId, context: TOKYO, data: { amount: 5000 } });
    assert.equal(d.decision, "allow", "the active set decides");
    assert.equal(d.policyVersion, 1);
    assert.equal(d.shadow?.decision, "review");
    assert.equal(d.shadow?.policyVersion, v.version);
    const stored = await t.app.risk.listDecisions(accountId);
    assert.equal(stored[0]?.shadow?.decision, "review");

    await t.app.risk.promote(v.version, "active");
    const sets = await t.app.risk.listPolicySets();
    assert.deepEqual(
      sets.filter((s) => s.status === "active" || s.status === "shadow").map((s) => [s.version, s.status]),
      [[v.version, "active"]],
    );
    assert.equal(sets.find((s) => s.version === 1)?.status, "retired");
    const e = await t.app.risk.assessEvent({ type: "order", accountId, context: TOKYO, data: { amount: 5000 } });
    assert.equal(e.decision, "review");
    assert.equal(e.shadow, undefined);
    await assert.rejects(t.app.risk.promote(v.version, "shadow"), { code: "policy_state_invalid" });
    await assert.rejects(t.app.risk.promote(9999, "active"), { code: "policy_not_found" });
    // Back to the default set for the other tests.
    await t.app.risk.promote(1, "active");
    assert.equal(RiskErrors.policy_invalid().httpStatus, 400);
  });

  it("an attack IP is denied for sign-in and password reset requests", async () => {
    const { accountId } = await t.signUp("attackip@example.jp");
    const ip = "203.0.113.77";
    for (let i = 0; i < 5; i++) {
      const r = await t.signIn(`nobody${i}@example.jp`, "wrong password here", { ...ATTACKER, ip });
      assert.equal(r.status, "challenge", "an unknown address gets a challenge nothing can complete");
    }
    const d = await t.app.risk.assessEvent({ type: "password_reset_request", accountId, context: { ...ATTACKER, ip } });
    assert.equal(d.decision, "deny");
    assert.deepEqual(
      d.reasons.map((r) => r.ruleId),
      ["attack_ip"],
    );
  });
});
