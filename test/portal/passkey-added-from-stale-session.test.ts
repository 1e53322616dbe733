import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { addPasskey } from "../../src/testing/passkeys.ts";
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
