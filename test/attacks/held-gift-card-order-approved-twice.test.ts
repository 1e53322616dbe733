import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RequestContext } from "../../src/shared/context.ts";
import { ATTACKER, makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";
import { shopper } from "../commerce/helpers.ts";

// Seed 003: an infostealer's copy of the owner's browser behind a Japanese proxy buys gift cards in a burst; the default
// policy holds the third and later. Two agents deciding one held order at once must not both act: one capture at most,
// the gift cards issued once, and an approval never racing a denial into "captured and voided".
const STOLEN_BROWSER_JP: RequestContext = { ...TOKYO, ip: "126.200.3.4" };

const giftCardOrder = (instrumentId: string, recipientEmail: string) => ({
  items: [{ category: "gift_card", sku: "gc-2500", title: "Gift card", quantity: 1, unitPrice: 2500, recipientEmail }],
  payment: { method: "instrument", instrumentId },
});

type Held = {
  id: string;
  kind: string;
  objectId: string;
  accountId: string;
  amount: number;
  createdAt: string;
  rules: { ruleId: string }[];
  session: { country: string | null; ip: string } | null;
};

describe("held-gift-card-order-approved-twice", () => {
  let t: TestApp;
  let owner: { accountId: string; instrumentId: string };
  let held: Held[];
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
    owner = await shopper(t, "held-burst@example.jp");
    t.clock.advance(86_400_000);
    const atk = await t.signIn("held-burst@example.jp", STRONG, STOLEN_BROWSER_JP);
    assert.equal(atk.status, "signed_in", JSON.stringify(atk));
    for (let i = 0; i < 7; i++) {
      t.clock.advance(60_000);
      const r = await t.call(
        "POST",
        "/v1/commerce/orders",
        giftCardOrder(owner.instrumentId, "drop@attacker.example"),
        {
          session: atk.session.token,
        },
      );
      assert.equal(r.statusCode, 201, r.body);
    }
    const q = await t.call("GET", `/v1/admin/holds?accountId=${owner.accountId}`, undefined, {
      auth: await t.adminToken(),
    });
    assert.equal(q.statusCode, 200, q.body);
    held = q.json().items;
  });
  after(() => t.close());

  const captures = async (orderId: string) =>
    (
      await t.app.database.db
        .selectFrom("gateway_requests")
        .select("idempotency_key")
        .where("op", "=", "capture")
        .where("idempotency_key", "like", `order:${orderId}:%`)
        .execute()
    ).length;
  const cardsOf = async (orderId: string) =>
    (await t.app.database.db.selectFrom("gift_cards").select("id").where("order_id", "=", orderId).execute()).length;
  const decide = async (id: string, verdict: "approve" | "deny", reason = "checked with the owner by phone") =>
    t.call("POST", `/v1/admin/holds/${id}/${verdict}`, { reason }, { auth: await t.adminToken() });

  it("the queue lists the five held orders oldest first, with the rules that fired and where they came from", () => {
    assert.equal(held.length, 5);
    assert.ok(held.every((h) => h.kind === "order" && h.accountId === owner.accountId && h.amount === 2500));
    const times = held.map((h) => Date.parse(h.createdAt));
    assert.deepEqual(
      times,
      [...times].sort((a, b) => a - b),
    );
    assert.ok(
      held.every((h) => h.rules.some((r) => r.ruleId === "giftcard_burst")),
      JSON.stringify(held[0]),
    );
    assert.equal(held[0]?.session?.ip, "126.200.3.4");
  });

  it("a decision needs a reason", async () => {
    const r = await decide(held[0]!.id, "approve", " ");
    assert.equal(r.statusCode, 400, r.body);
    const short = await decide(held[0]!.id, "deny", "no");
    assert.equal(short.statusCode, 400, short.body);
    assert.equal(short.json().error.code, "reason_required");
    assert.equal(await captures(held[0]!.objectId), 0);
  });

  it("two agents approving at once: one wins, one capture, one gift card", async () => {
    const h = held[0]!;
    const answers = await Promise.all([decide(h.id, "approve"), decide(h.id, "approve"), decide(h.id, "approve")]);
    const codes = answers.map((a) => a.statusCode).sort();
    assert.deepEqual(codes, [200, 409, 409], answers.map((a) => a.body).join("\n"));
    for (const a of answers.filter((x) => x.statusCode === 409)) {
      assert.equal(a.json().error.code, "hold_already_decided");
    }
    assert.equal(await captures(h.objectId), 1);
    assert.equal(await cardsOf(h.objectId), 1);
    const order = await t.app.database.db
      .selectFrom("orders")
      .select("status")
      .where("id", "=", h.objectId)
      .executeTakeFirstOrThrow();
    assert.equal(order.status, "placed");
    const charge = await t.app.database.db
      .selectFrom("payments")
      .select("status")
      .where("order_id", "=", h.objectId)
      .executeTakeFirstOrThrow();
    assert.equal(charge.status, "captured");
    // A decision is an event on the account's chain and a staff event.
    const evs = await t.app.database.db
      .selectFrom("events")
      .select(["type", "actor"])
      .where("account_id", "=", owner.accountId)
      .where("type", "=", "order.hold_released")
      .execute();
    assert.equal(evs.length, 1);
    assert.match(evs[0]!.actor, /^admin:/);
    const staff = await t.app.database.db
      .selectFrom("staff_events")
      .select(["type", "data"])
      .where("type", "=", "support.hold_approved")
      .execute();
    assert.equal(staff.length, 1);
    assert.match(staff[0]!.data, /checked with the owner by phone/);
  });

  it("approve and deny at once: exactly one acts, and the money ends in one consistent state", async () => {
    const h = held[1]!;
    const [a, d] = await Promise.all([decide(h.id, "approve"), decide(h.id, "deny")]);
    assert.deepEqual([a.statusCode, d.statusCode].sort(), [200, 409], `${a.body}\n${d.body}`);
    const order = await t.app.database.db
      .selectFrom("orders")
      .select("status")
      .where("id", "=", h.objectId)
      .executeTakeFirstOrThrow();
    const payment = await t.app.database.db
      .selectFrom("payments")
      .select("status")
      .where("order_id", "=", h.objectId)
      .executeTakeFirstOrThrow();
    if (a.statusCode === 200) {
      assert.deepEqual([order.status, payment.status, await cardsOf(h.objectId)], ["placed", "captured", 1]);
    } else {
      assert.deepEqual([order.status, payment.status, await cardsOf(h.objectId)], ["cancelled", "voided", 0]);
      assert.equal(await captures(h.objectId), 0);
    }
  });

  it("denied: the authorisation is voided, nothing is captured or issued, and the store hears order.cancelled", async () => {
    const h = held[2]!;
    const r = await decide(h.id, "deny", "burst from a stolen browser");
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().status, "denied");
    const payment = await t.app.database.db
      .selectFrom("payments")
      .select(["status", "gateway_ref"])
      .where("order_id", "=", h.objectId)
      .executeTakeFirstOrThrow();
    assert.equal(payment.status, "voided");
    const charge = await t.app.database.db
      .selectFrom("gateway_charges")
      .select("status")
      .where("ref", "=", payment.gateway_ref!)
      .executeTakeFirstOrThrow();
    assert.equal(charge.status, "voided");
    assert.equal(await captures(h.objectId), 0);
    assert.equal(await cardsOf(h.objectId), 0);
    const hook = await t.app.database.db
      .selectFrom("webhook_messages")
      .select("type")
      .where("object_id", "=", h.objectId)
      .execute();
    assert.deepEqual(
      hook.map((x) => x.type),
      ["order.cancelled"],
    );
    // Decided holds leave the queue; a second decision is refused.
    const again = await decide(h.id, "approve");
    assert.equal(again.json().error.code, "hold_already_decided");
    const q = await t.call("GET", `/v1/admin/holds?accountId=${owner.accountId}`, undefined, {
      auth: await t.adminToken(),
    });
    assert.ok(!q.json().items.some((x: Held) => x.id === h.id));
  });

  it("a held redemption: denied, the card stays its recipient's; approved, the balance is credited once", async () => {
    const friend = await shopper(t, "held-friend@example.jp");
    const mailbox = await shopper(t, "held-mailbox@example.jp");
    for (let i = 0; i < 2; i++) {
      const r = await t.call(
        "POST",
        "/v1/commerce/orders",
        giftCardOrder(friend.instrumentId, "held-mailbox@example.jp"),
        {
          session: (await t.signIn("held-friend@example.jp", STRONG)).session.token,
        },
      );
      assert.equal(r.statusCode, 201, r.body);
      assert.equal(r.json().status, "placed", r.body);
      t.clock.advance(11 * 60_000);
    }
    const codes = (await t.mails("held-mailbox@example.jp"))
      .filter((m) => m.template === "gift_card_delivered")
      .map((m) => m.body.match(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/)?.[0] ?? "");
    assert.equal(codes.length, 2);
    assert.notEqual(codes[0], codes[1]);
    t.clock.advance(30 * 60_000);
    const stranger = await t.signUp("held-stranger@attacker.example", STRONG, ATTACKER);
    for (const code of codes) {
      // Retried: one hold per card, not one per attempt.
      for (let i = 0; i < 2; i++) {
        const r = await t.call("POST", "/v1/commerce/gift-cards/redeem", { code }, { session: stranger.token });
        assert.equal(r.json().error?.code, "redemption_held", r.body);
      }
      // The queue is oldest first: holds[i] is codes[i]'s.
      t.clock.advance(1000);
    }
    const q = await t.call("GET", `/v1/admin/holds?accountId=${stranger.accountId}`, undefined, {
      auth: await t.adminToken(),
    });
    const holds: Held[] = q.json().items;
    assert.equal(holds.length, 2);
    assert.ok(holds.every((h) => h.kind === "redemption"));
    const denied = await decide(holds[0]!.id, "deny", "stranger read the mailbox");
    assert.equal(denied.statusCode, 200, denied.body);
    const mine = await t.call("POST", "/v1/commerce/gift-cards/redeem", { code: codes[0] }, { session: mailbox.token });
    assert.equal(mine.statusCode, 200, mine.body);
    assert.equal(mine.json().balance, 2500);

    const [x, y] = await Promise.all([
      decide(holds[1]!.id, "approve", "owner confirmed the gift"),
      decide(holds[1]!.id, "approve", "owner confirmed the gift"),
    ]);
    assert.deepEqual([x.statusCode, y.statusCode].sort(), [200, 409]);
    const wallet = await t.app.database.db
      .selectFrom("ledger_accounts")
      .select("balance")
      .where("id", "=", `wallet:${stranger.accountId}`)
      .executeTakeFirstOrThrow();
    assert.equal(Number(wallet.balance), 2500);
  });
});
