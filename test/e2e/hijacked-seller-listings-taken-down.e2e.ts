import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { codeIn, STRONG, STRONG2 } from "../../src/testing/app.ts";
import { type BrowserContext, browserSkip } from "./browser.ts";
import {
  ATTACKER_CN,
  BUYER_PHONE,
  breakIn,
  checkout,
  checkPage,
  consoleSignIn,
  mainText,
  openStage,
  type Stage,
  SUPPORT_DESK,
  sessionActive,
  shopSignUp,
  shopToken,
  supportAgent,
} from "./stage.ts";

const skip = browserSkip();

// Seed 002: a seller account left alone for a year was taken over; popular electronics were listed far below market,
// buyers paid, then called the seller, whose address support could not find the account under (the attacker had
// changed it). Here the stranger, from China in his own browser, changes the seller's address and lists earbuds at a
// quarter of their price; a buyer on her phone pays for a pair. The support agent finds the account by the seller's
// original address, and the lockdown takes the listing down — gone from the shop's front page — cancels the buyer's
// order with its payment, tells her in Japanese, signs the stranger out and gives the seller his address back.
describe("a hijacked seller's listings are taken down (seed 002, real browser)", { skip }, () => {
  let s: Stage;
  before(async () => {
    s = await openStage();
  });
  after(async () => {
    await s?.close();
  });

  it("found by the original address; listing down, buyer's payment voided and told, stranger out, address back", async () => {
    const seller = "hon.uri@example.jp";
    const hijacked = "fast.deals@mail.example";
    const buyerEmail = "yamada.buyer@example.jp";
    const { m } = s;
    const sellerPc = await s.person({ ip: "133.0.0.20", locale: "ja-JP" });
    const buyer = await s.person(BUYER_PHONE);
    const desk = await s.person(SUPPORT_DESK);
    let attacker: BrowserContext | undefined;
    try {
      // A year ago he listed an old book once, and never came back.
      const own = await sellerPc.newPage();
      await shopSignUp(s, own, seller, STRONG);
      await own.getByRole("link", { name: "出品", exact: true }).click();
      await own.getByLabel("商品名").fill("古本: 技術書");
      await own.getByLabel("価格（円）").fill("800");
      await own.getByRole("button", { name: "出品する" }).click();
      assert.match(await mainText(own), /出品しました/);
      await own.getByRole("button", { name: "ログアウト" }).click();
      m.t.clock.advance(365 * 86_400_000);

      // The stranger gets in, changes the address to his own, and lists earbuds at 2,980円 (catalogue 12,800円).
      const broke = await breakIn(s, ATTACKER_CN, seller, STRONG);
      attacker = broke.ctx;
      const him = broke.page;
      const token = await shopToken(s, attacker);
      const change = await m.t.call("POST", "/v1/email/change", { newEmail: hijacked }, { session: token });
      assert.ok([200, 202].includes(change.statusCode), change.body);
      const code = codeIn((await m.t.lastMail(hijacked, "email_change_code"))?.body);
      assert.equal((await m.t.call("POST", "/v1/email/change/confirm", { code }, { session: token })).statusCode, 200);
      await him.goto(`${s.shopUrl}/sell`);
      await him.getByLabel("商品名").fill("ワイヤレスイヤホン 新品");
      await him.getByLabel("カタログの商品（任意）").selectOption("earbuds");
      await him.getByLabel("価格（円）").fill("2980");
      await him.getByLabel("数量").fill("20");
      await him.getByRole("button", { name: "出品する" }).click();
      assert.match(await mainText(him), /出品しました/);
      await checkPage(him, "story-002-attacker-listing");

      // A buyer on her phone finds the bargain on the front page and pays for a pair.
      const b = await buyer.newPage();
      await shopSignUp(s, b, buyerEmail, STRONG2);
      await b.goto(`${s.shopUrl}/`);
      const bargain = b.locator("li.card", { hasText: "ワイヤレスイヤホン 新品" });
      assert.match((await bargain.textContent()) ?? "", /2,980円/);
      const href = (await bargain.getByRole("link", { name: "購入手続きへ" }).getAttribute("href")) ?? "";
      const listingId = new URL(href, s.shopUrl).searchParams.get("listing") ?? "";
      const order = await checkout(s, b, {
        listingId,
        address: { name: "山田 花子", postalCode: "460-0008", city: "愛知県名古屋市中区", line1: "栄1-2-3" },
      });
      assert.match(await mainText(b), /ワイヤレスイヤホン 新品 × 1/);

      // The seller hears from angry buyers and calls. The agent searches by the address he knows — his original one
      // — and finds the account, now under the stranger's address.
      const agent = await supportAgent(s);
      const console = await desk.newPage();
      await consoleSignIn(s, console, agent);
      await console.getByLabel(/メールアドレス・電話番号/).fill(seller);
      await console.getByRole("button", { name: "検索" }).click();
      assert.match(await mainText(console), /email · 過去/, "matched as a past address");
      await checkPage(console, "story-002-console-search");
      await console.getByRole("link", { name: hijacked }).click();
      await console.getByRole("link", { name: "ロックダウンの内容を確認する" }).click();
      const preview = await mainText(console);
      assert.match(preview, /取り下げる出品（[1-9]）/);
      assert.match(preview, /キャンセルする注文（1）/, "the buyer's order on the listing");
      await checkPage(console, "story-002-console-preview");
      await console
        .getByLabel(/理由/)
        .fill("購入者から苦情: 出品者本人は出品していない。メールアドレスも変更されていた");
      await console.getByRole("button", { name: "ロックダウンを開始する" }).click();
      assert.match(await mainText(console), /ロックダウンを実行しました/);
      await s.deliverWebhooks();
      await console.reload();
      assert.doesNotMatch(await mainText(console), /ストアがまだ確認していない対応/, "the shop confirmed every action");
      await checkPage(console, "story-002-console-case");

      // The front page no longer offers the bargain; the buyer's order is cancelled, her payment never taken, and
      // she is told so in Japanese.
      await b.goto(`${s.shopUrl}/`);
      assert.equal(await b.locator("li.card", { hasText: "ワイヤレスイヤホン 新品" }).count(), 0, "listing gone");
      await b.goto(`${s.shopUrl}/orders`);
      const card = (await b.locator(`#order-${order.orderId}`).textContent()) ?? "";
      assert.match(card, /キャンセル[\s\S]*不正利用の疑いで取り消され/);
      await checkPage(b, "story-002-buyer-orders");
      const notice = await m.t.lastMail(buyerEmail, "fraudulent_listing_refund");
      assert.match(notice?.body ?? "", /全額返金|請求されることはありません/, "told in Japanese");
      const mine = (
        await m.t.call("GET", `/v1/commerce/orders/${order.orderId}`, undefined, {
          session: await shopToken(s, buyer),
        })
      ).json();
      assert.equal(mine.payments[0]?.status, "voided", "her card is never charged");

      // The stranger is out; the seller's address is his again.
      assert.equal(await sessionActive(s, token), false);
      await him.goto(`${s.shopUrl}/sell`);
      assert.equal(new URL(him.url()).pathname, "/signin");
      const admin = await m.t.adminToken();
      const found = await m.t.call("GET", `/v1/admin/accounts?q=${encodeURIComponent(seller)}`, undefined, {
        auth: admin,
      });
      assert.deepEqual(
        (found.json().accounts[0]?.emails ?? []).map((e: { value: string }) => e.value),
        [seller],
      );
    } finally {
      await sellerPc.close();
      await buyer.close();
      await desk.close();
      await attacker?.close();
    }
  });
});
