import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";
import { TEST_ORIGIN } from "../../src/testing/passkeys.ts";
import { softAssert, softRegister } from "../../src/testing/soft-authenticator.ts";
import type { ConsoleBrowser } from "./client.ts";
import { enrolStaff } from "./helpers.ts";

/**
 * The console's passkey pages as a browser meets them (the WebAuthn part answered by the software authenticator):
 * the page and the sign-in page load Mamori's own script files only, the JSON calls need the console cookie and the
 * page's CSRF token, and a passkey sign-in gives the console's cookie with no password.
 */
describe("console passkeys", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  /** A same-origin JSON call from the page's script, with the browser's cookies. */
  const json = (b: ConsoleBrowser, url: string, body: unknown, site = "same-origin") => {
    const path = url.split("?")[0] ?? "/";
    const cookie = [...b.cookies.entries()]
      .filter(([, c]) => path === c.path || path.startsWith(c.path.endsWith("/") ? c.path : `${c.path}/`))
      .map(([k, c]) => `${k}=${c.value}`)
      .join("; ");
    return t.app.http.inject({
      method: "POST",
      url,
      headers: { "content-type": "application/json", accept: "application/json", "sec-fetch-site": site, cookie },
      remoteAddress: "203.0.113.50",
      payload: JSON.stringify(body),
    });
  };
  const dataCsrf = (html: string) => /data-csrf="([^"]+)"/.exec(html)?.[1] ?? "";

  it("a staff member adds a passkey on /console/passkeys and signs in with it alone", async () => {
    const { browser: b } = await enrolStaff(t, "mori", "agent");
    const page = await b.get("/console/passkeys");
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<html lang="ja">/);
    assert.match(page.body, /<h1>パスキー<\/h1>/);
    assert.match(page.body, /パスキーはまだありません/);
    const csp = String(page.headers["content-security-policy"]);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(page.body, /<script src="\.\.\/assets\/passkeys-[0-9a-f]{12}\.js" defer><\/script>/);
    assert.doesNotMatch(page.body, /<script>|onclick=/);
    assert.match(page.body, /data-options="\.\.\/console\/passkeys\/options"/);
    const csrf = dataCsrf(page.body);

    assert.equal((await json(b, "/console/passkeys/options", { csrf: "forged" })).statusCode, 403);
    assert.equal((await json(b, "/console/passkeys/options", { csrf }, "cross-site")).statusCode, 403);
    const o = await json(b, "/console/passkeys/options", { csrf });
    assert.equal(o.statusCode, 200, o.body);
    const { credential, response } = softRegister(o.json(), TEST_ORIGIN);
    const add = await json(b, "/console/passkeys/add", { csrf, response, name: "業務用PC" });
    assert.equal(add.statusCode, 200, add.body);
    const listed = await b.get("/console/passkeys");
    assert.match(listed.body, /業務用PC/);

    // Another browser, nobody signed in: the sign-in page offers the passkey first, then the password.
    const fresh = new (b.constructor as typeof ConsoleBrowser)(t, "203.0.113.51");
    const signInPage = await fresh.get("/console/sign-in");
    assert.match(String(signInPage.headers["content-security-policy"]), /connect-src 'self'/);
    assert.ok(signInPage.body.indexOf("passkey-signin") < signInPage.body.indexOf('name="password"'));
    const sc = dataCsrf(signInPage.body);
    const so = await json(fresh, "/console/sign-in/passkey/options", { csrf: sc });
    assert.equal(so.statusCode, 200, so.body);
    const done = await json(fresh, "/console/sign-in/passkey", {
      csrf: sc,
      response: softAssert(credential, so.json().challenge, TEST_ORIGIN),
    });
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(done.json().url, "/console/");
    const set = String(done.headers["set-cookie"]);
    assert.match(set, /^mamori_console=mad_[A-Za-z0-9_-]+; Path=\/console; HttpOnly; SameSite=Strict/);
    const [pair = ""] = set.split(";");
    fresh.cookies.set("mamori_console", { value: pair.slice(pair.indexOf("=") + 1), path: "/console", raw: set });
    const home = await fresh.get("/console/");
    assert.equal(home.statusCode, 200);
    assert.match(fresh.text(), /mori（担当者）/);

    // Removal is a plain form (no script needed); the removed passkey signs nobody in.
    await fresh.get("/console/passkeys");
    const id = /name="id" value="([^"]+)"/.exec(fresh.last)?.[1] ?? "";
    const rm = await fresh.post("/console/passkeys/remove", { id });
    assert.equal(rm.statusCode, 200);
    assert.match(fresh.text(), /パスキーを削除しました/);
    const so2 = await json(fresh, "/console/sign-in/passkey/options", { csrf: sc });
    const again = await json(fresh, "/console/sign-in/passkey", {
      csrf: sc,
      response: softAssert(credential, so2.json().challenge, TEST_ORIGIN),
    });
    assert.equal(again.statusCode, 401);
    assert.equal(again.json().error.code, "passkey_invalid");
  });

  it("a console left open past 10 minutes shows no add button, and its JSON call is refused", async () => {
    const { browser: b } = await enrolStaff(t, "sato", "agent");
    const page = await b.get("/console/passkeys");
    const csrf = dataCsrf(page.body);
    t.clock.advance(8 * 60_000);
    await b.get("/console/");
    t.clock.advance(8 * 60_000);
    const stale = await b.get("/console/passkeys");
    assert.equal(stale.statusCode, 200);
    assert.match(b.text(), /10分以内にログインしている必要があります/);
    assert.doesNotMatch(stale.body, /id="passkey-add"/);
    const o = await json(b, "/console/passkeys/options", { csrf });
    assert.equal(o.statusCode, 403);
    assert.equal(o.json().error.code, "reauthentication_required");
    // Signed out: the JSON calls answer 401, not a page.
    b.cookies.delete("mamori_console");
    assert.equal((await json(b, "/console/passkeys/options", { csrf })).statusCode, 401);
  });
});
