import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { hijackedAccount } from "../console/scenario.ts";
import { type Browser, browserSkip, type LiveMamori, launch, liveMamori } from "./browser.ts";
import { checkPage, consoleSignIn, supportAgent } from "./stage.ts";

const skip = browserSkip();

// Seed 001, played at the support desk: Sato Hanako calls from the address she had before the attacker replaced it.
// The agent signs in to the console with password and authenticator, finds her by that old address, reads what
// happened in Japan time, previews the lockdown and starts it — without a single id copied by hand.
describe("support agent locks down a hijacked account (real browser)", { skip }, () => {
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

  it("signs in with TOTP, searches by the owner's old email, previews and starts the lockdown", async () => {
    const sc = await hijackedAccount(m.t, "e2e");
    const staff = await supportAgent({ m });
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "ja-JP" });
    const page = await ctx.newPage();
    const check = (name: string) => checkPage(page, name);
    try {
      // password, then the authenticator's code (the sign-in page checked and pictured on the way)
      await consoleSignIn({ m }, page, staff, { check: true });
      const cookie = (await ctx.cookies()).find((c) => c.name === "mamori_console");
      assert.ok(cookie?.httpOnly && cookie.sameSite === "Strict" && cookie.path === "/console");

      await page.getByLabel(/メールアドレス・電話番号/).fill(sc.oldEmail);
      await page.getByRole("button", { name: "検索" }).click();
      assert.match((await page.textContent("main")) ?? "", /email · 過去/);
      await check("console-search");
      await page.getByRole("link", { name: sc.newEmail }).click();

      const main = (await page.textContent("main")) ?? "";
      assert.match(main, /メールアドレス変更/);
      assert.match(main, /Firefox [\d.]+ \/ Linux · アメリカ合衆国/);
      assert.match(main, /\(日本時間\)/);
      assert.doesNotMatch(main, /session:/);
      assert.doesNotMatch(main, /メゾン原宿101|tok_visa/, "masked");
      await check("console-account");

      await page.getByRole("link", { name: "ロックダウンの内容を確認する" }).click();
      const preview = (await page.textContent("main")) ?? "";
      assert.match(preview, /まだ何も実行していません/);
      assert.match(preview, /キャンセルする注文（1）/);
      assert.match(preview, new RegExp(sc.oldEmail.replace(/\./g, "\\.")));
      await check("console-lockdown-preview");
      await page.getByLabel(/理由/).fill("本人から電話: 身に覚えのないメールアドレス変更とギフトカード購入");
      await page.getByRole("button", { name: "ロックダウンを開始する" }).click();

      assert.match(page.url(), /\/console\/cases\/[0-9a-f-]+\?done=1$/);
      const done = (await page.textContent("main")) ?? "";
      assert.match(done, /ロックダウンを実行しました/);
      assert.match(done, /ストアのWebhookが登録されていない/);
      await check("console-case");
      const out = await m.t.call("POST", "/v1/sessions/introspect", { token: sc.attackerToken });
      assert.equal(out.json().active, false, "the attacker is out");
    } finally {
      await ctx.close();
    }
  });
});
