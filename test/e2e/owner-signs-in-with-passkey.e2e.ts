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

// Issue 17 item 3: the owner adds a passkey from her security center on her phone, and later signs in with it —
// no email, no password — through Mamori's own pages, with Chromium's virtual authenticator as the phone's
// (CDP WebAuthn: ctap2, internal, resident keys, user verification). localhost: WebAuthn needs a domain, not an IP.
describe("owner signs in with a passkey (real browser)", { skip }, () => {
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

  it("she adds a passkey in the security center, then signs in with it alone", async () => {
    const email = "yui.passkey@example.jp";
    const owner = await m.t.signUp(email, STRONG, undefined, "ja");
    const created = await m.t.call("POST", "/v1/portal-sessions", undefined, { session: owner.token });
    const ctx = await phone(browser);
    const page = await ctx.newPage();
    try {
      const authenticator = await virtualAuthenticator(page);

      assert.equal((await page.goto(created.json().url))?.status(), 200);
      const res = await page.goto(`${origin}/portal/passkeys`);
      assert.equal(res?.status(), 200);
      assert.match(res?.headers()["content-security-policy"] ?? "", /script-src 'self'/);
      assert.equal(await page.textContent("h1"), "パスキー");
      assert.match((await page.textContent("main")) ?? "", /パスキーはまだありません/);
      assert.deepEqual(await seriousA11yViolations(page), []);
      await page.fill("#f-passkey-name", "ゆいのスマホ");
      await Promise.all([page.waitForEvent("load"), page.click("#passkey-add")]);
      assert.match((await page.textContent("main")) ?? "", /ゆいのスマホ/, "the new passkey is listed");
      const credentials = await authenticator.credentials();
      assert.equal(credentials.length, 1);
      assert.equal(credentials[0]?.isResidentCredential, true, "a discoverable credential");
      assert.ok(await m.t.lastMail(email, "passkey_added"), "she is told by mail");

      // Later: signed out everywhere in this browser, she signs in with the passkey alone.
      await ctx.clearCookies();
      assert.equal((await page.goto(`${origin}/portal/passkey-sign-in`))?.status(), 200);
      assert.equal(await page.textContent("h1"), "パスキーでログイン");
      assert.deepEqual(await seriousA11yViolations(page), []);
      await Promise.all([page.waitForURL(/\/portal\/$/), page.click("#passkey-signin")]);
      assert.equal(await page.textContent("h1"), "セキュリティセンター");
      const signIns = await m.t.app.database.db
        .selectFrom("login_attempts")
        .select(["outcome", "session_id"])
        .where("account_id", "=", owner.accountId)
        .where("outcome", "=", "succeeded")
        .execute();
      assert.equal(signIns.length, 2, "sign-up and the passkey sign-in, both in the login history");
      const sessions = await m.t.app.database.db
        .selectFrom("sessions")
        .select(["factor"])
        .where("account_id", "=", owner.accountId)
        .execute();
      assert.ok(
        sessions.some((s) => s.factor === "passkey"),
        "a normal session, its factor the passkey",
      );
    } finally {
      await ctx.close();
    }
  });
});
