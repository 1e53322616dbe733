import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import { ATTACKER, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { openPortal, textOf } from "../portal/helpers.ts";

// Someone who holds a signed-in session (a device left signed in, a stolen cookie) asks the store for a portal URL and
// tries to open a door that outlives the session: an app password, a new authenticator, wider sign-in countries.
// The API refuses these without a fresh sign-in (and the authenticator's code once one is on); the security center
// must be no weaker: the same gate, the password step on a page, nothing created before it.
describe("attacker-with-portal-url-adds-app-password", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const appPasswords = (accountId: string) =>
    t.app.database.db.selectFrom("app_passwords").select(["name"]).where("account_id", "=", accountId).execute();

  it("a stale session gets the password step, a wrong password gets nothing, the owner's password opens it", async () => {
    const email = "portal-apppw@example.jp";
    const { accountId } = await t.signUp(email, STRONG, undefined, "ja");
    const s = await t.signIn(email, STRONG, ATTACKER);
    t.clock.advance(11 * 60_000); // past the 10 minutes a sign-in counts as fresh
    const b = await openPortal(t, s.session.token);
    await b.get("/portal/?lang=ja");

    const tried = await b.post("/portal/app-passwords", { name: "attacker mail" });
    assert.equal(tried.statusCode, 403, tried.body);
    assert.match(textOf(tried.body), /もう一度パスワードを入力してください/);
    assert.deepEqual(await appPasswords(accountId), [], "nothing created before the password step");

    const allowed = await t.app.risk.getAllowedCountries(accountId);
    const countries = await b.post("/portal/countries", { countries: "JP, US, RU" });
    assert.equal(countries.statusCode, 403);
    assert.deepEqual(await t.app.risk.getAllowedCountries(accountId), allowed, "the setting is unchanged");
    const totp = await b.get("/portal/authenticator");
    assert.equal(totp.statusCode, 403, "no authenticator secret is shown to a stale session");
    assert.doesNotMatch(totp.body, /otpauth|class="secret"/);

    const wrong = await b.post("/portal/confirm", { next: "app-passwords", password: "a wrong guess 123" });
    assert.equal(wrong.statusCode, 422);
    assert.match(textOf(wrong.body), /パスワードが違います/);
    assert.equal((await b.post("/portal/app-passwords", { name: "attacker mail" })).statusCode, 403);
    assert.deepEqual(await appPasswords(accountId), []);

    const ok = await b.post("/portal/confirm", { next: "app-passwords", password: STRONG });
    assert.equal(ok.statusCode, 303, ok.body);
    assert.match(String(ok.headers.location), /^\.\/\?lang=ja&confirmed=1#app-passwords$/);
    const made = await b.post("/portal/app-passwords", { name: "メールアプリ" });
    assert.equal(made.statusCode, 201, made.body);
    const pw = made.body.match(/class="secret">([^<]+)</)?.[1];
    assert.ok(pw, "the password is shown once");
    const page = await b.get("/portal/?lang=ja");
    assert.match(textOf(page.body), /メールアプリ/);
    assert.doesNotMatch(page.body, new RegExp(pw!), "never shown again");
    assert.deepEqual(await appPasswords(accountId), [{ name: "メールアプリ" }]);
  });

  it("with an authenticator on, the password alone is not enough: the API asks for the code, so does the page", async () => {
    const email = "portal-apppw-totp@example.jp";
    const owner = await t.signUp(email);
    const enrol = await t.call("POST", "/v1/totp", {}, { session: owner.token });
    assert.equal(enrol.statusCode, 200, enrol.body);
    const secret = enrol.json().secret as string;
    const conf = await t.call(
      "POST",
      "/v1/totp/confirm",
      { code: totpCodeAt(secret, t.clock.now()) },
      { session: owner.token },
    );
    assert.equal(conf.statusCode, 200, conf.body);
    const token = conf.json().session.token as string;
    const accountId = owner.accountId;
    t.clock.advance(11 * 60_000);
    const b = await openPortal(t, token);
    await b.get("/portal/?lang=ja");
    const form = await b.post("/portal/app-passwords", { name: "x" });
    assert.equal(form.statusCode, 403);
    assert.match(form.body, /name="code"/, "the step asks for the authenticator's code");
    const pwOnly = await b.post("/portal/confirm", { next: "app-passwords", password: STRONG });
    assert.equal(pwOnly.statusCode, 303, "the password is right: the session's sign-in is fresh again");
    const still = await b.post("/portal/app-passwords", { name: "x" });
    assert.equal(still.statusCode, 403, "but without the authenticator's code the change is still refused");
    assert.deepEqual(await appPasswords(accountId), []);
    t.clock.advance(31_000);
    const both = await b.post("/portal/confirm", {
      next: "app-passwords",
      password: STRONG,
      code: totpCodeAt(secret, t.clock.now()),
    });
    assert.equal(both.statusCode, 303, both.body);
    assert.equal((await b.post("/portal/app-passwords", { name: "x" })).statusCode, 201);
  });
});
