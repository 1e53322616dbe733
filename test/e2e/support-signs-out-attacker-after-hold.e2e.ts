import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { STRONG, STRONG3 } from "../../src/testing/app.ts";
import { type BrowserContext, browserSkip } from "./browser.ts";
import {
  ATTACKER_US,
  addToCart,
  breakIn,
  checkout,
  checkPage,
  consoleOpenAccount,
  consoleSignIn,
  mainText,
  OWNER_PHONE,
  openStage,
  type Stage,
  SUPPORT_DESK,
  sessionActive,
  shopSignIn,
  shopSignUp,
  shopToken,
  supportAgent,
} from "./stage.ts";

const skip = browserSkip();

// Seed 000: support "held" her account and invalidated the password, but never signed the stranger out; ten days
// later the stranger, still signed in, bought again, and one of his orders sat at 「お支払い方法の変更が必要です」.
// Here the owner shops on her phone, the stranger signs in from the US in his own browser and orders to a stranger's
// address (one order on a prepaid card that cannot pay it), and the support agent's lockdown in the console signs him
// out: his very next page is the sign-in form, ten days later too, and the unpaid order is cancelled, never charged.
describe("support signs the attacker out when holding the account (seed 000, real browser)", { skip }, () => {
  let s: Stage;
  before(async () => {
    s = await openStage();
  });
  after(async () => {
    await s?.close();
  });

  it("the lockdown ends the stranger's session, cancels his orders, and the pending one can never be charged", async () => {
    const email = "kaori.hold@example.jp";
    const { m } = s;
    const owner = await s.person(OWNER_PHONE);
    let attacker: BrowserContext | undefined;
    const desk = await s.person(SUPPORT_DESK);
    try {
      // 1. She has an account and bought tea with her Visa, which the shop keeps.
      const her = await owner.newPage();
      await shopSignUp(s, her, email, STRONG);
      await addToCart(s, her, "静岡の煎茶 100g");
      await checkout(s, her, {
        address: { name: "山田 香織", postalCode: "150-0001", city: "東京都渋谷区", line1: "神宮前1-2-3" },
      });
      m.t.clock.advance(3 * 86_400_000);

      // 2. The stranger has her password (and, as the seeds tell, reads her mail): he signs in from the US, or where
      // Mamori refuses that, through a proxy in Japan.
      const broke = await breakIn(s, ATTACKER_US, email, STRONG);
      attacker = broke.ctx;
      const him = broke.page;
      const stolenToken = await shopToken(s, attacker);
      // earbuds to a stranger's address on her saved card, and a furoshiki on someone else's prepaid card
      await addToCart(s, him, "ワイヤレスイヤホン");
      const earbuds = await checkout(s, him, {
        address: { name: "李 明", postalCode: "556-0005", city: "大阪府大阪市浪速区", line1: "日本橋4-5-6" },
      });
      await addToCart(s, him, "綿の風呂敷（藍）");
      const pending = await checkout(s, him, { pay: /残高3,000円のプリペイド/ });
      assert.equal(pending.flash, "unpaid", "the prepaid card could not pay: the order waits for another method");
      assert.match(await mainText(him), /お支払い待ち/);
      await checkPage(him, "story-000-attacker-orders", { lang: "ja" });

      // 3. She calls. The agent signs in with password and authenticator, finds her by her address, and reads the
      // stranger's session: a Firefox on Linux in the United States.
      const agent = await supportAgent(s);
      const console = await desk.newPage();
      await consoleSignIn(s, console, agent);
      await consoleOpenAccount(console, email, email);
      const account = await mainText(console);
      assert.match(
        account,
        new RegExp(`Firefox [\\d.]+ / Linux · ${broke.via === "abroad" ? "アメリカ合衆国" : "日本"}`),
      );
      await checkPage(console, "story-000-console-account");
      await console.getByRole("link", { name: "ロックダウンの内容を確認する" }).click();
      const preview = await mainText(console);
      assert.match(preview, /ログアウトさせる端末（[1-9]）/, "the preview names the sessions it ends");
      assert.match(preview, /キャンセルする注文（2）/, "both of his orders, not her tea");
      await checkPage(console, "story-000-console-preview");
      await console.getByLabel(/理由/).fill("本人から電話: 身に覚えのない注文。保留の前に全端末をログアウト");
      await console.getByRole("button", { name: "ロックダウンを開始する" }).click();
      assert.match(await mainText(console), /ロックダウンを実行しました/);
      await s.deliverWebhooks();
      await console.reload();
      assert.doesNotMatch(await mainText(console), /ストアがまだ確認していない対応/, "the shop confirmed every action");
      await checkPage(console, "story-000-console-case");

      // 4. The stranger, still "signed in" in his browser, opens his orders: he is sent to sign in, and his password
      // now meets a challenge whose code never comes. Ten days later, the same.
      assert.equal(await sessionActive(s, stolenToken), false, "Mamori refuses his session");
      await him.goto(`${s.shopUrl}/orders`);
      assert.equal(new URL(him.url()).pathname, "/signin", "his next request is a sign-in page");
      for (const days of [0, 10]) {
        m.t.clock.advance(days * 86_400_000);
        const again = await shopSignIn(s, him, email, STRONG);
        assert.equal(again.signedIn, false, `day +${days}: the stolen password opens nothing`);
        assert.equal(again.codeMailed, false, `day +${days}: no code is mailed while the account is frozen`);
        await him.goto(`${s.shopUrl}/checkout`);
        assert.equal(new URL(him.url()).pathname, "/signin", `day +${days}: no way to buy`);
      }

      // 5. The unpaid order is cancelled and can never be charged, even once a card exists (the store tries).
      const capture = await m.t.call("POST", `/v1/commerce/orders/${pending.orderId}/capture`, {});
      assert.equal(capture.statusCode, 409, capture.body);

      // 6. She recovers (the protection mail's way; played in full by victim-recovers-after-not-me) and looks at her
      // orders herself: the stranger's two are cancelled by Mamori, her tea is untouched.
      await m.t.recover(email, STRONG3);
      const back = await shopSignIn(s, her, email, STRONG3);
      assert.ok(back.signedIn, "she signs in with her new password");
      await her.goto(`${s.shopUrl}/orders`);
      const orders = await mainText(her);
      for (const id of [earbuds.orderId, pending.orderId]) {
        const card = her.locator(`#order-${id}`);
        assert.match((await card.textContent()) ?? "", /キャンセル[\s\S]*不正利用の疑いで取り消され/, `order ${id}`);
      }
      assert.match(orders, /静岡の煎茶 100g × 1/);
      assert.doesNotMatch(orders, /お支払い待ち/, "nothing is left waiting for a payment method");
      await checkPage(her, "story-000-owner-orders");
    } finally {
      await owner.close();
      await attacker?.close();
      await desk.close();
    }
  });
});
