import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";

/**
 * The security center is opened from the store through a one-time URL (createPortalSession). A URL that leaks — a
 * browser history, a proxy log, a shoulder — must be worth nothing after its first use or after a few minutes, must
 * never open another account, and the page must die with the Mamori session it was made for. Its one-click "Not me"
 * must refuse a cross-site post.
 */
describe("stolen-portal-url-used-twice", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const portalUrl = async (session: string) => {
    const r = await t.call("POST", "/v1/portal-sessions", undefined, { session });
    assert.equal(r.statusCode, 201, r.body);
    const url = new URL(r.json().url);
    return `${url.pathname}${url.search}`;
  };
  const get = (url: string, cookie?: string) =>
    t.app.http.inject({ method: "GET", url, headers: { accept: "text/html", ...(cookie ? { cookie } : {}) } });
  const cookieOf = (r: { headers: Record<string, unknown> }) => {
    const raw = r.headers["set-cookie"];
    const all = (Array.isArray(raw) ? raw : [raw]).filter((x): x is string => typeof x === "string");
    return all.map((c) => c.split(";")[0]!).join("; ");
  };

  it("the URL works once: a second opening gets a page saying so, and no session", async () => {
    const { token } = await t.signUp("portal-once@example.jp");
    const url = await portalUrl(token);
    const first = await get(url);
    assert.equal(first.statusCode, 303);
    assert.match(cookieOf(first), /mamori_portal=mps_/);
    const page = await get("/portal/", cookieOf(first));
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /portal-once@example\.jp/);
    assert.match(page.body, /ログイン中の端末|Signed-in devices/);

    const again = await get(url);
    assert.equal(again.statusCode, 410);
    assert.match(String(again.headers["content-type"]), /text\/html/);
    assert.equal(again.headers["set-cookie"], undefined);
  });

  it("an unused URL is dead after five minutes; a garbled one gets a page, never JSON", async () => {
    const { token } = await t.signUp("portal-late@example.jp");
    const url = await portalUrl(token);
    t.clock.advance(5 * 60_000 + 1);
    const late = await get(url);
    assert.equal(late.statusCode, 410);
    assert.equal(late.headers["set-cookie"], undefined);
    const garbled = await get("/portal/enter?t=mpl_%3Cscript%3E");
    assert.equal(garbled.statusCode, 400);
    assert.match(String(garbled.headers["content-type"]), /text\/html/);
    assert.doesNotMatch(garbled.body, /<script>/);
  });

  it("the page ends with the Mamori session; no session, no URL", async () => {
    const { token } = await t.signUp("portal-end@example.jp");
    const opened = await get(await portalUrl(token));
    const cookie = cookieOf(opened);
    assert.equal((await get("/portal/", cookie)).statusCode, 200);
    assert.equal((await t.call("POST", "/v1/session/sign-out", undefined, { session: token })).statusCode, 200);
    const after = await get("/portal/", cookie);
    assert.equal(after.statusCode, 401);
    assert.match(after.body, /開き直してください|open it again/);
    const none = await t.call("POST", "/v1/portal-sessions", undefined, { session: token });
    assert.equal(none.statusCode, 401);
    assert.equal(none.json().error.code, "session_invalid");
  });

  it("one account's cookie shows only that account", async () => {
    const a = await t.signUp("portal-a@example.jp");
    await t.signUp("portal-b@example.jp");
    const page = await get("/portal/", cookieOf(await get(await portalUrl(a.token))));
    assert.match(page.body, /portal-a@example\.jp/);
    assert.doesNotMatch(page.body, /portal-b@example\.jp/);
  });

  it("'Not me' on the attacker's session locks the account down in one click; a cross-site post does nothing", async () => {
    const owner = await t.signUp("portal-victim@example.jp");
    t.clock.advance(60_000);
    const atk = await t.signIn("portal-victim@example.jp", STRONG, ATTACKER);
    assert.equal(atk.status, "signed_in");
    const cookie = cookieOf(await get(await portalUrl(owner.token)));
    const page = await get("/portal/", cookie);
    const both = `${cookie}; ${cookieOf(page)}`;
    const csrf = page.body.match(/name="csrf" value="([^"]+)"/)?.[1];
    assert.ok(csrf, "the page carries a CSRF token");
    const sessionId = atk.session.id as string;
    assert.match(page.body, new RegExp(`name="ref" value="${sessionId}"`), "the attacker's session is listed");

    const post = (headers: Record<string, string>, form: Record<string, string>) =>
      t.app.http.inject({
        method: "POST",
        url: "/portal/not-me",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html", ...headers },
        payload: new URLSearchParams(form).toString(),
      });
    const forged = await post(
      { cookie: both, "sec-fetch-site": "cross-site" },
      { csrf, kind: "session", ref: sessionId },
    );
    assert.equal(forged.statusCode, 403);
    const stillIn = await t.call("POST", "/v1/sessions/introspect", { token: atk.session.token });
    assert.equal(stillIn.json().active, true, "a forged post did nothing");

    const done = await post(
      { cookie: both, "sec-fetch-site": "same-origin" },
      { csrf, kind: "session", ref: sessionId },
    );
    assert.equal(done.statusCode, 200, done.body);
    assert.match(done.body, /アカウントを保護しました|Your account is protected/);
    const out = await t.call("POST", "/v1/sessions/introspect", { token: atk.session.token });
    assert.equal(out.json().active, false, "the attacker is signed out");
    const acc = await t.app.identity.getAccount(owner.accountId);
    assert.equal(acc.status, "frozen");
    assert.equal((await get("/portal/", cookie)).statusCode, 401, "the portal ended with the lockdown");
  });
});
