import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { balance, caseActions, ledgerSum, openCase, shopper, webhookCount } from "../commerce/helpers.ts";

const codeIn = (body = "") => body.match(/[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/)?.[0] ?? "";

// Seed 004: a ¥20,000 gift card sent to the owner's email was redeemed into a stranger's account within an hour; the
// shop locked the balance but never gave it back. recoverGiftCards locks what remains and re-credits the owner.
describe("gift-card-redeemed-by-stranger", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("locks the stranger's balance and re-credits the owner exactly once; attacker redemptions here go back", async () => {
    const friend = await shopper(t, "friend@example.jp");
    const owner = await t.signUp("victim004@example.jp");
    await t.verifyEmail(owner.token, "victim004@example.jp");
    const since = t.clock.now();
    // A friend sends the owner a ¥20,000 card; the attacker reads the owner's mail and redeems it elsewhere.
    const gift = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [
          {
            category: "gift_card",
            sku: "gc",
            title: "Gift",
            quantity: 1,
            unitPrice: 20_000,
            recipientEmail: "victim004@example.jp",
          },
        ],
        payment: { method: "instrument", instrumentId: friend.instrumentId },
      },
      { session: friend.token },
    );
    assert.equal(gift.statusCode, 201, gift.body);
    const code = codeIn((await t.lastMail("victim004@example.jp", "gift_card_delivered"))?.body);
    const stranger = await t.signUp("stranger@attacker.example", STRONG, ATTACKER);
    assert.equal(
      (await t.call("POST", "/v1/commerce/gift-cards/redeem", { code }, { session: stranger.token })).statusCode,
      200,
    );
    // The stranger spends ¥5,000 of it on something.
    const spend = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [{ category: "digital", sku: "d", title: "D", quantity: 1, unitPrice: 5000 }],
        payment: { method: "gift_balance" },
      },
      { session: stranger.token },
    );
    assert.equal(spend.json().status, "placed", spend.body);

    // (b) The attacker, in the owner's account, redeems the friend's card meant for the friend.
    const gift2 = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [
          {
            category: "gift_card",
            sku: "gc",
            title: "Gift",
            quantity: 1,
            unitPrice: 3000,
            recipientEmail: "friend@example.jp",
          },
        ],
        payment: { method: "instrument", instrumentId: friend.instrumentId },
      },
      { session: friend.token },
    );
    assert.equal(gift2.statusCode, 201);
    const code2 = codeIn((await t.lastMail("friend@example.jp", "gift_card_delivered"))?.body);
    const atk = await t.signIn("victim004@example.jp", STRONG, ATTACKER);
    assert.equal(
      (await t.call("POST", "/v1/commerce/gift-cards/redeem", { code: code2 }, { session: atk.session.token }))
        .statusCode,
      200,
    );

    const sum = await ledgerSum(t);
    const caseId = await openCase(t, owner.accountId);
    const step = {
      caseId,
      step: "recover_gift_cards",
      accountId: owner.accountId,
      since,
      sessionIds: [atk.session.id],
    };
    await t.app.commerceResponder.recoverGiftCards(step);
    await t.app.commerceResponder.recoverGiftCards(step);

    assert.equal(await balance(t, `wallet:${stranger.accountId}`), 0, "what remained is locked");
    // Owner: re-credited the ¥15,000 that remained; the ¥3,000 the attacker redeemed here went to the friend.
    assert.equal(await balance(t, `wallet:${owner.accountId}`), 15_000);
    assert.equal(await balance(t, `wallet:${friend.accountId}`), 3000);
    const actions = await caseActions(t, caseId);
    assert.equal(actions.filter((a) => a.action === "lock").length, 2);
    assert.equal(actions.filter((a) => a.action === "recredit").length, 2);
    assert.match(actions.find((a) => a.action === "lock" && a.note)?.note ?? "", /shortfall 5000/);
    assert.equal(await webhookCount(t, caseId, "gift_card.locked"), 2);
    assert.equal(await webhookCount(t, caseId, "wallet.recredited"), 2);
    assert.equal(await ledgerSum(t), sum);
    const wallet = await t.call("GET", "/v1/commerce/wallet", undefined, { session: owner.token });
    assert.equal(wallet.json().balance, 15_000);
    // Support finds the accounts behind the code.
    const found = await t.app.commerceResponder.findByOrderOrGiftCard(code.toLowerCase());
    assert.deepEqual(found && [found.kind, found.accountId], ["gift_card", friend.accountId]);
  });
});
