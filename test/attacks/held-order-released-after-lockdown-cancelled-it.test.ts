import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RequestContext } from "../../src/shared/context.ts";
import { makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";
import { giftCardBurst, shopper } from "../commerce/helpers.ts";

// An agent opens the queue, a lead locks the account down meanwhile (the lockdown voids the held orders' payments and
// cancels them), then the agent clicks "approve" on the page still open: the late approval must not capture or issue
// anything for an order the lockdown already cancelled, and a held listing the lockdown took down stays down.
const STOLEN_BROWSER_JP: RequestContext = { ...TOKYO, ip: "126.200.3.5" };

describe("held-order-released-after-lockdown-cancelled-it", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
  });
  after(() => t.close());

  it("a late approval of a cancelled held order is refused (hold_lapsed): no capture, no card", async () => {
    const owner = await shopper(t, "late@example.jp");
    t.clock.advance(86_400_000);
    const breakIn = t.clock.now();
    const atk = await t.signIn("late@example.jp", STRONG, STOLEN_BROWSER_JP);
    await giftCardBurst(t, atk.session.token, owner.instrumentId, 4);
    const queue = await t.call("GET", `/v1/admin/holds?accountId=${owner.accountId}`, undefined, {
      auth: await t.adminToken(),
    });
    const held = queue.json().items as { id: string; objectId: string }[];
    assert.equal(held.length, 2);

    const lock = await t.call(
      "POST",
      `/v1/admin/accounts/${owner.accountId}/lockdown`,
      { reason: "gift card burst", since: new Date(breakIn).toISOString() },
      { auth: await t.adminToken() },
    );
    assert.equal(lock.statusCode, 200, lock.body);

    for (const h of held) {
      const late = await t.call(
        "POST",
        `/v1/admin/holds/${h.id}/approve`,
        { reason: "looked fine" },
        { auth: await t.adminToken() },
      );
      assert.equal(late.statusCode, 409, late.body);
      assert.equal(late.json().error.code, "hold_lapsed");
      const o = await t.app.database.db
        .selectFrom("orders")
        .select("status")
        .where("id", "=", h.objectId)
        .executeTakeFirstOrThrow();
      assert.equal(o.status, "cancelled");
      const captures = await t.app.database.db
        .selectFrom("gateway_requests")
        .select("idempotency_key")
        .where("op", "=", "capture")
        .where("idempotency_key", "like", `order:${h.objectId}:%`)
        .execute();
      assert.equal(captures.length, 0);
      const cards = await t.app.database.db
        .selectFrom("gift_cards")
        .select("id")
        .where("order_id", "=", h.objectId)
        .execute();
      assert.equal(cards.length, 0);
      const row = await t.app.database.db
        .selectFrom("commerce_holds")
        .select(["status", "decided_by"])
        .where("id", "=", h.id)
        .executeTakeFirstOrThrow();
      assert.deepEqual(row, { status: "lapsed", decided_by: "system" });
    }
    // Nothing waits in the queue for an order that no longer exists as held, and a second try says so.
    const after = await t.call("GET", `/v1/admin/holds?accountId=${owner.accountId}`, undefined, {
      auth: await t.adminToken(),
    });
    assert.equal(after.json().items.length, 0);
    const again = await t.call(
      "POST",
      `/v1/admin/holds/${held[0]!.id}/deny`,
      { reason: "too late" },
      { auth: await t.adminToken() },
    );
    assert.equal(again.json().error.code, "hold_already_decided");
    // A staff member's approval of a frozen account's hold is refused too: checked before the object moves.
    const staff = await t.app.database.db
      .selectFrom("staff_events")
      .select("type")
      .where("type", "in", ["support.hold_approved", "support.hold_denied"])
      .execute();
    assert.equal(staff.length, 0, "no decision was recorded as taken");
  });

  it("a held listing stays held when its seller sets it active, until support decides", async () => {
    const seller = await shopper(t, "seller-held@example.jp");
    // A dormant seller's fifth far-below-market listing in a day (seed 002): held by the default policy.
    await t.call("POST", "/v1/commerce/products", { id: "cam-held", title: "Camera", marketPrice: 120_000 });
    t.clock.advance(200 * 86_400_000);
    const s = await t.signIn("seller-held@example.jp", STRONG, STOLEN_BROWSER_JP);
    assert.equal(s.status, "signed_in", JSON.stringify(s));
    const statuses: string[] = [];
    let l = undefined as unknown as Awaited<ReturnType<TestApp["call"]>>;
    for (let i = 0; i < 5; i++) {
      l = await t.call(
        "POST",
        "/v1/commerce/listings",
        { title: `Camera ${i}`, price: 20_000, quantity: 5, productId: "cam-held" },
        { session: s.session.token },
      );
      assert.equal(l.statusCode, 201, l.body);
      statuses.push(l.json().status);
    }
    assert.deepEqual(statuses, ["active", "active", "active", "active", "held"]);
    const put = await t.call(
      "POST",
      `/v1/commerce/listings/${l.json().id}`,
      { status: "active" },
      { session: s.session.token },
    );
    assert.equal(put.json().status, "held", put.body);
    const q = await t.call("GET", `/v1/admin/holds?accountId=${seller.accountId}`, undefined, {
      auth: await t.adminToken(),
    });
    const hold = q.json().items.find((x: { objectId: string }) => x.objectId === l.json().id);
    assert.ok(hold, q.body);
    const denied = await t.call(
      "POST",
      `/v1/admin/holds/${hold.id}/deny`,
      { reason: "far below market" },
      { auth: await t.adminToken() },
    );
    assert.equal(denied.statusCode, 200, denied.body);
    const row = await t.app.database.db
      .selectFrom("listings")
      .select("status")
      .where("id", "=", l.json().id)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, "taken_down");
  });
});
