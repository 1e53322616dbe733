import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, codeIn, linkToken, makeTestApp, STRONG, STRONG2, type TestApp } from "../../src/testing/app.ts";

/** The attacker signs in with the stolen password and moves the account to an address of theirs. */
async function takeOver(t: TestApp, email: string, evil: string) {
  const owner = await t.signUp(email);
  await t.verifyEmail(owner.token, email);
  t.clock.advance(3_600_000);
  const atk = await t.signIn(email, STRONG, ATTACKER);
  const s = atk.session.token as string;
  await t.call("POST", "/v1/email/change", { newEmail: evil }, { session: s });
  const code = codeIn((await t.lastMail(evil, "email_change_code"))?.body);
  const r = await t.call("POST", "/v1/email/change/confirm", { code }, { session: s });
  assert.equal(r.statusCode, 200, r.body);
  return { owner, attackerSession: s, notice: await t.lastMail(email, "email_changed_old_address") };
}

// Ways an attacker who changed the email could keep the owner from getting back in.
describe("attacker-blocks-the-way-back", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("the owner's old address cannot be registered by anyone while its revert link is valid", async () => {
    const { notice } = await takeOver(t, "held@example.jp", "evil1@attacker.example");
    const squat = await t.call("POST", "/v1/accounts", {
      email: "held@example.jp",
      password: STRONG2,
      context: ATTACKER,
    });
    // Sign-up answers as for a free address (it tells nobody which addresses are held), but no code is sent: the
    // address hears that it already has an account, and the sign-up can never be confirmed.
    assert.equal(squat.statusCode, 202, squat.body);
    assert.ok(await t.lastMail("held@example.jp", "signup_address_taken"));
    const codes = (await t.mails("held@example.jp")).filter((m) => m.template === "signup_code");
    assert.equal(codes.length, 1, "only the owner's own sign-up code, from long before");
    for (const code of ["000000", "123456"]) {
      const c = await t.call("POST", "/v1/accounts/confirm", {
        signupId: squat.json().signupId,
        code,
        context: ATTACKER,
      });
      assert.equal(c.statusCode, 400);
      assert.equal(c.json().error.code, "code_invalid");
    }
    const r = await t.call("POST", "/v1/email/change/revert", {
      token: linkToken(notice?.body, "/links/email-revert"),
    });
    assert.equal(r.statusCode, 200, r.body);
  });

  it("'This wasn't me' on the old address's notice undoes the change; no reset link goes to the attacker", async () => {
    const { attackerSession, notice } = await takeOver(t, "notme@example.jp", "evil2@attacker.example");
    const r = await t.call("POST", "/v1/not-me", { token: linkToken(notice?.body, "/links/not-me") }, { auth: null });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: attackerSession })).json().active, false);
    const attackerMail = await t.mails("evil2@attacker.example");
    assert.ok(!attackerMail.some((m) => /reset-password/.test(m.body)), "no reset link to the attacker's address");
    // The attacker's address is gone: a reset request to it sends nothing.
    await t.call("POST", "/v1/password/reset-request", { email: "evil2@attacker.example", context: ATTACKER });
    assert.ok(!(await t.mails("evil2@attacker.example")).some((m) => m.template === "password_reset"));
    // The owner's address got the way back in: it was told of the lockdown, and recovery goes through it.
    assert.ok(await t.lastMail("notme@example.jp", "account_locked_down"));
    assert.ok(!attackerMail.some((m) => m.template === "account_locked_down"));
    // The attacker's address cannot start a recovery: it was not on the account before the window.
    await t.call("POST", "/v1/recovery/start", { identifier: "evil2@attacker.example" });
    assert.ok(!(await t.mails("evil2@attacker.example")).some((m) => m.template === "recovery_code"));
    await t.recover("notme@example.jp", STRONG2);
    assert.equal((await t.signIn("notme@example.jp", STRONG2)).http, 200);
    // The attacker's address no longer signs in to anything: it gets the challenge any unknown address gets, which
    // nothing can complete.
    const gone = await t.signIn("evil2@attacker.example", STRONG2, ATTACKER);
    assert.equal(gone.status, "challenge");
    const done = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: gone.challengeToken,
      factor: "email_code",
      code: "000000",
    });
    assert.equal(done.json().error.code, "challenge_failed");
  });

  it("re-authenticating often does not lock the owner out of sign-in", async () => {
    const a = await t.signUp("often@example.jp");
    let token = a.token;
    for (let i = 0; i < 12; i++) {
      const r = await t.call("POST", "/v1/session/reauthenticate", { password: STRONG }, { session: token });
      assert.equal(r.statusCode, 200, r.body);
      token = r.json().session.token;
    }
    assert.equal((await t.signIn("often@example.jp", STRONG)).http, 200);
  });

  it("a mail client's app password cannot sign the owner out everywhere", async () => {
    const a = await t.signUp("imap-only@example.jp");
    const { password } = (await t.call("POST", "/v1/app-passwords", { name: "imap" }, { session: a.token })).json();
    const imap = await t.call("POST", "/v1/sign-in/app-password", {
      email: "imap-only@example.jp",
      appPassword: password,
      context: { ip: "1.1.1.1", userAgent: "Thunderbird/115.0", channel: "app-password" },
    });
    const r = await t.call("POST", "/v1/sessions/sign-out-everywhere", {}, { session: imap.json().session.token });
    assert.equal(r.statusCode, 403);
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: a.token })).json().active, true);
  });

  it("an account with no verified address still hears of security changes at its sign-up email", async () => {
    const a = await t.signUp("unverified@example.jp");
    await t.signIn("unverified@example.jp", STRONG, ATTACKER);
    const n = await t.lastMail("unverified@example.jp", "signin_new_device");
    assert.ok(n, "new-device notice sent to the unverified sign-up address");
    assert.ok(a.token);
  });
});

describe("old-address-stays-informed", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("after the attacker changes the email, the old address still hears of the password change that follows", async () => {
    const { attackerSession } = await takeOver(t, "loop@example.jp", "evil3@attacker.example");
    const r = await t.call(
      "POST",
      "/v1/password",
      { currentPassword: STRONG, newPassword: STRONG2 },
      { session: attackerSession },
    );
    assert.equal(r.statusCode, 200, r.body);
    const n = await t.lastMail("loop@example.jp", "password_changed");
    assert.ok(n, "the old address is told of the password change");
    // Its "not me" link undoes the email change too, so the way back goes to the owner, not the attacker.
    const r2 = await t.call("POST", "/v1/not-me", { token: linkToken(n.body, "/links/not-me") }, { auth: null });
    assert.equal(r2.statusCode, 200, r2.body);
    assert.ok(!(await t.mails("evil3@attacker.example")).some((m) => m.template === "account_locked_down"));
    assert.ok(await t.lastMail("loop@example.jp", "account_locked_down"));
  });
});
