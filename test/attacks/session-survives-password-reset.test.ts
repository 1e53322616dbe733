import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, linkToken, makeTestApp, STRONG, STRONG2, type TestApp } from "../../src/testing/app.ts";

// Seed 000: the shop invalidated the password but the attacker's session lived on and bought again ten days later.
describe("session-survives-password-reset", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("a password reset ends the attacker's open session on the very next request", async () => {
    const owner = await t.signUp("hanako@example.jp");
    await t.verifyEmail(owner.token, "hanako@example.jp");
    const attacker = await t.signIn("hanako@example.jp", STRONG, ATTACKER);
    assert.equal(attacker.http, 200);
    const attackerToken = attacker.session.token as string;
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: attackerToken })).json().active, true);

    const r = await t.call("POST", "/v1/password/reset-request", {
      email: "hanako@example.jp",
      context: { ip: "133.0.0.10", userAgent: "x", channel: "web" },
    });
    assert.equal(r.statusCode, 202);
    const mail = await t.lastMail("hanako@example.jp", "password_reset");
    const token = linkToken(mail?.body, "/links/reset-password");
    const done = await t.call("POST", "/v1/password/reset", { token, newPassword: STRONG2 });
    assert.equal(done.statusCode, 200, done.body);

    // Ten days later the attacker tries again: the session is gone, on every call.
    t.clock.advance(10 * 24 * 3600_000);
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: attackerToken })).json().active, false);
    const list = await t.call("GET", "/v1/sessions", undefined, { session: attackerToken });
    assert.equal(list.statusCode, 401);
    assert.equal(list.json().error.code, "session_invalid");
    // …and the owner's own session ended too (a reset ends every session).
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: owner.token })).json().active, false);
    // The stolen password no longer signs in; the new one does.
    assert.equal((await t.signIn("hanako@example.jp", STRONG, ATTACKER)).http, 401);
    assert.equal((await t.signIn("hanako@example.jp", STRONG2)).http, 200);
  });

  it("a password change by the owner ends every other session but keeps the owner's", async () => {
    const owner = await t.signUp("taro@example.jp");
    await t.verifyEmail(owner.token, "taro@example.jp");
    const attacker = await t.signIn("taro@example.jp", STRONG, ATTACKER);
    const r = await t.call(
      "POST",
      "/v1/password",
      { currentPassword: STRONG, newPassword: STRONG2 },
      { session: owner.token },
    );
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(
      (await t.call("POST", "/v1/sessions/introspect", { token: attacker.session.token })).json().active,
      false,
    );
    // The owner's session goes on, under a new token (a token that leaked before the change is dead).
    assert.equal(
      (await t.call("POST", "/v1/sessions/introspect", { token: r.json().session.token })).json().active,
      true,
    );
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: owner.token })).json().active, false);
    const notice = await t.lastMail("taro@example.jp", "password_changed");
    assert.ok(notice, "the owner is told of the password change");
    assert.match(notice.body, /\/links\/not-me\?t=/);
  });
});
