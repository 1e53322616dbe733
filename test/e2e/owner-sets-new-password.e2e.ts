import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { codeIn, STRONG, STRONG2 } from "../../src/testing/app.ts";
import {
  type Browser,
  browserSkip,
  type LiveMamori,
  launch,
  linkIn,
  liveMamori,
  phone,
  screenshot,
  seriousA11yViolations,
} from "./browser.ts";

const skip = browserSkip();
const CTX = { ip: "133.0.0.10", userAgent: "Mozilla/5.0 (iPhone) Safari/604.1", channel: "web" as const };

// Seed 002: the attacker changed the email; the owner's old address got the revert link. She undoes the change, then
// sets a new password from the reset mail, on her phone, in Japanese, with the rules in front of her.
describe("owner undoes an email change and sets a new password (real browser)", { skip }, () => {
  let m: LiveMamori;
  let browser: Browser;
  before(async () => {
    m = await liveMamori({ MAMORI_STORE_NAME: "ショップ本舗", MAMORI_SUPPORT_CONTACT: "support@shop.example" });
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await m?.close();
  });

  it("revert page names both addresses; the reset page shows the rules and refuses a weak password in Japanese", async () => {
    const email = "yuki@example.jp";
    const s = (await m.t.signUp(email, STRONG, CTX, "ja")).token;
    await m.t.verifyEmail(s, email);
    await m.t.call("POST", "/v1/email/change", { newEmail: "evil@attacker.example" }, { session: s });
    const code = codeIn((await m.t.lastMail("evil@attacker.example", "email_change_code"))?.body);
    await m.t.call("POST", "/v1/email/change/confirm", { code }, { session: s });
    const revert = m.local(
      linkIn((await m.t.lastMail(email, "email_changed_old_address"))?.body, "/links/email-revert"),
    );

    const ctx = await phone(browser);
    const page = await ctx.newPage();
    try {
      await page.goto(revert);
      assert.equal(await page.textContent("h1"), "メールアドレスの変更を取り消す");
      const facts = (await page.textContent("dl")) ?? "";
      assert.match(facts, /元に戻すアドレスyuki@example\.jp/);
      assert.match(facts, /削除するアドレスevil@attacker\.example/);
      assert.deepEqual(await seriousA11yViolations(page), []);
      await screenshot(page, "email-revert-confirm-ja");
      await page.getByRole("button", { name: "変更を取り消してロックする" }).click();
      await page.waitForLoadState();
      assert.equal(await page.textContent("h1"), "メールアドレスの変更を取り消しました");
      assert.deepEqual(await seriousA11yViolations(page), []);
      await screenshot(page, "email-revert-done-ja");

      // The reset link the page promised, from the mail to the restored address.
      const reset = m.local(linkIn((await m.t.lastMail(email, "account_locked"))?.body, "/links/reset-password"));
      await page.goto(reset);
      assert.equal(await page.textContent("h1"), "新しいパスワードの設定");
      const field = page.getByLabel("新しいパスワード");
      assert.equal(await field.getAttribute("autocomplete"), "new-password");
      // The rules are read out with the field.
      const described = (await field.getAttribute("aria-describedby")) ?? "";
      const hint = (await page.locator(`#${described.split(" ")[0]}`).textContent()) ?? "";
      assert.match(hint, /8文字以上、256文字以内/);
      assert.match(hint, /最近使った5つのパスワードは使えません/);
      assert.deepEqual(await seriousA11yViolations(page), []);
      await screenshot(page, "reset-password-form-ja");

      await field.fill("password1");
      await page.getByRole("button", { name: "パスワードを設定する" }).click();
      await page.waitForLoadState();
      assert.match((await page.getByRole("alert").textContent()) ?? "", /パスワードを設定できませんでした/);
      assert.match((await page.textContent(".field .error")) ?? "", /推測されやすいため使えません/);
      assert.equal(await page.getByLabel("新しいパスワード").getAttribute("aria-invalid"), "true");
      assert.deepEqual(await seriousA11yViolations(page), []);
      await screenshot(page, "reset-password-error-ja");

      await page.getByLabel("新しいパスワード").fill(STRONG2);
      await page.getByRole("button", { name: "パスワードを設定する" }).click();
      await page.waitForLoadState();
      assert.equal(await page.textContent("h1"), "新しいパスワードを設定しました");
      assert.deepEqual(await seriousA11yViolations(page), []);
      assert.equal((await m.t.signIn(email, STRONG2)).http, 200);

      const used = await page.goto(reset);
      assert.equal(used?.status(), 410);
      assert.equal(await page.getByRole("textbox").count(), 0);
    } finally {
      await ctx.close();
    }
  });
});
