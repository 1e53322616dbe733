import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { balance, caseActions, ledgerSum, openCase, shopper, webhookCount } from "../commerce/helpers.ts";

// Seed 000: the attacker stayed signed in and ordered with the owner's saved card; one order sat in
// "payment method required" and would have been charged once the owner entered a card. Seed 003: seven ¥2,500 gift
// cards in minutes. The lockdown cancels every order of the attacker's sessions, voids or refunds each payment
// exactly once (even when re-run after a crash), voids the gift cards and locks what was redeemed.
describe("attacker-order-charged-later", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("cancels, voids and refunds the attacker's orders exactly once, across re-runs and a partial run", async () => {
    const owner = await shopper(t, "owner000@example.jp");
    const atk = await t.signIn("owner000@example.jp", STRONG, ATTACKER);
    const s = atk.session.token as string;
    const sid = atk.session.id as string;
    const order = (body: unknown) => t.call("POST", "/v1/commerce/orders", body, { session: s });

    // 1. No payment method: pending_payment, payment still required.
    const pending = await order({
      items: [{ category: "digital", sku: "ebook-1", title: "E-book", quantity: 1, unitPrice: 1200 }],
    });
    assert.equal(pending.statusCode, 201, pending.body);
    assert.equal(pending.json().status, "pending_payment");
    assert.equal(pending.json().paymentRequired, true);

    // 2. Physical order on the owner's card: authorized, not captured.
    const addr = await t.call(
      "POST",
      "/v1/commerce/addresses",
      { name: "Stranger X", line1: "9 Drop St", city: "Osaka", postalCode: "530-0001", country: "JP" },
      { session: s },
    );
    assert.equal(addr.statusCode, 201, addr.body);
    const authorized = await order({
      items: [{ category: "physical", sku: "tv", title: "TV", quantity: 1, unitPrice: 80_000 }],
      addressId: addr.json().id,
      payment: { method: "instrument", instrumentId: owner.instrumentId },
    });
    assert.equal(authorized.json().payments[0].status, "authorized");

    // 3. Seven ¥2,500 gift cards (seed 003): digital, captured at once, cards issued; one is redeemed by the attacker.
    const cards = await order({
      items: [
        {
          category: "gift_card",
          sku: "gc-2500",
          title: "Gift card",
          quantity: 7,
          unitPrice: 2500,
          recipientEmail: "drop@attacker.example",
        },
      ],
      payment: { method: "instrument", instrumentId: owner.instrumentId },
    });
    assert.equal(cards.statusCode, 201, cards.body);
    assert.equal(cards.json().payments[0].status, "captured");
    assert.equal(cards.json().giftCards.length, 7);
    const mails = await t.mails("drop@attacker.example");
    assert.equal(mails.filter((m) => m.template === "gift_card_delivered").length, 7);
    const code = mails[0]?.body.match(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/)?.[0];
    assert.ok(code);
    const mule = await t.signUp("mule@attacker.example", STRONG, ATTACKER);
    const red = await t.call("POST", "/v1/commerce/gift-cards/redeem", { code }, { session: mule.token });
    assert.equal(red.statusCode, 200, red.body);
    assert.equal(red.json().balance, 2500);
    // A second redemption of the same code is refused.
    const again = await t.call("POST", "/v1/commerce/gift-cards/redeem", { code }, { session: owner.token });
    assert.equal(again.json().error.code, "gift_card_invalid");

    // 4. A shipped order: cancelled and refunded, with a recall note.
    const shipped = await order({
      items: [{ category: "physical", sku: "cam", title: "Camera", quantity: 1, unitPrice: 30_000 }],
      addressId: addr.json().id,
      payment: { method: "instrument", instrumentId: owner.instrumentId },
    });
    const ship = await t.call("POST", `/v1/commerce/orders/${shipped.json().id}/ship`, {});
    assert.equal(ship.json().status, "shipped", ship.body);

    // The owner's own order is left alone.
    const mine = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [{ category: "digital", sku: "app", title: "App", quantity: 1, unitPrice: 500 }],
        payment: { method: "instrument", instrumentId: owner.instrumentId },
      },
      { session: owner.token },
    );
    assert.equal(mine.json().status, "placed");

    const sumBefore = await ledgerSum(t);
    const caseId = await openCase(t, owner.accountId);
    const responder = t.app.commerceResponder;
    const gw = t.app.gateway;

    // A partial run: the crashed runner had already asked the gateway to void the authorization (same key).
    const authPay = authorized.json().payments[0].id as string;
    const authRow = await t.app.database.db
      .selectFrom("payments")
      .selectAll()
      .where("id", "=", authPay)
      .executeTakeFirstOrThrow();
    assert.ok((await gw.void({ ref: authRow.gateway_ref!, idempotencyKey: `case:${caseId}:void:${authPay}` })).ok);

    const step = { caseId, step: "cancel_orders", accountId: owner.accountId, sessionIds: [sid] };
    await responder.cancelOrdersOfSessions(step);
    await responder.cancelOrdersOfSessions(step);

    const ids = await responder.listOrderIdsOfSessions({ accountId: owner.accountId, sessionIds: [sid] });
    assert.equal(ids.length, 4);
    const status = async (id: string) =>
      (await t.call("GET", `/v1/commerce/orders/${id}`, undefined, { session: owner.token })).json();
    const p = await status(pending.json().id);
    assert.equal(p.status, "cancelled");
    assert.equal(p.paymentRequired, false, "the pending payment requirement is gone: it can never be charged later");
    assert.equal((await status(authorized.json().id)).payments[0].status, "voided");
    const c = await status(cards.json().id);
    assert.equal(c.status, "refunded");
    assert.equal(c.payments[0].refundedAmount, 17_500);
    assert.ok(c.giftCards.every((g: { status: string }) => g.status === "void"));
    assert.equal((await status(shipped.json().id)).status, "refunded");
    assert.equal((await status(mine.json().id)).status, "placed", "the owner's order is untouched");

    // The gateway saw exactly one void and one refund per payment.
    const charges = await t.app.database.db.selectFrom("gateway_charges").selectAll().execute();
    const byRef = (ref: string | null) => charges.find((x) => x.ref === ref);
    const pays = await t.app.database.db.selectFrom("payments").selectAll().where("order_id", "in", ids).execute();
    for (const pay of pays) {
      const ch = byRef(pay.gateway_ref);
      if (!ch) continue;
      if (ch.captured_amount > 0) assert.equal(ch.refunded_amount, ch.captured_amount, "refunded in full, once");
      else assert.equal(ch.status, "voided");
    }
    const requests = await t.app.database.db
      .selectFrom("gateway_requests")
      .select(["op", "idempotency_key"])
      .where("idempotency_key", "like", `case:${caseId}:%`)
      .execute();
    assert.equal(requests.filter((r) => r.op === "void").length, 1);
    assert.equal(requests.filter((r) => r.op === "refund").length, 2);

    // The redeemed card's value is locked out of the mule's wallet; the six unredeemed go back to issuance.
    assert.equal(await balance(t, `wallet:${mule.accountId}`), 0);
    const actions = await caseActions(t, caseId);
    assert.equal(actions.filter((a) => a.action === "cancel").length, 4);
    assert.equal(actions.filter((a) => a.object_type === "gift_card" && a.action === "void").length, 7);
    assert.equal(actions.filter((a) => a.action === "lock").length, 1);
    assert.ok(actions.find((a) => a.object_id === shipped.json().id)?.note?.includes("shipped: recall"));
    assert.equal(await ledgerSum(t), sumBefore);
    assert.equal(await ledgerSum(t), 0);
    assert.equal(await webhookCount(t, caseId, "order.cancelled"), 4);
    assert.equal(await webhookCount(t, caseId, "payment.voided"), 1);
    assert.equal(await webhookCount(t, caseId, "payment.refunded"), 2);
    assert.equal(await webhookCount(t, caseId, "gift_card.voided"), 7);
    assert.equal(await webhookCount(t, caseId, "gift_card.locked"), 1);

    // The store cannot capture or ship a cancelled order afterwards.
    const cap = await t.call("POST", `/v1/commerce/orders/${authorized.json().id}/capture`, {});
    assert.equal(cap.json().error.code, "order_state_invalid");
  });
});
