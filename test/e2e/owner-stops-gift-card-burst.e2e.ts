import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { STRONG, STRONG3 } from "../../src/testing/app.ts";
import { type BrowserContext, browserSkip } from "./browser.ts";
import {
  ATTACKER_TW,
  addToCart,
  breakIn,
  checkout,
  checkPage,
  mainText,
  OWNER_PHONE,
  openStage,
  type Stage,
  sessionActive,
  shopSignIn,
  shopSignUp,
  shopToken,
} from "./stage.ts";

const skip = browserSkip();

// Seed 003: sign-in codes she never asked for had arrived; then seven ¥2,500 gift cards were bought on her card within
// minutes, and her orders were where she could not see them. Here the stranger in Taiwan relays the code Mamori mailed
// her, buys seven 3,000円 gift cards in his own browser; the policy holds the burst from the third on. On her phone
// she sees all seven in her order history (nothing hidden), opens 「セキュリティ」 and presses 私ではない: he is out,
// every order is cancelled — the charged ones refunded, the held ones never charged — and the issued cards are void.
describe("owner stops a gift card burst from her phone (seed 003, real browser)", { skip }, () => {
  let s: Stage;
  before(async () => {
    s = await openStage();
  });
  after(async () => {
    await s?.close();
  });

  it("the unasked code, seven gift cards (five held), 私ではない, and nothing stays charged", async () => {
    const email = "yamamoto.burst@example.jp";
    const drop = "cards@drop.example";
    const { m } = s;
    const owner = await s.person(OWNER_PHONE);
    let attacker: BrowserContext | undefined;
    try {
      const her = await owner.newPage();
      await shopSignUp(s, her, email, STRONG);
      await addToCart(s, her, "静岡の煎茶 100g");
      await checkout(s, her, {
        address: { name: "山本 由美", postalCode: "150-0001", city: "東京都渋谷区", line1: "神宮前1-2-3" },
      });
      m.t.clock.advance(7 * 86_400_000);

      // The stranger tries her password from Taiwan (and, refused there, through a proxy in Japan); Mamori asks for a
      // code, mailed to her — the code she never asked for — which his phishing relay captures (seed 003: tools that
      // bypass the second step). Or it lets him in and tells her of the new device: either way she is told.
      const broke = await breakIn(s, ATTACKER_TW, email, STRONG);
      attacker = broke.ctx;
      const him = broke.page;
      const stolenToken = await shopToken(s, attacker);

      // Seven gift cards within minutes, on her saved card, to his drop address.
      const results: { orderId: string; flash: string }[] = [];
      for (let i = 0; i < 7; i++) {
        await addToCart(s, him, "ギフト券 3,000円");
        results.push(await checkout(s, him, { giftRecipient: drop }));
        m.t.clock.advance(30_000);
      }
      assert.deepEqual(
        results.map((r) => r.flash),
        ["ok", "ok", "held", "held", "held", "held", "held"],
        "the default policy holds the burst from the third gift card in ten minutes",
      );
      assert.match(await mainText(him), /安全のため確認中です/);
      await checkPage(him, "story-003-attacker-held", { lang: "ja" });

      // On her phone: the order history shows every one of them, the held ones too.
      await her.goto(`${s.shopUrl}/orders`);
      const mine = await mainText(her);
      assert.equal((mine.match(/ギフト券 3,000円 × 1/g) ?? []).length, 7, "all seven are in her history");
      assert.equal((mine.match(/確認中（保留）/g) ?? []).length, 5);
      await checkPage(her, "story-003-owner-orders-before");

      // 「セキュリティ」: the stranger's session in Taiwan, and 私ではない on it.
      await her.getByRole("link", { name: "セキュリティ" }).click();
      await her.waitForLoadState();
      assert.equal(await her.textContent("h1"), "セキュリティセンター");
      assert.match(await mainText(her), broke.via === "abroad" ? /台湾/ : /日本/, "where the stranger is, in Japanese");
      // the security center lists her orders too, the held ones with them (nothing hidden: seed 003)
      assert.equal(await her.locator("li.card.order.status-on_hold").count(), 5, "the five held orders are shown");
      await checkPage(her, "story-003-security-center");
      await her.locator("li.card.session:not(.current)").getByRole("button", { name: "私ではない" }).click();
      await her.waitForLoadState();
      assert.equal(await her.textContent("h1"), "アカウントを保護しました");
      await checkPage(her, "story-003-protected");
      await s.deliverWebhooks();

      // He is out: his next page is the sign-in form, and a sign-in gets no code now.
      assert.equal(await sessionActive(s, stolenToken), false);
      await him.goto(`${s.shopUrl}/gift-cards`);
      assert.equal(new URL(him.url()).pathname, "/signin");
      const again = await shopSignIn(s, him, email, STRONG);
      assert.ok(!again.signedIn && !again.codeMailed, "frozen: no code, no way in");

      // She recovers (played in full by victim-recovers-after-not-me) and reads her orders: every gift card order is
      // cancelled by Mamori, the two issued cards are void, and nothing is charged.
      await m.t.recover(email, STRONG3);
      assert.ok((await shopSignIn(s, her, email, STRONG3)).signedIn);
      await her.goto(`${s.shopUrl}/orders`);
      for (const r of results) {
        const card = (await her.locator(`#order-${r.orderId}`).textContent()) ?? "";
        assert.match(card, /不正利用の疑いで取り消され/, `order ${r.orderId}`);
        assert.match(card, r.flash === "ok" ? /返金済み[\s\S]*無効/ : /キャンセル/, `order ${r.orderId}: ${card}`);
      }
      await checkPage(her, "story-003-owner-orders-after");
      const token = await shopToken(s, owner);
      let charged = 0;
      for (const r of results) {
        const o = (await m.t.call("GET", `/v1/commerce/orders/${r.orderId}`, undefined, { session: token })).json();
        for (const p of o.payments) charged += (p.capturedAmount ?? 0) - (p.refundedAmount ?? 0);
      }
      assert.equal(charged, 0, "nothing the stranger bought stays charged");
    } finally {
      await owner.close();
      await attacker?.close();
    }
  });
});
