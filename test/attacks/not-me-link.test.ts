import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, linkToken, makeTestApp, STRONG, STRONG2, type TestApp } from "../../src/testing/app.ts";

// Seed 003: sign-in codes the owner never asked for arrived and nothing followed. Every notice must let the owner act.
describe("sign-in-from-new-device-then-not-me", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("a sign-in from a new device and country is told, and 'This wasn't me' ends everything", async () => {
    const owner = await t.signUp("sora@example.jp");
    await t.verifyEmail(owner.token, "sora@example.jp");
    // A second address, verified, also hears every notice.
    await t.call("POST", "/v1/phones", { phone: "+81 90-1234-5678" }, { session: owner.token });
    const sms = await t.lastMail("+819012345678", "phone_verify_code");
    const code = sms?.body.match(/\b(\d{6})\b/)?.[1];
    assert.equal(
      (await t.call("POST", "/v1/contacts/verification/confirm", { kind: "phone", code }, { session: owner.token }))
        .statusCode,
      200,
    );

    // phone_added bumped the epoch (ending other sessions); the owner stays signed in.
    t.clock.advance(3_600_000);
    const atk = await t.signIn("sora@example.jp", STRONG, ATTACKER);
    assert.equal(atk.http, 200);
    const notice = await t.lastMail("sora@example.jp", "signin_new_device");
    assert.ok(notice, "email notice of the new device");
    assert.match(notice.body, /8\.8\.8\.8/);
    assert.ok(await t.lastMail("+819012345678", "signin_new_device"), "the verified phone is told too");

    // Known device and country: no notice.
    const before_ = (await t.mails("sora@example.jp")).length;
    await t.signIn("sora@example.jp", STRONG);
    assert.equal((await t.mails("sora@example.jp")).length, before_);

    const token = linkToken(notice.body, "/links/not-me");
    const r = await t.call("POST", "/v1/not-me", { token }, { auth: null });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: atk.session.token })).json().active, false);
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: owner.token })).json().active, false);
    // The account is frozen: the stolen password is useless, even to the owner, until recovery.
    const blocked = await t.signIn("sora@example.jp", STRONG, ATTACKER);
    assert.equal(blocked.http, 423);
    assert.equal(blocked.error.code, "account_frozen");
    // Nor does a password reset open it: only recovery, which also reviews devices.
    await t.call("POST", "/v1/password/reset-request", { email: "sora@example.jp", context: ATTACKER });
    assert.ok(!(await t.mails("sora@example.jp")).some((m) => m.template === "password_reset"));
    // Single use.
    assert.equal((await t.call("POST", "/v1/not-me", { token }, { auth: null })).json().error.code, "link_invalid");
    // Both verified addresses hear of the lockdown; the owner recovers through one of them.
    assert.ok(await t.lastMail("+819012345678", "account_locked_down"));
    const { devices } = await t.recover("sora@example.jp", STRONG2);
    assert.ok(devices.some((d) => d.sessionId === atk.session.id && d.role === "attacker"));
    assert.equal((await t.signIn("sora@example.jp", STRONG2)).http, 200);
    assert.equal((await t.signIn("sora@example.jp", STRONG, ATTACKER)).http, 401);
  });

  it("a forged or altered link is refused", async () => {
    const r = await t.call("POST", "/v1/not-me", { token: "abc.def" }, { auth: null });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.code, "link_invalid");
  });

  it("the notice is written in the account's language", async () => {
    const r = await t.call("POST", "/v1/accounts", {
      email: "ja@example.jp",
      password: STRONG,
      language: "ja",
      context: ATTACKER,
    });
    const m = await t.lastMail("ja@example.jp", "signup_code");
    assert.ok(r.statusCode === 202 && m);
    assert.match(m.subject + m.body, /[\u3040-\u30ff\u4e00-\u9fff]/);
  });
});
