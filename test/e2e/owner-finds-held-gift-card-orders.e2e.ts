import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import type { RequestContext } from "../../src/shared/context.ts";
import { STRONG, TOKYO } from "../../src/testing/app.ts";
import {
  type Browser,
  browserSkip,
  type LiveMamori,
  launch,
  liveMamori,
  phone,
  screenshot,
  seriousA11yViolations,
} from "./browser.ts";

const skip = browserSkip();
// Seed 003: an infostealer's copy of her browser behind a Japanese proxy buys gift cards with her saved card.
const STOLEN_BROWSER_JP: RequestContext = { ...TOKYO, ip: "126.200.3.4" };

// Seed 003 as she lived it: the gift cards bought with her card were "hidden orders" that only the card company could
// show. On her phone, from the store's 「セキュリティ」, she must find every one — the held ones explained as not charged
// — press 私ではない on one, and (before that, on another day) set up an authenticator from the same page.
describe("owner finds held gift card orders in the security center (real browser)", { skip }, () => {
  let m: LiveMamori;
  let browser: Browser;
  before(async () => {
    m = await liveMamori(
      { MAMORI_STORE_NAME: "ショップ本舗", MAMORI_STORE_URL: "https://shop.example/" },
      0,
      "default",
    );
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await m?.close();
  });

  it("she finds the held orders, sets up an authenticator with the QR code, and presses 私ではない", async () => {
    const email = "yuki.giftcards@example.jp";
    const owner = await m.t.signUp(email, STRONG, TOKYO, "ja");
    await m.t.verifyEmail(owner.token, email);
    const card = await m.t.call(
      "POST",
      "/v1/commerce/payment-instruments",
      { token: "tok_visa" },
      { session: owner.token },
    );
    assert.equal(card.statusCode, 201, card.body);

    // Day 1: the stolen browser buys gift cards; from the third the purchase rules hold them.
    m.t.clock.advance(86_400_000);
    const atk = await m.t.signIn(email, STRONG, STOLEN_BROWSER_JP);
    const as = atk.session?.token as string | undefined;
    assert.ok(as, JSON.stringify(atk));
    for (let i = 0; i < 3; i++) {
      m.t.clock.advance(60_000);
      const r = await m.t.call(
        "POST",
        "/v1/commerce/orders",
        {
          items: [
            {
              category: "gift_card",
              sku: "gc-5000",
              title: "デジタルギフト券 5,000円分",
              quantity: 1,
              unitPrice: 5000,
              recipientEmail: "drop@attacker.example",
            },
          ],
          payment: { method: "instrument", instrumentId: card.json().id },
        },
        { session: as },
      );
      assert.equal(r.statusCode, 201, r.body);
    }

    const ctx = await phone(browser);
    const page = await ctx.newPage();
    try {
      // She signs in to the store and opens 「セキュリティ」: the store asks for a one-time URL.
      const mine = await m.t.signIn(email, STRONG, TOKYO);
      assert.equal(mine.status, "signed_in", JSON.stringify(mine));
      const url = (await m.t.call("POST", "/v1/portal-sessions", undefined, { session: mine.session.token })).json()
        .url;
      await page.goto(m.local(url));
      await page.getByRole("link", { name: "注文（すべて）" }).click();
      const held = page.locator("li.order.status-on_hold");
      assert.equal(await held.count(), 1, "the held order is there");
      const heldText = (await held.textContent()) ?? "";
      assert.match(heldText, /確認中/);
      assert.match(heldText, /まだ請求されておらず、ギフト券も発行されていません/);
      assert.equal(await page.locator("li.order").count(), 3, "and the two that went through");
      assert.match((await page.textContent("main")) ?? "", /送り先: drop@attacker\.example/);
      assert.deepEqual(await seriousA11yViolations(page), []);
      assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, "fits the phone");
      await held.scrollIntoViewIfNeeded();
      await screenshot(page, "security-center-orders-ja");

      // The authenticator, from the same page (her sign-in is fresh): a QR code drawn on the server, the key as text.
      await page.getByRole("link", { name: "認証アプリを設定する" }).click();
      await page.waitForLoadState();
      assert.equal(await page.textContent("h1"), "認証アプリを設定する");
      assert.equal(await page.locator("svg.qr").count(), 1);
      const key = ((await page.textContent(".secret")) ?? "").replace(/\s/g, "");
      assert.deepEqual(await seriousA11yViolations(page), []);
      assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, "fits the phone");
      await screenshot(page, "security-center-authenticator-ja");
      await page.getByLabel("6桁のコード").fill(totpCodeAt(key, m.t.clock.now()));
      await page.getByRole("button", { name: "設定する" }).click();
      await page.waitForLoadState();
      assert.equal(await page.textContent("h1"), "リカバリーコードを保管してください");
      assert.equal(await page.locator("ol.codes li").count(), 10);
      assert.deepEqual(await seriousA11yViolations(page), []);
      await page.getByRole("link", { name: "セキュリティセンターに戻る" }).click();
      await page.waitForLoadState();

      // An app password a quarter of an hour later asks for her password and the authenticator's code first.
      m.t.clock.advance(15 * 60_000);
      await page.getByLabel("新しいアプリ用パスワードの名前（例: メールアプリ）").fill("メールアプリ");
      await page.getByRole("button", { name: "作成する" }).click();
      await page.waitForLoadState();
      assert.equal(await page.textContent("h1"), "ご本人の確認");
      assert.equal(await page.getByLabel("認証アプリの6桁のコード、またはリカバリーコード").count(), 1);
      assert.deepEqual(await seriousA11yViolations(page), []);
      await screenshot(page, "security-center-confirm-ja");
      await page.getByRole("link", { name: "セキュリティセンターに戻る" }).click();
      await page.waitForLoadState();

      await page.locator("li.order.status-on_hold").getByRole("button", { name: "私ではない" }).click();
      await page.waitForLoadState();
      assert.equal(await page.textContent("h1"), "アカウントを保護しました");
      const out = await m.t.call("POST", "/v1/sessions/introspect", { token: as });
      assert.equal(out.json().active, false, "the stolen browser is signed out");
      assert.equal((await m.t.app.identity.getAccount(owner.accountId)).status, "frozen");
    } finally {
      await ctx.close();
    }
  });
});
