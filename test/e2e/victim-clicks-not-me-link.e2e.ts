import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, STRONG } from "../../src/testing/app.ts";
import {
  type Browser,
  browserSkip,
  inlineScriptRuns,
  type LiveMamori,
  launch,
  linkIn,
  liveMamori,
  phone,
  screenshot,
  seriousA11yViolations,
} from "./browser.ts";

const skip = browserSkip();

// Seed 001/003: a stranger signs in with the owner's password; the owner reads the notice on a phone and taps
// "This wasn't me". What she sees must be true, in Japanese, and usable with or without JavaScript.
describe("victim clicks the 'This wasn't me' link (real browser)", { skip }, () => {
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

  async function attackedOwner(email: string) {
    await m.t.signUp(
      email,
      STRONG,
      { ip: "133.0.0.10", userAgent: "Mozilla/5.0 (iPhone) Safari/604.1", deviceId: "phone", channel: "web" },
      "ja",
    );
    m.t.clock.advance(3_600_000);
    const atk = await m.t.signIn(email, STRONG, ATTACKER);
    const notice = await m.t.lastMail(email, "signin_new_device");
    return { attacker: atk.session.token as string, link: m.local(linkIn(notice?.body, "/links/not-me")) };
  }

  it("confirm, protected, and the link shown as used when opened again; each page accessible and script-free", async () => {
    const { attacker, link } = await attackedOwner("hanako@example.jp");
    const ctx = await phone(browser);
    const page = await ctx.newPage();
    try {
      const res = await page.goto(link);
      assert.equal(res?.status(), 200);
      const csp = res?.headers()["content-security-policy"] ?? "";
      assert.match(csp, /script-src 'none'/);
      assert.equal(await page.getAttribute("html", "lang"), "ja");
      assert.equal(await page.textContent("h1"), "身に覚えのない操作を報告する");
      assert.equal(await page.getByRole("button", { name: "アカウントを保護する" }).count(), 1);
      assert.deepEqual(await seriousA11yViolations(page), []);
      assert.equal(await inlineScriptRuns(page), false, "the CSP blocks an inline script in the browser");
      // The stylesheet loaded (no CSP refusal): the button is styled, not the browser's grey default.
      const bg = await page.getByRole("button").evaluate((b) => getComputedStyle(b).backgroundColor);
      assert.equal(bg, "rgb(11, 87, 208)");
      // Nothing fits wider than the phone.
      assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390);
      await screenshot(page, "not-me-confirm-ja");
      // Opening the page acted on nothing.
      assert.equal((await m.t.call("POST", "/v1/sessions/introspect", { token: attacker })).json().active, true);

      await page.getByRole("button", { name: "アカウントを保護する" }).click();
      await page.waitForLoadState();
      assert.equal(await page.textContent("h1"), "アカウントを保護しました");
      const text = (await page.textContent("main")) ?? "";
      assert.match(text, /アカウントを凍結しました/);
      assert.match(text, /パスワード再設定のメールは届きません/);
      assert.match(text, /下の「アカウントの復旧へ進む」を押します/);
      assert.deepEqual(await seriousA11yViolations(page), []);
      await screenshot(page, "not-me-done-ja");
      assert.equal((await m.t.call("POST", "/v1/sessions/introspect", { token: attacker })).json().active, false);

      const again = await page.goto(link);
      assert.equal(again?.status(), 410);
      assert.equal(await page.textContent("h1"), "このリンクはすでに使われています");
      assert.equal(await page.getByRole("button").count(), 0, "no button that would fail");
      assert.deepEqual(await seriousA11yViolations(page), []);
      await screenshot(page, "not-me-used-ja");
    } finally {
      await ctx.close();
    }
  });

  it("works with JavaScript turned off, and reads in English for an English browser's reader who switches", async () => {
    const { link } = await attackedOwner("no-js@example.jp");
    const ctx = await phone(browser, { javaScriptEnabled: false });
    const page = await ctx.newPage();
    try {
      await page.goto(link);
      await page.getByRole("link", { name: "Read this page in English" }).click();
      assert.equal(await page.getAttribute("html", "lang"), "en");
      assert.equal(await page.textContent("h1"), "Report activity that wasn't you");
      await screenshot(page, "not-me-confirm-en");
      await page.getByRole("button", { name: "Protect my account" }).click();
      await page.waitForLoadState();
      assert.equal(await page.getAttribute("html", "lang"), "en");
      assert.equal(await page.textContent("h1"), "Your account is protected");
    } finally {
      await ctx.close();
    }
  });

  it("a garbled link gets a page that says so and what to do, in Japanese", async () => {
    const { link } = await attackedOwner("garbled@example.jp");
    const ctx = await phone(browser);
    const page = await ctx.newPage();
    try {
      // A mail client that cut the link at 60 characters.
      const res = await page.goto(link.slice(0, link.indexOf("?t=") + 20));
      assert.equal(res?.status(), 400);
      assert.equal(await page.textContent("h1"), "このリンクは正しくありません");
      assert.match((await page.textContent("main")) ?? "", /最後まで正確にコピー/);
      assert.deepEqual(await seriousA11yViolations(page), []);
      await screenshot(page, "link-invalid-ja");
    } finally {
      await ctx.close();
    }
  });
});
