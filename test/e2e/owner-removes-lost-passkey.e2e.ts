import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import { STRONG } from "../../src/testing/app.ts";
import {
  type Browser,
  browserSkip,
  type LiveMamori,
  launch,
  liveMamori,
  phone,
  screenshot,
  seriousA11yViolations,
  virtualAuthenticator,
} from "./browser.ts";

const skip = browserSkip();

/** A free port, so Mamori's public URL (and with it the passkeys' RP id and origin) can name it. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (a && typeof a !== "string" ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

// Issue 17 item 3: the owner lost her phone, which held one of her two passkeys. From her tablet she removes the
// phone's passkey in the security center. Removing a passkey is a sensitive change: its confirm page asks for a fresh
// step-up — here her tablet's passkey — before the removal's button appears, and a removal posted without it is
// refused. Someone holding a signed-in device (the lost phone's open session) cannot remove her passkeys.
describe("owner removes the passkey of a lost phone (real browser)", { skip }, () => {
  let m: LiveMamori;
  let browser: Browser;
  let origin: string;
  before(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    m = await liveMamori({ MAMORI_STORE_NAME: "ショップ本舗", MAMORI_PUBLIC_URL: origin }, port);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await m?.close();
  });

  it("the confirm page asks for another passkey first, then the lost one is gone", async () => {
    const email = "aoi.lostphone@example.jp";
    const owner = await m.t.signUp(email, STRONG, undefined, "ja");
    const created = await m.t.call("POST", "/v1/portal-sessions", undefined, { session: owner.token });
    const ctx = await phone(browser);
    const page = await ctx.newPage();
    try {
      // Her phone's passkey, added right after sign-up (no passkey yet: a fresh sign-in is enough).
      const lostPhone = await virtualAuthenticator(page);
      assert.equal((await page.goto(created.json().url))?.status(), 200);
      await page.goto(`${origin}/portal/passkeys`);
      await page.fill("#f-passkey-name", "なくしたスマホ");
      await Promise.all([page.waitForEvent("load"), page.click("#passkey-add")]);
      assert.match((await page.textContent("main")) ?? "", /なくしたスマホ/);

      // Her tablet's: she signs in there with the phone's passkey (a fresh passkey step), then adds the tablet's.
      await ctx.clearCookies();
      await page.goto(`${origin}/portal/passkey-sign-in`);
      await Promise.all([page.waitForURL(/\/portal\/$/), page.click("#passkey-signin")]);
      await lostPhone.remove();
      const tablet = await virtualAuthenticator(page);
      await page.goto(`${origin}/portal/passkeys`);
      await page.fill("#f-passkey-name", "タブレット");
      await Promise.all([page.waitForEvent("load"), page.click("#passkey-add")]);
      assert.match((await page.textContent("main")) ?? "", /タブレット/);
      const ids = await m.t.app.database.db
        .selectFrom("passkeys")
        .select(["id", "name"])
        .where("account_id", "=", owner.accountId)
        .where("removed_at", "is", null)
        .execute();
      assert.equal(ids.length, 2);
      const lost = ids.find((k) => k.name === "なくしたスマホ")!;

      // Later (past the 10 minutes a step-up lasts) the phone is lost. She opens its removal from the list.
      m.t.clock.advance(11 * 60_000);
      await page.goto(`${origin}/portal/passkeys`);
      await Promise.all([page.waitForEvent("load"), page.click(`a[href*="id=${lost.id}"]`)]);
      assert.equal(await page.textContent("h1"), "パスキーの削除");
      const main = (await page.textContent("main")) ?? "";
      assert.match(main, /「なくしたスマホ」を削除します/);
      assert.match(main, /ご本人の確認が必要です/, "the step-up is asked for");
      assert.equal(await page.locator("#passkey-remove").count(), 0, "no removal before the step-up");
      assert.equal(await page.isVisible("#passkey-stepup"), true);
      assert.deepEqual(await seriousA11yViolations(page), []);
      await screenshot(page, "portal-passkey-remove-step-up");

      // A removal posted without the step-up (a forged form, or the lost phone's open session) is refused.
      const csrf = await page.getAttribute("#passkey-stepup", "data-csrf");
      const forged = await page.request.post(`${origin}/portal/passkey-remove`, {
        form: { csrf: csrf ?? "", lang: "ja", id: lost.id },
        headers: { origin, "sec-fetch-site": "same-origin" },
      });
      assert.equal(forged.status(), 403);
      assert.match(await forged.text(), /ご本人の確認が必要です/);

      // The step-up with the tablet's passkey, then the removal.
      await Promise.all([page.waitForURL(/confirmed=1/), page.click("#passkey-stepup")]);
      assert.match((await page.textContent("main")) ?? "", /確認できました/);
      assert.deepEqual(await seriousA11yViolations(page), []);
      await screenshot(page, "portal-passkey-remove-confirmed");
      await Promise.all([page.waitForURL(/removed=1/), page.click("#passkey-remove")]);
      const after = (await page.textContent("main")) ?? "";
      assert.match(after, /パスキーを削除しました/);
      assert.doesNotMatch(after, /なくしたスマホ/);
      assert.match(after, /タブレット/);
      assert.deepEqual(await seriousA11yViolations(page), []);

      const left = await m.t.app.database.db
        .selectFrom("passkeys")
        .select(["name"])
        .where("account_id", "=", owner.accountId)
        .where("removed_at", "is", null)
        .execute();
      assert.deepEqual(
        left.map((k) => k.name),
        ["タブレット"],
        "the lost phone's passkey is gone",
      );
      const stepUps = await m.t.app.database.db
        .selectFrom("sessions")
        .select(["second_factor_kind"])
        .where("account_id", "=", owner.accountId)
        .where("second_factor_kind", "=", "passkey")
        .execute();
      assert.ok(stepUps.length >= 1, "the session's fresh second factor is the tablet's passkey");
      assert.ok(await m.t.lastMail(email, "passkey_removed"), "she is told by mail");
      const credentials = await tablet.credentials();
      assert.equal(credentials.length, 1);
    } finally {
      await ctx.close();
    }
  });
});
