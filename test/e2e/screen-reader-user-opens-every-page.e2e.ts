import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { STRONG, TOKYO } from "../../src/testing/app.ts";
import { addPasskey } from "../../src/testing/passkeys.ts";
import { enrolStaff } from "../console/helpers.ts";
import { type Browser, browserSkip, type LiveMamori, launch, liveMamori, phone } from "./browser.ts";
import { checkPage, consoleSignIn } from "./stage.ts";

const skip = browserSkip();

// Issue 15 item 5: "an accessibility check of every page". The story tests check the pages their people pass
// through; this one opens every page Mamori serves — the console's (sign-in, setup, search, account, lockdown preview,
// case, review queue, policies, staff), the security center's (main, authenticator, passkeys, a passkey's removal with
// its step-up, the password step with a passkey, passkey sign-in), hosted
// recovery and the mailed-link pages with a garbled link, and an error page — and holds each to the same bar: Japanese
// `lang`, axe 0 serious or critical, no injected script runs. A page added without that bar fails here.
describe("screen-reader user opens every page (real browser)", { skip }, () => {
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

  it("every console, security-center, recovery and link page passes axe and says it is Japanese", async () => {
    const t = m.t;
    const email = "every-page@example.jp";
    const owner = await t.signUp(email, STRONG, TOKYO, "ja");
    const card = await t.call(
      "POST",
      "/v1/commerce/payment-instruments",
      { token: "tok_visa" },
      { session: owner.token },
    );
    assert.equal(card.statusCode, 201, card.body);
    const victim = await t.signUp("every-page-case@example.jp", STRONG, TOKYO, "ja");
    const { caseId } = await t.app.response.lockdownAccount({
      accountId: victim.accountId,
      reason: "every page",
      openedBy: "admin:test",
    });
    const { staff } = await enrolStaff(t, "sato", "lead");
    await t.app.admin.createAdminUser("tanaka", "setup-tanaka-from-the-operator", "cli", "agent");

    // Console, as a lead: every page with content in it.
    const desk = await browser.newContext({ locale: "ja-JP" });
    try {
      const page = await desk.newPage();
      await consoleSignIn({ m }, page, staff);
      const consolePages: [string, string][] = [
        ["/console/", "search"],
        ["/console/search?q=every-page", "search results"],
        [`/console/accounts/${owner.accountId}`, "account"],
        [`/console/accounts/${owner.accountId}/lockdown`, "lockdown preview"],
        [`/console/cases/${caseId}`, "case"],
        ["/console/review", "review queue"],
        ["/console/policies", "policies"],
        ["/console/staff", "staff"],
      ];
      for (const [path, name] of consolePages) {
        const res = await page.goto(`${m.base}${path}`);
        assert.equal(res?.status(), 200, `${name}: ${path}`);
        await checkPage(page, `console ${name}`, { shot: false });
      }
      const missing = await page.goto(`${m.base}/console/accounts/no-such-account`);
      assert.equal(missing?.status(), 404);
      await checkPage(page, "console not found", { shot: false });
    } finally {
      await desk.close();
    }

    // A new staff login's first pages: sign-in, then the setup it must finish first.
    const fresh = await browser.newContext({ locale: "ja-JP" });
    try {
      const page = await fresh.newPage();
      await page.goto(`${m.base}/console/sign-in`);
      await checkPage(page, "console sign-in", { shot: false });
      await page.getByLabel("ユーザー名").fill("tanaka");
      await page.getByLabel("パスワード").fill("setup-tanaka-from-the-operator");
      await page.getByRole("button", { name: "次へ" }).click();
      assert.match(page.url(), /\/console\/setup/);
      await checkPage(page, "console setup", { shot: false });
    } finally {
      await fresh.close();
    }

    // The security center on a phone, from the one-time URL the store's backend asks for.
    const mine = await phone(browser);
    try {
      const page = await mine.newPage();
      const created = await t.call("POST", "/v1/portal-sessions", undefined, { session: owner.token });
      assert.equal(created.statusCode, 201, created.body);
      await page.goto(m.local(created.json().url));
      await checkPage(page, "security center", { shot: false });
      for (const path of ["/portal/authenticator", "/portal/passkeys"]) {
        const res = await page.goto(`${m.base}${path}`);
        assert.equal(res?.status(), 200, path);
        await checkPage(page, `security center ${path}`, { shot: false });
      }
      // A passkey of hers (the software authenticator, through the API): now her strongest factor, so this session
      // is not fresh enough for a passkey change, and the list's add and the removal page ask for the step-up.
      const key = await addPasskey(t, owner.token, { name: "私のスマホ" });
      assert.equal(key.res.statusCode, 201, key.res.body);
      for (const path of ["/portal/passkeys", `/portal/passkey-remove?id=${key.res.json().id}&lang=ja`]) {
        const res = await page.goto(`${m.base}${path}`);
        assert.equal(res?.status(), 200, path);
        assert.equal(await page.locator("#passkey-stepup").count(), 1, `${path}: the step-up`);
        await checkPage(page, `security center ${path} (step-up)`, { shot: false });
      }
      // A change from the center (an app password): the password step, which asks for her passkey.
      await page.goto(`${m.base}/portal/`);
      await page.getByLabel("新しいアプリ用パスワードの名前（例: メールアプリ）").fill("メールアプリ");
      await page.getByRole("button", { name: "作成する" }).click();
      assert.equal(await page.locator("#passkey-stepup").count(), 1, "the password step offers the passkey");
      await checkPage(page, "security-center-confirm-passkey-ja");
    } finally {
      await mine.close();
    }

    // Pages anyone may open: passkey sign-in, recovery, and every mailed link when the link is garbled.
    const anyone = await phone(browser);
    try {
      const page = await anyone.newPage();
      for (const path of [
        "/portal/passkey-sign-in?lang=ja",
        "/recover/?lang=ja",
        "/links/not-me?t=garbled",
        "/links/reset-password?t=garbled",
        "/links/email-revert?t=garbled",
        "/links/cancel-factor-reset?t=garbled",
        "/links/not-me",
      ]) {
        const res = await page.goto(`${m.base}${path}`);
        assert.ok(res && res.status() < 500, `${path}: ${res?.status()}`);
        assert.match(String(res?.headers()["content-type"]), /text\/html/, `${path} is a page`);
        await checkPage(page, path, { shot: false });
      }
    } finally {
      await anyone.close();
    }
  });
});
