import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { ADDRESS, caseActions, openCase, shopper, webhookCount } from "../commerce/helpers.ts";

// Seed 002: a dormant seller account listed popular electronics far below market; buyers paid and their data went to
// the attacker. The lockdown takes the listings down, cancels and refunds every buyer once, tells each buyer in their
// language, and rolls the seller's commerce changes back to before the window.
describe("fraudulent-listing-from-dormant-seller", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("takes down, refunds, notifies once per buyer, and rolls back the attacker's changes", async () => {
    const seller = await shopper(t, "dormant@example.jp");
    const oldListing = await t.call(
      "POST",
      "/v1/commerce/listings",
      { title: "Old book", price: 800, quantity: 1 },
      { session: seller.token },
    );
    const since = t.clock.now() + 1;
    t.clock.advance(1000);
    await t.call("POST", "/v1/commerce/products", { id: "cam-x", title: "Camera X", marketPrice: 120_000 });
    const atk = await t.signIn("dormant@example.jp", STRONG, ATTACKER);
    const s = atk.session.token;
    const listing = await t.call(
      "POST",
      "/v1/commerce/listings",
      { title: "Camera X", price: 30_000, quantity: 20, productId: "cam-x" },
      { session: s },
    );
    assert.equal(listing.statusCode, 201, listing.body);
    const edited = await t.call("POST", `/v1/commerce/listings/${oldListing.json().id}`, { price: 1 }, { session: s });
    assert.equal(edited.statusCode, 200, edited.body);
    await t.call("POST", "/v1/commerce/settings", { keepCards: false }, { session: s });
    await t.call("POST", "/v1/commerce/addresses", { ...ADDRESS, name: "Drop" }, { session: s });
    await t.call("DELETE", `/v1/commerce/payment-instruments/${seller.instrumentId}`, undefined, { session: s });

    const buyers = [];
    for (const [email, lang] of [
      ["b1@example.jp", "ja"],
      ["b2@example.com", "en"],
    ] as const) {
      const b = await shopper(t, email);
      await t.app.database.db.updateTable("accounts").set({ language: lang }).where("id", "=", b.accountId).execute();
      const addr = await t.call("POST", "/v1/commerce/addresses", ADDRESS, { session: b.token });
      const o = await t.call(
        "POST",
        "/v1/commerce/orders",
        {
          items: [{ listingId: listing.json().id, quantity: 1 }],
          addressId: addr.json().id,
          payment: { method: "instrument", instrumentId: b.instrumentId },
        },
        { session: b.token },
      );
      assert.equal(o.statusCode, 201, o.body);
      buyers.push({ ...b, email, lang, orderId: o.json().id as string });
    }
    await t.call("POST", `/v1/commerce/orders/${buyers[0]!.orderId}/capture`, {});

    const caseId = await openCase(t, seller.accountId);
    const r = t.app.commerceResponder;
    for (let i = 0; i < 2; i++) {
      await r.takeDownListings({ caseId, step: "take_down", accountId: seller.accountId, since });
      await r.rollbackCommerce({
        caseId,
        step: "rollback",
        accountId: seller.accountId,
        since,
        actor: `case:${caseId}`,
      });
    }

    const l = await t.app.database.db
      .selectFrom("listings")
      .selectAll()
      .where("id", "=", listing.json().id)
      .executeTakeFirstOrThrow();
    assert.equal(l.status, "taken_down");
    for (const b of buyers) {
      const o = (await t.call("GET", `/v1/commerce/orders/${b.orderId}`, undefined, { session: b.token })).json();
      assert.ok(["cancelled", "refunded"].includes(o.status), o.status);
      const notices = (await t.mails(b.email)).filter((m) => m.template === "fraudulent_listing_refund");
      assert.equal(notices.length, 1, "told once");
      if (b.lang === "ja") assert.match(notices[0]!.body, /全額返金/);
      else assert.match(notices[0]!.body, /No payment will be taken/);
    }
    assert.equal(await webhookCount(t, caseId, "listing.taken_down"), 2, "the new and the edited listing");
    assert.equal(await webhookCount(t, caseId, "order.cancelled"), 2);

    // Rollback: the old listing's price is back, settings restored, the attacker's address removed, the card restored.
    const old = await t.app.database.db
      .selectFrom("listings")
      .selectAll()
      .where("id", "=", oldListing.json().id)
      .executeTakeFirstOrThrow();
    assert.equal(old.price, 800);
    const pi = await t.call("GET", "/v1/commerce/payment-instruments", undefined, { session: seller.token });
    assert.equal(pi.json().keepCards, true);
    assert.equal(pi.json().instruments.length, 1);
    const addrs = await t.call("GET", "/v1/commerce/addresses", undefined, { session: seller.token });
    assert.equal(addrs.json().addresses.length, 0);
    const rolled = (await caseActions(t, caseId)).filter((a) => a.action === "rollback");
    assert.deepEqual(rolled.map((a) => a.object_type).sort(), [
      "address",
      "commerce_settings",
      "listing",
      "payment_instrument",
    ]);
  });
});
