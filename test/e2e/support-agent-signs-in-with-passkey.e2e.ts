import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, before, describe, it } from "node:test";
import {
  type Browser,
  browserSkip,
  type LiveMamori,
  launch,
  liveMamori,
  seriousA11yViolations,
  virtualAuthenticator,
} from "./browser.ts";
import { consoleSignIn, supportAgent } from "./stage.ts";

const skip = browserSkip();

/** A free port, so Mamori's public URL (and with it the console passkeys' RP id and origin) can name it. */
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

// Issue 17 item 3, "staff can sign in to the console with one": a support agent, signed in with password and
// authenticator, adds a passkey on the console's パスキー page; later, in a browser with no console cookie, she signs in
// with the passkey alone. Chromium's virtual authenticator (CDP WebAuthn: ctap2, internal, resident keys, user
// verification) stands in for her laptop's. localhost: WebAuthn needs a domain, not an IP.
describe("support agent signs in to the console with a passkey (real browser)", { skip }, () => {
  let m: LiveMamori;
  let browser: Browser;
  let origin: string;
  before(async () => {
    const port = await freePort();
    origin = `http://localhost:${port}`;
    m = await liveMamori({ MAMORI_PUBLIC_URL: origin }, port);
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await m?.close();
  });

  it("she adds a passkey in the console, then signs in with it: no password, no code", async () => {
    const staff = await supportAgent({ m }, "takahashi");
    const ctx = await browser.newContext({ locale: "ja-JP" });
    const page = await ctx.newPage();
    try {
      const authenticator = await virtualAuthenticator(page);

      // At localhost (the public URL), not the listener's 127.0.0.1: WebAuthn refuses an IP address as RP id.
      await consoleSignIn({ m: { ...m, base: origin } }, page, staff);
      await page.getByRole("link", { name: "パスキー" }).click();
      assert.equal(await page.textContent("h1"), "パスキー");
      assert.match((await page.textContent("main")) ?? "", /パスキーはまだありません/);
      assert.ok(await page.locator("#passkey-add").isVisible(), "the script showed the add button");
      assert.ok(!(await page.locator("#passkey-nojs").isVisible()), "and hid the no-script note");
      assert.deepEqual(await seriousA11yViolations(page), []);
      await page.fill("#f-passkey-name", "業務用ノートPC");
      await Promise.all([page.waitForEvent("load"), page.click("#passkey-add")]);
      assert.match((await page.textContent("main")) ?? "", /業務用ノートPC/, "the new passkey is listed");
      const credentials = await authenticator.credentials();
      assert.equal(credentials.length, 1);
      assert.equal(credentials[0]?.rpId, "localhost", "bound to Mamori's own host");

      // Later: no console cookie in this browser; she signs in with the passkey alone.
      await ctx.clearCookies();
      const res = await page.goto(`${origin}/console/sign-in`);
      assert.equal(res?.status(), 200);
      assert.match(res?.headers()["content-security-policy"] ?? "", /script-src 'self'/);
      assert.equal(await page.textContent("h1"), "スタッフのログイン");
      assert.deepEqual(await seriousA11yViolations(page), []);
      await Promise.all([page.waitForURL(/\/console\/$/), page.click("#passkey-signin")]);
      assert.equal(await page.textContent("h1"), "アカウントを探す");
      assert.match((await page.textContent("header")) ?? "", /takahashi（担当者）/);
      const log = await m.t.app.database.db
        .selectFrom("staff_events")
        .select(["type", "data"])
        .where("type", "=", "staff.signin.succeeded")
        .orderBy("seq", "desc")
        .executeTakeFirstOrThrow();
      assert.equal(JSON.parse(log.data).factor, "passkey", "the staff log says how she signed in");
    } finally {
      await ctx.close();
    }
  });
});
