import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { addPasskey, TEST_ORIGIN } from "../../src/testing/passkeys.ts";
import { softAssert } from "../../src/testing/soft-authenticator.ts";
import { openPortal, textOf } from "./helpers.ts";

/**
 * Adding a passkey is a sensitive change (a way back in). The security center's passkey list showed its add button to
 * any session, and on a session past the freshness window the script's add then failed (reauthentication_required)
 * with nothing to do about it. Someone at a device she left signed in must not add one; she must be able to: the list
 * now shows the same step-up as the removal first — another passkey when she has one, the password alone while she
 * has nothing stronger — and only a confirmed session gets the add button.
 */
describe("passkey-added-from-stale-session", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("password only: past the window, the password step first, then the add button", async () => {
    const owner = await t.signUp("stale-add@example.jp", STRONG, undefined, "ja");
    const b = await openPortal(t, owner.token);
    assert.match((await b.get("/portal/passkeys")).body, /id="passkey-add"/, "fresh from sign-up: add at once");
    t.clock.advance(11 * 60_000);
    const stale = await b.get("/portal/passkeys");
    assert.equal(stale.statusCode, 200);
    assert.doesNotMatch(stale.body, /id="passkey-add"/, "no add button for a session past the window");
    assert.doesNotMatch(stale.body, /id="passkey-stepup"/, "no passkey to step up with");
    assert.match(
      textOf(stale.body),
      /パスキーを追加する前に、ご本人の確認が必要です。パスワードをもう一度入力してください。/,
    );
    assert.doesNotMatch(stale.body, /name="code"/, "nothing stronger than the password is enrolled");
    const start = await t.call("POST", "/v1/passkeys/registration", {}, { session: owner.token });
    assert.equal(start.json().error?.code, "reauthentication_required", "the API agrees: not without the step");

    const wrong = await b.post("/portal/passkey-remove/confirm", { password: "not her password at all", lang: "ja" });
    assert.equal(wrong.statusCode, 422);
    assert.match(textOf(wrong.body), /パスワードが違います。/);
    const ok = await b.post("/portal/passkey-remove/confirm", { password: STRONG, lang: "ja" });
    assert.equal(ok.statusCode, 303, ok.body);
    assert.equal(ok.headers.location, "./passkeys?lang=ja&confirmed=1");
    const back = await b.get("/portal/passkeys?lang=ja&confirmed=1");
    assert.match(back.body, /id="passkey-add"/);
    assert.match(textOf(back.body), /確認できました。10分以内に追加してください。/);
  });

  it("with a passkey: the password alone is not offered, another passkey is", async () => {
    const owner = await t.signUp("stale-add-2@example.jp", STRONG, undefined, "ja");
    const key = await addPasskey(t, owner.token, { name: "スマホ" });
    assert.equal(key.res.statusCode, 201, key.res.body);
    const b = await openPortal(t, owner.token);
    t.clock.advance(11 * 60_000);
    const stale = await b.get("/portal/passkeys");
    assert.doesNotMatch(stale.body, /id="passkey-add"/);
    assert.match(stale.body, /id="passkey-stepup"[^>]*data-finish="\.\/passkey-remove\/step-up\?lang=ja"/);
    assert.doesNotMatch(stale.body, /name="password"/, "a password alone never meets a passkey's gate");
  });
});

/**
 * The security center's password step (ご本人の確認, before an app password, a country list, the authenticator) asked
 * a passkey-only owner for her password alone, which the gate refuses for an account whose strongest factor is a
 * passkey: she was sent back to the same page for ever. It now offers the shared step-up with her passkey.
 */
describe("passkey-only-owner-confirms-a-change", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("the password step offers her passkey (no password-only form), and its answer lets the change through", async () => {
    const owner = await t.signUp("passkey-only@example.jp", STRONG, undefined, "ja");
    const key = await addPasskey(t, owner.token, { name: "スマホ" });
    assert.ok(key.credential, key.res.body);
    const b = await openPortal(t, owner.token);
    await b.get("/portal/");
    t.clock.advance(11 * 60_000);
    const asked = await b.post("/portal/app-passwords", { name: "メールアプリ" });
    assert.equal(asked.statusCode, 403);
    assert.match(asked.body, /id="passkey-stepup"[^>]*data-finish="\.\/step-up\?next=app-passwords&amp;lang=ja"/);
    assert.doesNotMatch(asked.body, /name="password"/, "the password alone would be refused");
    assert.match(String(asked.headers["content-security-policy"]), /script-src 'self'/);

    const json = (url: string, payload: unknown) =>
      t.app.http.inject({
        method: "POST",
        url,
        headers: { "content-type": "application/json", cookie: b.cookie, "sec-fetch-site": "same-origin" },
        payload: JSON.stringify(payload),
      });
    const forged = await json("/portal/step-up/options", { csrf: "not-the-token" });
    assert.equal(forged.statusCode, 403);
    const o = await json("/portal/step-up/options", { csrf: b.csrf() });
    assert.equal(o.statusCode, 200, o.body);
    const done = await json("/portal/step-up?next=app-passwords&lang=ja", {
      csrf: b.csrf(),
      response: softAssert(key.credential!, o.json().challenge, TEST_ORIGIN),
    });
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(done.json().url, "./?lang=ja&confirmed=1#app-passwords");
    const made = await b.post("/portal/app-passwords", { name: "メールアプリ" });
    assert.equal(made.statusCode, 201, made.body);
  });
});
