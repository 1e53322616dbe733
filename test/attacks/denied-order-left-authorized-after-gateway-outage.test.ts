import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { PaymentGateway } from "../../src/commerce/gateway.ts";
import type { RequestContext } from "../../src/shared/context.ts";
import { makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";
import { giftCardBurst, shopper } from "../commerce/helpers.ts";

// Support denies a held gift-card order bought from a stolen browser while the card gateway is down. The refusal is
// recorded (nothing will ever be captured), but the authorisation stays open on the owner's card. Before, asking
// again answered hold_already_decided and nothing could let the money go; now denying again finishes the void, once.
const STOLEN_BROWSER_JP: RequestContext = { ...TOKYO, ip: "126.200.3.5" };

describe("denied-order-left-authorized-after-gateway-outage", () => {
  let t: TestApp;
  let down = false;
  const voids: string[] = [];
  before(async () => {
    t = await makeTestApp(undefined, undefined, {
      risk: "default",
      gateway: (g): PaymentGateway => ({
        ...g,
        name: g.name,
        describeToken: (x) => g.describeToken(x),
        authorize: (r) => g.authorize(r),
        capture: (r) => g.capture(r),
        async void(r) {
          if (down) return { ok: false, declineCode: "processing_error" };
          voids.push(r.idempotencyKey);
          return g.void(r);
        },
        async refund(r) {
          if (down) return { ok: false, declineCode: "processing_error" };
          return g.refund(r);
        },
      }),
    });
  });
  after(() => t.close());

  it("a second denial voids the authorisation the first could not, and a third is refused", async () => {
    const owner = await shopper(t, "outage@example.jp");
    t.clock.advance(86_400_000);
    const atk = await t.signIn("outage@example.jp", STRONG, STOLEN_BROWSER_JP);
    await giftCardBurst(t, atk.session.token, owner.instrumentId, 4);
    const admin = { auth: await t.adminToken() };
    const queue = await t.call("GET", `/v1/admin/holds?accountId=${owner.accountId}`, undefined, admin);
    const held = queue.json().items as { id: string; objectId: string }[];
    assert.ok(held.length >= 1, queue.body);
    const h = held[0]!;
    const payment = () =>
      t.app.database.db
        .selectFrom("payments")
        .select(["status"])
        .where("order_id", "=", h.objectId)
        .executeTakeFirstOrThrow();
    assert.equal((await payment()).status, "authorized");

    down = true;
    const first = await t.call("POST", `/v1/admin/holds/${h.id}/deny`, { reason: "stolen browser" }, admin);
    assert.equal(first.statusCode, 402, first.body);
    assert.equal(first.json().error.code, "payment_failed");
    const order = await t.app.database.db
      .selectFrom("orders")
      .select("status")
      .where("id", "=", h.objectId)
      .executeTakeFirstOrThrow();
    assert.equal(order.status, "cancelled", "the refusal is recorded: nothing will be captured");
    assert.equal((await payment()).status, "authorized", "but the money is still held on her card");

    down = false;
    const second = await t.call("POST", `/v1/admin/holds/${h.id}/deny`, { reason: "retry after outage" }, admin);
    assert.equal(second.statusCode, 200, second.body);
    assert.equal((await payment()).status, "voided");
    const third = await t.call("POST", `/v1/admin/holds/${h.id}/deny`, { reason: "again" }, admin);
    assert.equal(third.statusCode, 409);
    assert.equal(third.json().error.code, "hold_already_decided");
    assert.equal(voids.filter((k) => k.includes(h.objectId)).length, 1, "voided once");
    const approve = await t.call("POST", `/v1/admin/holds/${h.id}/approve`, { reason: "changed my mind" }, admin);
    assert.equal(approve.statusCode, 409, "a denied hold cannot be approved later");
  });
});
