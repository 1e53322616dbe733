import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import { ATTACKER, codeIn, STRONG, STRONG2, TOKYO } from "../../src/testing/app.ts";
import {
  type Browser,
  browserSkip,
  inlineScriptRuns,
  type LiveMamori,
  launch,
  linkIn,
  liveMamori,
  type Page,
  phone,
  screenshot,
  seriousA11yViolations,
} from "./browser.ts";

const skip = browserSkip();

// Seed 001/003, the way back: the owner pressed "This wasn't me", her account is frozen, and the store built no
// recovery screen. On her phone she follows Mamori's own pages to the end — code, new password, her devices, an
// authenticator — and signs in again; the stranger's sessions stay dead.
describe("victim recovers her account after 'This wasn't me' (real browser)", { skip }, () => {
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

  /** What every step must be: Japanese, accessible, no inline script, nothing wider than the phone. */
  async function check(page: Page, h1: string, shot: string) {
    assert.equal(await page.getAttribute("html", "lang"), "ja");
    assert.equal(await page.textContent("h1"), h1);
    assert.deepEqual(await seriousA11yViolations(page), [], shot);
    assert.equal(await inlineScriptRuns(page), false, `${shot}: the CSP stops an inline script`);
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= 390, `${shot} fits the phone`);
    await screenshot(page, shot);
  }

  it("not me → code → new password → her devices → authenticator → unfrozen, and she signs in again", async () => {
    const email = "hanako@example.jp";
    await m.t.signUp(
      email,
      STRONG,
      { ip: "133.0.0.10", userAgent: "Mozilla/5.0 (iPhone) Safari/604.1", deviceId: "phone", channel: "web" },
      "ja",
    );
    m.t.clock.advance(3_600_000);
    const atk = await m.t.signIn(email, STRONG, ATTACKER);
    const attacker = atk.session.token as string;
    const notice = await m.t.lastMail(email, "signin_new_device");

    const ctx = await phone(browser);
    const page = await ctx.newPage();
    let recoveryCode = "";
    try {
      await page.goto(m.local(linkIn(notice?.body, "/links/not-me")));
      await page.getByRole("button", { name: "アカウントを保護する" }).click();
      await page.waitForLoadState();
      assert.equal(await page.textContent("h1"), "アカウントを保護しました");
      assert.equal((await m.t.signIn(email, STRONG, TOKYO)).http, 423, "frozen");
      // The lockdown mail leads to the same place as the page.
      const lockMail = await m.t.lastMail(email, "account_locked_down");
      assert.match(lockMail?.body ?? "", /\/recover\/$/m);

      // 1. The address.
      await page.getByRole("link", { name: "アカウントの復旧へ進む" }).click();
      await check(page, "アカウントの復旧", "recovery-start-ja");
      await page.getByLabel("メールアドレスまたは電話番号").fill(email);
      await page.getByRole("button", { name: "確認コードを送る" }).click();

      // 2. The code, first mistyped.
      await check(page, "確認コードを入力してください", "recovery-code-ja");
      const code = codeIn((await m.t.lastMail(email, "recovery_code"))?.body);
      await page.getByLabel("確認コード（6桁）").fill(code === "000000" ? "111111" : "000000");
      await page.getByRole("button", { name: "確認する" }).click();
      assert.match((await page.textContent("main")) ?? "", /確認コードが違うか、有効期限（15分）が切れています/);
      await check(page, "確認コードを入力してください", "recovery-code-wrong-ja");
      await page.getByLabel("確認コード（6桁）").fill(code);
      await page.getByRole("button", { name: "確認する" }).click();

      // 3. The password: the length rule is checked as she types (the page's own script), the rest on the server.
      await page.waitForURL(/\/recover\/password/);
      const pw = page.getByLabel("新しいパスワード");
      await pw.fill("neko");
      assert.equal(await page.textContent("#pw-live"), "4文字: あと4文字必要です。");
      assert.equal((await page.getAttribute('[data-rule="length"]', "class")) ?? "", "");
      await check(page, "新しいパスワードを設定する", "recovery-password-ja");
      // Her old password was the one the stranger used: refused, and she is told why.
      await pw.fill(STRONG);
      assert.match((await page.textContent("#pw-live")) ?? "", /文字数は条件を満たしています/);
      assert.equal(await page.getAttribute('[data-rule="length"]', "class"), "met");
      await page.getByRole("button", { name: "パスワードを設定して次へ" }).click();
      assert.match((await page.textContent("main")) ?? "", /第三者がアカウントを使っていた間に使われていた/);
      await check(page, "新しいパスワードを設定する", "recovery-password-refused-ja");
      await page.getByLabel("新しいパスワード").fill(STRONG2);
      await page.getByRole("button", { name: "パスワードを設定して次へ" }).click();

      // 4. Her devices: the phone she signed up on is ticked, the stranger's sign-in is not.
      await page.waitForURL(/\/recover\/devices/);
      const boxes = page.getByRole("checkbox", { name: "これは自分の端末です" });
      assert.equal(await boxes.count(), 2);
      assert.deepEqual(
        await boxes.evaluateAll((els) => els.map((e) => (e as HTMLInputElement).checked)),
        [false, true],
        "newest first: the stranger's, then hers",
      );
      await check(page, "ご自身の端末を選んでください", "recovery-devices-ja");
      await page.getByRole("button", { name: "この内容で次へ" }).click();

      // 5. The authenticator: scanned from the QR (drawn on the server), or typed from the key under it.
      await page.waitForURL(/\/recover\/authenticator/);
      assert.ok(await page.getByRole("img", { name: "認証アプリで読み取るQRコード" }).isVisible());
      await check(page, "パスキーか認証アプリを設定する（おすすめ）", "recovery-authenticator-ja");
      const secret = ((await page.textContent(".secret")) ?? "").replace(/\s/g, "");
      await page.getByLabel("アプリに表示された6桁のコード").fill(totpCodeAt(secret, m.t.clock.now()));
      await page.getByRole("button", { name: "認証アプリを設定する" }).click();
      await check(page, "リカバリーコードを保管してください", "recovery-codes-ja");
      assert.equal(await page.locator("ol.codes li").count(), 10);
      recoveryCode = (await page.locator("ol.codes li").first().textContent()) ?? "";
      await page.getByRole("link", { name: "次へ" }).click();

      // 6. Unfreeze.
      await check(page, "凍結を解除する", "recovery-finish-ja");
      assert.match((await page.textContent("main")) ?? "", /認証アプリ: 設定済み/);
      await page.getByRole("button", { name: "凍結を解除する" }).click();
      await check(page, "アカウントが復旧しました", "recovery-done-ja");
      assert.match(
        (await page.textContent("main")) ?? "",
        /ショップ本舗で、新しいパスワードを使ってログインしてください/,
      );
      assert.equal(
        await page.getByRole("link", { name: "ショップ本舗でログインする" }).getAttribute("href"),
        "https://shop.example/",
      );

      // The back button cannot replay a step: the recovery is over.
      await page.goBack();
      await page.goto(`${m.base}/recover/finish`);
      assert.equal(await page.textContent("h1"), "もう一度最初からお試しください");
    } finally {
      await ctx.close();
    }

    // She signs in with the new password (and her authenticator); the old one and the stranger's session are dead.
    assert.equal((await m.t.signIn(email, STRONG, TOKYO)).http, 401);
    m.t.clock.advance(60_000);
    const r = await m.t.signIn(email, STRONG2, TOKYO);
    assert.equal(r.status, "challenge", JSON.stringify(r));
    assert.ok(r.factors.includes("totp"));
    const done = await m.t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: r.challengeToken,
      factor: "recovery_code",
      code: recoveryCode,
    });
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(done.json().status, "signed_in");
    assert.equal((await m.t.call("POST", "/v1/sessions/introspect", { token: attacker })).json().active, false);
    const sessions = await m.t.call("GET", "/v1/sessions", undefined, { session: done.json().session.token });
    assert.equal(sessions.statusCode, 200, sessions.body);
    const live = sessions.json().sessions.filter((s: { active?: boolean }) => s.active !== false);
    assert.equal(live.length, 1, "only the session she just opened");
  });
  it("works with JavaScript off, and in English for the reader who switches", async () => {
    const ctx = await phone(browser, { javaScriptEnabled: false });
    const page = await ctx.newPage();
    try {
      await page.goto(`${m.base}/recover/`);
      assert.equal(await page.getAttribute("html", "lang"), "ja");
      await page.getByRole("link", { name: "Read this page in English" }).click();
      assert.equal(await page.getAttribute("html", "lang"), "en");
      assert.equal(await page.textContent("h1"), "Recover your account");
      // (axe needs JavaScript in the page: it ran on every step of the Japanese path above.)
      await screenshot(page, "recovery-start-en");
      // An address on no locked-down account: the same next page as for one, in the chosen language.
      await page.getByLabel("Email address or phone number").fill("nobody-here@example.com");
      await page.getByRole("button", { name: "Send the code" }).click();
      assert.equal(await page.getAttribute("html", "lang"), "en");
      assert.equal(await page.textContent("h1"), "Enter the code");
      await page.getByLabel("Code (6 digits)").fill("123456");
      await page.getByRole("button", { name: "Confirm" }).click();
      // A decoy id was never a recovery: refused as a wrong code would be (no oracle), with the way back.
      assert.equal(await page.textContent("h1"), "Enter the code");
      assert.match((await page.textContent("main")) ?? "", /The code is wrong or has expired/);
      assert.equal(await page.getByRole("link", { name: "Start again" }).count(), 1);
    } finally {
      await ctx.close();
    }
  });
});
