import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, STRONG } from "../../src/testing/app.ts";
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

// Seed 000/003: the owner opens "Security" in the store on her phone. She must see, in Japanese, that a stranger's
// browser is signed in, where from, and end it herself in one tap (the pages run no script at all).
describe("owner signs the attacker out from the security center (real browser)", { skip }, () => {
  let m: LiveMamori;
  let browser: Browser;
  before(async () => {
    m = await liveMamori({
      MAMORI_STORE_NAME: "ショップ本舗",
      MAMORI_SUPPORT_CONTACT: "support@shop.example",
      MAMORI_STORE_URL: "https://shop.example/",
    });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await m?.close();
  });

  it("she sees the stranger's session and the sign-ins, taps 私ではない, and the stranger is out", async () => {
    const email = "hanako.portal@example.jp";
    const owner = await m.t.signUp(
      email,
      STRONG,
      {
        ip: "133.0.0.10",
        userAgent:
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
        deviceId: "phone",
        channel: "web",
      },
      "ja",
    );
    m.t.clock.advance(3_600_000);
    const atk = await m.t.signIn(email, STRONG, ATTACKER);
    assert.equal(atk.status, "signed_in");
    await m.t.signIn(email, "a wrong guess 123", ATTACKER);

    // The store's backend asks for the URL and redirects her browser to it.
    const created = await m.t.call("POST", "/v1/portal-sessions", undefined, { session: owner.token });
    const ctx = await phone(browser);
    const page = await ctx.newPage();
    try {
      const res = await page.goto(m.local(created.json().url));
      assert.equal(res?.status(), 200);
      assert.match(page.url(), /\/portal\/$/);
      assert.equal(await page.getAttribute("html", "lang"), "ja");
      assert.equal(await page.textContent("h1"), "セキュリティセンター");
      const main = (await page.textContent("main")) ?? "";
      assert.match(main, /この端末/);
      assert.match(main, /アメリカ合衆国|米国/, "the stranger's country, in Japanese");
      assert.match(main, /パスワード誤り/, "the failed guess is in the history");
      assert.deepEqual(await seriousA11yViolations(page), []);
      assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, "fits the phone");
      await screenshot(page, "security-center-ja");

      // The stranger's card is the one that is not "この端末"; its button is the lockdown.
      const card = page.locator("li.card.session:not(.current)");
      assert.equal(await card.count(), 1);
      await card.getByRole("button", { name: "私ではない" }).click();
      await page.waitForLoadState();
      assert.equal(await page.textContent("h1"), "アカウントを保護しました");
      assert.match((await page.textContent("main")) ?? "", /下の「アカウントの復旧へ」から/);
      // No recovery page of the store's own (MAMORI_STORE_RECOVERY_URL unset): the button opens Mamori's hosted one.
      assert.match(
        (await page.getByRole("link", { name: "アカウントの復旧へ" }).getAttribute("href")) ?? "",
        /^\.\.\/recover\/\?lang=ja$/,
      );
      assert.deepEqual(await seriousA11yViolations(page), []);
      await screenshot(page, "security-center-protected-ja");
      const out = await m.t.call("POST", "/v1/sessions/introspect", { token: atk.session.token });
      assert.equal(out.json().active, false);
    } finally {
      await ctx.close();
    }
  });
});
