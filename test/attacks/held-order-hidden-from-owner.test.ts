import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RequestContext } from "../../src/shared/context.ts";
import { makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";
import { shopper } from "../commerce/helpers.ts";
import { openPortal, textOf } from "../portal/helpers.ts";

// Seed 003: the gift cards bought with her account were "hidden orders" — held or cancelled ones the store's order
// list left out, which only the card company could show her, weeks later. The security center shows every order of
// the account, whatever its state, with where it was placed from; and "Not me" on one is the lockdown.
const STOLEN_BROWSER_JP: RequestContext = { ...TOKYO, ip: "126.200.3.4" };
const giftCard = (instrumentId: string) => ({
  items: [
    {
      category: "gift_card",
      sku: "gc-2500",
      title: "デジタルギフト券",
      quantity: 1,
      unitPrice: 2500,
      recipientEmail: "drop@attacker.example",
    },
  ],
  payment: { method: "instrument", instrumentId },
});

describe("held-order-hidden-from-owner", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
  });
  after(() => t.close());

  it("held, placed and cancelled orders are all on her page, in plain words, and 私ではない on one locks down", async () => {
    const owner = await shopper(t, "hidden-orders@example.jp");
    t.clock.advance(86_400_000);
    const atk = await t.signIn("hidden-orders@example.jp", STRONG, STOLEN_BROWSER_JP);
    assert.equal(atk.status, "signed_in", JSON.stringify(atk));
    const ids: string[] = [];
    const statuses: string[] = [];
    for (let i = 0; i < 4; i++) {
      t.clock.advance(60_000);
      const r = await t.call("POST", "/v1/commerce/orders", giftCard(owner.instrumentId), {
        session: atk.session.token,
      });
      assert.equal(r.statusCode, 201, r.body);
      ids.push(r.json().id);
      statuses.push(r.json().status);
    }
    assert.deepEqual(statuses, ["placed", "placed", "on_hold", "on_hold"]);
    // The attacker cancels one himself, so it would vanish from a list of open orders.
    const gone = await t.call("POST", `/v1/commerce/orders/${ids[3]}/cancel`, {}, { session: atk.session.token });
    assert.equal(gone.statusCode, 200, gone.body);

    const b = await openPortal(t, owner.token);
    const page = await b.get("/portal/?lang=ja");
    assert.equal(page.statusCode, 200);
    const text = textOf(page.body);
    for (const id of ids) assert.match(page.body, new RegExp(id), `order ${id} is listed`);
    assert.match(text, /確認中/, "the held order is named as held");
    assert.match(text, /まだ請求されておらず、ギフト券も発行されていません/, "and what held means for her money");
    assert.match(text, /キャンセル済み/);
    assert.match(text, /2,500円/);
    assert.match(
      text,
      /•••• \w{4} 2,500円（未使用） 送り先: drop@attacker\.example/,
      "the cards that left, and to whom",
    );
    assert.match(
      text,
      /注文した端末 Chrome 120 \/ Windows 10 · 日本/,
      "the device and country of the session that ordered",
    );

    // 私ではない on the held order: the lockdown, which voids what was held and cancels the stranger's orders.
    const done = await b.post("/portal/not-me", { kind: "order", ref: ids[2]!, at: new Date(0).toISOString() });
    assert.equal(done.statusCode, 200, done.body);
    assert.match(done.body, /アカウントを保護しました/);
    assert.equal((await t.app.identity.getAccount(owner.accountId)).status, "frozen");
    const reported = await t.app.database.db
      .selectFrom("events")
      .select("data")
      .where("account_id", "=", owner.accountId)
      .where("type", "=", "not_me.reported")
      .executeTakeFirstOrThrow();
    assert.match(String(reported.data), new RegExp(`order:${ids[2]}`));
    const out = await t.call("POST", "/v1/sessions/introspect", { token: atk.session.token });
    assert.equal(out.json().active, false, "the stranger is signed out");
  });

  it("another account's orders never show", async () => {
    const a = await shopper(t, "orders-a@example.jp");
    const other = await shopper(t, "orders-b@example.jp");
    const placed = await t.call("POST", "/v1/commerce/orders", giftCard(other.instrumentId), {
      session: other.token,
    });
    assert.equal(placed.statusCode, 201, placed.body);
    const page = await (await openPortal(t, a.token)).get();
    assert.doesNotMatch(page.body, new RegExp(placed.json().id));
    assert.match(page.body, /注文はありません|No orders/);
  });
});
