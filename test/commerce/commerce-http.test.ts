import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MINUTE } from "../../src/shared/clock.ts";
import { ATTACKER, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { ADDRESS, shopper } from "./helpers.ts";

describe("commerce over HTTP", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("an order from a revoked session is refused", async () => {
    const owner = await shopper(t, "rev@example.jp");
    const atk = await t.signIn("rev@example.jp", STRONG, ATTACKER);
    const out = await t.call("POST", "/v1/sessions/sign-out-everywhere", {}, { session: owner.token });
    assert.equal(out.statusCode, 200, out.body);
    const r = await t.call(
      "POST",
      "/v1/commerce/orders",
      { items: [{ category: "digital", sku: "x", title: "X", quantity: 1, unitPrice: 100 }] },
      { session: atk.session.token },
    );
    assert.equal(r.statusCode, 401);
    assert.equal(r.json().error.code, "session_invalid");
  });

  it("adding an address needs a fresh sign-in; with one, every verified address is told", async () => {
    const u = await t.signUp("addr@example.jp");
    await t.verifyEmail(u.token, "addr@example.jp");
    t.clock.advance(11 * MINUTE);
    const stale = await t.call("POST", "/v1/commerce/addresses", ADDRESS, { session: u.token });
    assert.equal(stale.statusCode, 403, stale.body);
    assert.equal(stale.json().error.code, "reauthentication_required");
    const fresh = await t.signIn("addr@example.jp", STRONG);
    const ok = await t.call("POST", "/v1/commerce/addresses", ADDRESS, { session: fresh.session.token });
    assert.equal(ok.statusCode, 201, ok.body);
    const mail = await t.lastMail("addr@example.jp", "address_added");
    assert.ok(mail, "notice sent");
    assert.match(mail.body, /Shibuya/);
    assert.match(mail.body, /If this wasn't you, click here: http:\/\/mamori\.test\/links\/not-me\?t=/);
    const list = await t.call("GET", "/v1/commerce/addresses", undefined, { session: fresh.session.token });
    assert.equal(list.json().addresses.length, 1);
  });

  it("a card number is never accepted; a gateway token is, and the owner is told", async () => {
    const u = await t.signUp("pan@example.jp");
    for (const body of [
      { token: "tok_visa", number: "4242 4242 4242 4242" },
      { token: "4242424242424242" },
      { token: "tok_visa", billingCountry: "JP", cvc: "123" },
    ]) {
      const r = await t.call("POST", "/v1/commerce/payment-instruments", body, { session: u.token });
      assert.equal(r.statusCode, 400, r.body);
      assert.ok(!r.body.includes("4242424242424242") && !r.body.includes("4242 4242"), "never echoed");
    }
    const unknown = await t.call(
      "POST",
      "/v1/commerce/payment-instruments",
      { token: "tok_nope" },
      { session: u.token },
    );
    assert.equal(unknown.json().error.code, "payment_token_invalid");
    const ok = await t.call(
      "POST",
      "/v1/commerce/payment-instruments",
      { token: "tok_mastercard" },
      { session: u.token },
    );
    assert.equal(ok.statusCode, 201, ok.body);
    assert.deepEqual([ok.json().brand, ok.json().last4], ["mastercard", "4444"]);
    assert.ok(await t.lastMail("pan@example.jp", "payment_instrument_added"));
    const row = await t.app.database.db
      .selectFrom("payment_instruments")
      .selectAll()
      .where("id", "=", ok.json().id)
      .executeTakeFirstOrThrow();
    assert.equal(row.gateway_token, "tok_mastercard");
  });

  it("bad input is a 400 with a code, never a 5xx", async () => {
    const u = await t.signUp("bad@example.jp");
    for (const body of [
      {},
      { items: [] },
      { items: [{ category: "digital", sku: "x", title: "X", quantity: 1, unitPrice: -5 }] },
      { items: [{ category: "digital", sku: "x", title: "X", quantity: 1, unitPrice: 1.5 }] },
      { items: [{ category: "digital", sku: "x", title: "X", quantity: 1, unitPrice: 99_999_999_999 }] },
      { items: [{ category: "digital", sku: "x", title: "X", quantity: 1 }] },
      { items: [{ category: "physical", sku: "x", title: "X", quantity: 1, unitPrice: 100 }] },
      { items: [{ category: "digital", sku: "x", title: "X", quantity: 100, unitPrice: 10_000_000 }] },
    ]) {
      const r = await t.call("POST", "/v1/commerce/orders", body, { session: u.token });
      assert.equal(r.statusCode, 400, `${JSON.stringify(body)} → ${r.body}`);
      assert.ok(r.json().error.code);
    }
  });

  it("a frozen account cannot order, redeem or change anything (423 account_frozen)", async () => {
    const u = await shopper(t, "frozen@example.jp");
    await t.app.database.db.updateTable("accounts").set({ status: "frozen" }).where("id", "=", u.accountId).execute();
    const calls: [string, string, unknown][] = [
      [
        "POST",
        "/v1/commerce/orders",
        { items: [{ category: "digital", sku: "x", title: "X", quantity: 1, unitPrice: 100 }] },
      ],
      ["POST", "/v1/commerce/gift-cards/redeem", { code: "ABCD-EFGH-JKMN-PQRS" }],
      ["POST", "/v1/commerce/addresses", ADDRESS],
      ["POST", "/v1/commerce/payment-instruments", { token: "tok_visa" }],
      ["POST", "/v1/commerce/settings", { keepCards: false }],
      ["POST", "/v1/commerce/listings", { title: "Phone", price: 1000, quantity: 1 }],
      ["DELETE", `/v1/commerce/payment-instruments/${u.instrumentId}`, undefined],
    ];
    for (const [method, url, body] of calls) {
      const r = await t.call(method as "POST", url, body, { session: u.token });
      assert.equal(r.statusCode, 423, `${url}: ${r.body}`);
      assert.equal(r.json().error.code, "account_frozen");
    }
    const rows = await t.app.database.db
      .selectFrom("orders")
      .select("id")
      .where("account_id", "=", u.accountId)
      .execute();
    assert.equal(rows.length, 0);
  });

  it("a seller sees the buyer's name, address and phone masked until the order ships", async () => {
    const seller = await t.signUp("seller@example.jp");
    const listing = await t.call(
      "POST",
      "/v1/commerce/listings",
      { title: "Game console", price: 20_000, quantity: 5 },
      { session: seller.token },
    );
    assert.equal(listing.statusCode, 201, listing.body);
    const buyer = await shopper(t, "buyer@example.jp");
    const addr = await t.call("POST", "/v1/commerce/addresses", ADDRESS, { session: buyer.token });
    const o = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [{ listingId: listing.json().id, quantity: 1 }],
        addressId: addr.json().id,
        payment: { method: "instrument", instrumentId: buyer.instrumentId },
      },
      { session: buyer.token },
    );
    assert.equal(o.statusCode, 201, o.body);
    assert.equal(o.json().total, 20_000, "price from the listing");
    const seen = await t.call("GET", "/v1/commerce/seller/orders", undefined, { session: seller.token });
    const b = seen.json().orders[0].buyer;
    assert.deepEqual(
      { masked: b.masked, name: b.name, phone: b.phone, city: b.city, line1: b.line1, postalCode: b.postalCode },
      { masked: true, name: "山田 *", phone: "***-****-5678", city: "Shibuya", line1: null, postalCode: null },
    );
    assert.ok(!seen.body.includes("太郎") && !seen.body.includes("Jingumae"));
    await t.call("POST", `/v1/commerce/orders/${o.json().id}/ship`, {});
    const shipped = (await t.call("GET", "/v1/commerce/seller/orders", undefined, { session: seller.token })).json()
      .orders[0].buyer;
    assert.equal(shipped.masked, false);
    assert.equal(shipped.name, "山田 太郎");
    // A seller cannot buy from their own listing.
    const own = await t.call(
      "POST",
      "/v1/commerce/orders",
      { items: [{ listingId: listing.json().id, quantity: 1 }] },
      { session: seller.token },
    );
    assert.equal(own.json().error.code, "own_listing");
  });

  it('"don\'t keep my card" removes the card after the order it paid for', async () => {
    const u = await shopper(t, "nokeep@example.jp");
    await t.call("POST", "/v1/commerce/settings", { keepCards: false }, { session: u.token });
    const o = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [{ category: "digital", sku: "x", title: "X", quantity: 1, unitPrice: 100 }],
        payment: { method: "instrument", instrumentId: u.instrumentId },
      },
      { session: u.token },
    );
    assert.equal(o.json().status, "placed");
    const list = await t.call("GET", "/v1/commerce/payment-instruments", undefined, { session: u.token });
    assert.deepEqual(list.json(), { instruments: [], keepCards: false });
  });

  it("a declined card or an over-limit prepaid card leaves the order pending with the decline code", async () => {
    const u = await shopper(t, "prepaid@example.jp", "tok_prepaid_low");
    const o = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [{ category: "digital", sku: "x", title: "X", quantity: 1, unitPrice: 5000 }],
        payment: { method: "instrument", instrumentId: u.instrumentId },
      },
      { session: u.token },
    );
    assert.equal(o.json().status, "pending_payment");
    assert.equal(o.json().payments[0].declineCode, "insufficient_funds");
  });
});
