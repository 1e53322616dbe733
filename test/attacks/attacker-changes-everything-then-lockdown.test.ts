import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import { ATTACKER, codeIn, makeTestApp, STRONG, STRONG2, STRONG3, type TestApp } from "../../src/testing/app.ts";

// Seed 001: the attacker changed the email and the password; a security team restored the account by hand, hours
// later. One lockdown must undo every change of the window and leave the owner a way back that the attacker lacks.
describe("attacker-changes-everything-then-lockdown", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("support's lockdown ends the attacker's session and restores email, phone, password and second factor", async () => {
    const owner = await t.signUp("haru@example.jp");
    await t.verifyEmail(owner.token, "haru@example.jp");
    await t.call("POST", "/v1/phones", { phone: "+81 90-5555-0101" }, { session: owner.token });
    const sms = codeIn((await t.lastMail("+819055550101", "phone_verify_code"))?.body);
    await t.call("POST", "/v1/contacts/verification/confirm", { kind: "phone", code: sms }, { session: owner.token });
    t.clock.advance(10 * 86_400_000);

    // The attacker, with the stolen password, from abroad.
    const atk = await t.signIn("haru@example.jp", STRONG, ATTACKER);
    assert.equal(atk.http, 200);
    // Each password or factor change gives the changer's session a new token; the attacker keeps the latest.
    let s = atk.session.token as string;
    t.clock.advance(60_000);
    await t.call("POST", "/v1/email/change", { newEmail: "haru.new@attacker.example" }, { session: s });
    const ec = codeIn((await t.lastMail("haru.new@attacker.example", "email_change_code"))?.body);
    assert.equal((await t.call("POST", "/v1/email/change/confirm", { code: ec }, { session: s })).statusCode, 200);
    assert.equal(
      (await t.call("POST", "/v1/phones/remove", { phone: "+819055550101" }, { session: s })).statusCode,
      200,
    );
    const pw = await t.call("POST", "/v1/password", { currentPassword: STRONG, newPassword: STRONG2 }, { session: s });
    assert.equal(pw.statusCode, 200, pw.body);
    s = pw.json().session.token;
    const enroll = (await t.call("POST", "/v1/totp", {}, { session: s })).json();
    const confirm = await t.call(
      "POST",
      "/v1/totp/confirm",
      { code: totpCodeAt(enroll.secret, t.clock.now()) },
      { session: s },
    );
    assert.equal(confirm.statusCode, 200, confirm.body);
    s = confirm.json().session.token;
    // And opens the door: sign-ins from any country (seed 004's "block foreign access" switched off).
    const door = await t.call("POST", "/v1/account/sign-in-countries", { countries: [] }, { session: s });
    assert.equal(door.statusCode, 200, door.body);
    assert.ok(await t.lastMail("haru@example.jp", "sign_in_countries_changed"), "the owner's old address is told");
    t.clock.advance(60 * 60_000);

    const admin = await t.adminToken();
    const lock = await t.call(
      "POST",
      `/v1/admin/accounts/${owner.accountId}/lockdown`,
      { reason: "owner called: email and password changed" },
      { auth: admin },
    );
    assert.equal(lock.statusCode, 200, lock.body);
    const report = lock.json();
    assert.equal(report.status, "locked_down");
    assert.equal(report.sinceSource, "computed");
    assert.equal(Date.parse(report.since), Date.parse(atk.session.expiresAt) - 30 * 86_400_000);
    assert.ok(report.steps.every((x: { status: string }) => x.status === "done"));
    assert.ok(report.sessions.some((x: { sessionId: string; role: string }) => x.sessionId === atk.session.id));
    const did = (type: string, action: string) =>
      report.objects.some((o: { objectType: string; action: string }) => o.objectType === type && o.action === action);
    for (const [type, action] of [
      ["account", "frozen"],
      ["session", "ended"],
      ["contact_point", "removed"],
      ["contact_point", "restored"],
      ["password", "restored"],
      ["second_factor", "restored"],
      ["setting", "restored"],
    ]) {
      assert.ok(did(type as string, action as string), `${type} ${action}`);
    }

    // The attacker is out on the next request, and neither address nor password of theirs opens anything.
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: s })).json().active, false);
    assert.equal((await t.signIn("haru.new@attacker.example", STRONG2, ATTACKER)).status, "challenge", "unknown now");
    assert.equal((await t.signIn("haru@example.jp", STRONG2, ATTACKER)).http, 401);
    const frozen = await t.signIn("haru@example.jp", STRONG, ATTACKER);
    assert.equal(frozen.error.code, "account_frozen");

    // The account is as it was: the owner's email and phone, no authenticator of the attacker's.
    const found = (await t.call("GET", "/v1/admin/accounts?q=haru%40example.jp", undefined, { auth: admin })).json();
    const acc = found.accounts[0];
    assert.deepEqual(
      acc.emails.map((e: { value: string }) => e.value),
      ["haru@example.jp"],
    );
    assert.deepEqual(
      acc.phones.map((e: { value: string }) => e.value),
      ["+819055550101"],
    );
    assert.equal(acc.totpEnabled, false);
    assert.equal(acc.status, "frozen");

    // Every address the owner had hears of it; the attacker's does not.
    assert.ok(await t.lastMail("haru@example.jp", "account_locked_down"));
    assert.ok(await t.lastMail("+819055550101", "account_locked_down"));
    assert.ok(!(await t.mails("haru.new@attacker.example")).some((m) => m.template === "account_locked_down"));

    // Recovery refuses the passwords the attacker knew: the stolen one and the one they set.
    const start = await t.call("POST", "/v1/recovery/start", { identifier: "+81 90 5555 0101" });
    const code = codeIn((await t.lastMail("+819055550101", "recovery_code"))?.body);
    const v = await t.call("POST", "/v1/recovery/verify", { recoveryId: start.json().recoveryId, code });
    assert.equal(v.statusCode, 200, v.body);
    const { recoveryToken } = v.json();
    for (const pw of [STRONG, STRONG2]) {
      const r = await t.call("POST", "/v1/recovery/password", { recoveryToken, newPassword: pw });
      assert.equal(r.json().error.code, "password_used_in_window");
    }
    const early = await t.call("POST", "/v1/recovery/complete", { recoveryToken });
    assert.equal(early.json().error.code, "recovery_step_missing");
    assert.equal(
      (await t.call("POST", "/v1/recovery/password", { recoveryToken, newPassword: STRONG3 })).statusCode,
      200,
    );
    assert.equal((await t.call("POST", "/v1/recovery/devices", { recoveryToken, claimed: [] })).statusCode, 200);
    // The attacker's authenticator is gone; the owner is offered one of their own before coming back.
    const offer = (await t.call("POST", "/v1/recovery/totp", { recoveryToken })).json();
    assert.equal(offer.offered, true);
    const wrong = await t.call("POST", "/v1/recovery/totp/confirm", { recoveryToken, code: "000000" });
    assert.equal(wrong.json().error.code, "code_invalid");
    const ok = await t.call("POST", "/v1/recovery/totp/confirm", {
      recoveryToken,
      code: totpCodeAt(offer.secret, t.clock.now()),
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().recoveryCodes.length, 10);
    assert.equal((await t.call("POST", "/v1/recovery/complete", { recoveryToken })).statusCode, 200);
    const back = await t.signIn("haru@example.jp", STRONG3);
    assert.equal(back.status, "challenge", "the new authenticator guards the account");
    t.clock.advance(60_000);
    const done = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: back.challengeToken,
      factor: "totp",
      code: totpCodeAt(offer.secret, t.clock.now()),
    });
    assert.equal(done.statusCode, 200, done.body);
    const countries = await t.call("GET", "/v1/account/sign-in-countries", undefined, {
      session: done.json().session.token,
    });
    assert.deepEqual(countries.json().countries, ["JP"], "the door is shut again: sign-up country only");
    // A used recovery token is spent.
    assert.equal((await t.call("POST", "/v1/recovery/complete", { recoveryToken })).statusCode, 400);

    // History is kept, and the chain still verifies.
    const tl = (
      await t.call("GET", `/v1/admin/accounts/${owner.accountId}/timeline`, undefined, { auth: admin })
    ).json();
    const types = tl.events.map((e: { type: string }) => e.type);
    for (const ty of [
      "email.changed",
      "account.frozen",
      "account.rolled_back",
      "case.locked_down",
      "account.recovered",
    ])
      assert.ok(types.includes(ty), ty);
    assert.equal((await t.app.events.verify()).firstBreak, null);
  });

  it("the owner's own authenticator comes back when the attacker replaced it", async () => {
    const owner = await t.signUp("aki@example.jp");
    await t.verifyEmail(owner.token, "aki@example.jp");
    const mine = (await t.call("POST", "/v1/totp", {}, { session: owner.token })).json();
    const c1 = await t.call(
      "POST",
      "/v1/totp/confirm",
      { code: totpCodeAt(mine.secret, t.clock.now()) },
      { session: owner.token },
    );
    assert.equal(c1.statusCode, 200, c1.body);
    t.clock.advance(86_400_000);
    // Support knows the window (e.g. from the store's logs) and gives it.
    const since = new Date(t.clock.now() - 1000).toISOString();
    // A change inside the window, made with the owner's own session (the attacker's device is unknown here).
    const re = await t.call(
      "POST",
      "/v1/session/reauthenticate",
      { password: STRONG, totpCode: totpCodeAt(mine.secret, t.clock.now()) },
      { session: c1.json().session.token },
    );
    assert.equal(re.statusCode, 200, re.body);
    const off = await t.call("POST", "/v1/totp/disable", {}, { session: re.json().session.token });
    assert.equal(off.statusCode, 200, off.body);
    t.clock.advance(60_000);
    const admin = await t.adminToken();
    const lock = await t.call(
      "POST",
      `/v1/admin/accounts/${owner.accountId}/lockdown`,
      { reason: "reported", since },
      { auth: admin },
    );
    assert.equal(lock.statusCode, 200, lock.body);
    assert.equal(lock.json().sinceSource, "support");
    const acc = await t.app.identity.getAccount(owner.accountId);
    assert.equal(acc.totpEnabled, true);
    // After recovery, the owner's app still signs in.
    await t.recover("aki@example.jp", STRONG3);
    t.clock.advance(90_000);
    const r = await t.signIn("aki@example.jp", STRONG3);
    assert.equal(r.status, "challenge");
    const done = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: r.challengeToken,
      factor: "totp",
      code: totpCodeAt(mine.secret, t.clock.now()),
    });
    assert.equal(done.statusCode, 200, done.body);
  });
});
