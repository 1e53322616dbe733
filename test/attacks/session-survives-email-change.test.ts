import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, codeIn, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";

describe("session-survives-email-change", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("the owner's email change ends the attacker's session and tells both addresses", async () => {
    const owner = await t.signUp("mika@example.jp");
    await t.verifyEmail(owner.token, "mika@example.jp");
    const attacker = await t.signIn("mika@example.jp", STRONG, ATTACKER);
    await t.call("POST", "/v1/email/change", { newEmail: "mika.new@example.jp" }, { session: owner.token });
    const code = codeIn((await t.lastMail("mika.new@example.jp", "email_change_code"))?.body);
    const r = await t.call("POST", "/v1/email/change/confirm", { code }, { session: owner.token });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(
      (await t.call("POST", "/v1/sessions/introspect", { token: attacker.session.token })).json().active,
      false,
    );
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: owner.token })).json().active, true);
    assert.ok(await t.lastMail("mika.new@example.jp", "email_changed"));
    assert.ok(await t.lastMail("mika@example.jp", "email_changed_old_address"));
    // The old address stays a recovery contact for 30 days: a reset link can still go there.
    await t.call("POST", "/v1/password/reset-request", { email: "mika@example.jp", context: ATTACKER });
    assert.ok(await t.lastMail("mika@example.jp", "password_reset"));
  });

  it("a sensitive change needs a recent sign-in", async () => {
    const owner = await t.signUp("stale@example.jp");
    t.clock.advance(11 * 60_000);
    const r = await t.call("POST", "/v1/email/change", { newEmail: "stale2@example.jp" }, { session: owner.token });
    assert.equal(r.statusCode, 403);
    assert.equal(r.json().error.code, "reauthentication_required");
    const re = await t.call("POST", "/v1/session/reauthenticate", { password: STRONG }, { session: owner.token });
    assert.equal(re.statusCode, 200);
    const ok = await t.call(
      "POST",
      "/v1/email/change",
      { newEmail: "stale2@example.jp" },
      { session: re.json().session.token },
    );
    assert.equal(ok.statusCode, 200, ok.body);
  });
});
