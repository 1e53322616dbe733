import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

// A setup password was chosen by an operator and travelled to the staff member somehow (chat, paper): until the staff
// member has set their own and enrolled a second factor, it opens nothing but those two steps. Later changes need the
// current password and a TOTP code, and end the staff member's other sessions.
const OWN = "quiet glaciers paint orange kites 31";
const OWN2 = "seven brass herons count the tides 84";

describe("staff-setup-password-reused", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("a setup session can change the password and enrol TOTP, nothing else, until both are done", async () => {
    const setup = (await t.app.admin.createAdminUser("fumi")).password;
    const s = await t.call("POST", "/v1/admin/sign-in", { username: "fumi", password: setup }, { auth: null });
    assert.equal(s.json().status, "setup_required");
    const token = s.json().token;
    const tryAdmin = () => t.call("GET", "/v1/admin/accounts?q=abc", undefined, { auth: token });
    assert.equal((await tryAdmin()).json().error.code, "staff_password_change_required");
    assert.equal((await t.call("GET", "/v1/admin/staff-log", undefined, { auth: token })).statusCode, 403);
    // The policy users get applies: a weak or leaked password is refused.
    const weak = await t.call(
      "POST",
      "/v1/admin/password",
      { currentPassword: setup, newPassword: "password123" },
      { auth: token },
    );
    assert.equal(weak.statusCode, 422, weak.body);
    const same = await t.call(
      "POST",
      "/v1/admin/password",
      { currentPassword: setup, newPassword: setup },
      { auth: token },
    );
    assert.ok(same.statusCode >= 400 && same.statusCode < 500);
    const wrong = await t.call(
      "POST",
      "/v1/admin/password",
      { currentPassword: "not-it", newPassword: OWN },
      { auth: token },
    );
    assert.equal(wrong.json().error.code, "invalid_credentials");
    const ok = await t.call(
      "POST",
      "/v1/admin/password",
      { currentPassword: setup, newPassword: OWN },
      { auth: token },
    );
    assert.equal(ok.statusCode, 200, ok.body);
    // Still no admin route: the second factor is owed.
    assert.equal((await tryAdmin()).json().error.code, "staff_second_factor_required");
    assert.deepEqual((await t.call("GET", "/v1/admin/me", undefined, { auth: token })).json().required, [
      "totp_enrolment",
    ]);
    // The setup password is dead.
    const old = await t.call("POST", "/v1/admin/sign-in", { username: "fumi", password: setup }, { auth: null });
    assert.equal(old.json().error.code, "invalid_credentials");
    const { secret, uri } = (await t.call("POST", "/v1/admin/totp/setup", {}, { auth: token })).json();
    assert.match(uri, /^otpauth:\/\/totp\//);
    const bad = await t.call(
      "POST",
      "/v1/admin/totp/confirm",
      { code: "000000" === totpCodeAt(secret, t.clock.now()) ? "111111" : "000000" },
      { auth: token },
    );
    assert.equal(bad.json().error.code, "invalid_code");
    const conf = await t.call(
      "POST",
      "/v1/admin/totp/confirm",
      { code: totpCodeAt(secret, t.clock.now()) },
      { auth: token },
    );
    assert.equal(conf.statusCode, 200, conf.body);
    assert.equal((await tryAdmin()).statusCode, 200);
    // Enrolled once: a second enrolment (someone with a stolen session swapping the authenticator) is refused.
    assert.equal(
      (await t.call("POST", "/v1/admin/totp/setup", {}, { auth: token })).json().error.code,
      "staff_totp_enrolled",
    );

    // A later change needs the current password and a code, and ends the other sessions.
    t.clock.advance(60_000);
    const c = (await t.call("POST", "/v1/admin/sign-in", { username: "fumi", password: OWN }, { auth: null })).json();
    const other = (
      await t.call(
        "POST",
        "/v1/admin/sign-in/verify",
        { challengeId: c.challengeId, code: totpCodeAt(secret, t.clock.now()) },
        { auth: null },
      )
    ).json().token;
    t.clock.advance(30_000);
    const noCode = await t.call(
      "POST",
      "/v1/admin/password",
      { currentPassword: OWN, newPassword: OWN2 },
      { auth: token },
    );
    assert.equal(noCode.json().error.code, "staff_code_required");
    const changed = await t.call(
      "POST",
      "/v1/admin/password",
      { currentPassword: OWN, newPassword: OWN2, code: totpCodeAt(secret, t.clock.now()) },
      { auth: token },
    );
    assert.equal(changed.statusCode, 200, changed.body);
    assert.equal((await tryAdmin()).statusCode, 200, "the session that changed it goes on");
    assert.equal((await t.call("GET", "/v1/admin/accounts?q=abc", undefined, { auth: other })).statusCode, 401);

    const types = (await t.app.staffAudit.list({ limit: 1000 }))
      .filter((e) => e.username === "fumi")
      .map((e) => e.type);
    for (const ty of [
      "staff.created",
      "staff.signin.setup",
      "staff.password.change_failed",
      "staff.password.changed",
      "staff.totp.confirm_failed",
      "staff.totp.enrolled",
      "staff.signin.succeeded",
    ]) {
      assert.ok(types.includes(ty), ty);
    }
  });

  it("an operator's reset gives a new setup password: the old sessions end and the change is owed again", async () => {
    const token = await t.adminToken();
    const pw = await t.app.admin.setAdminPassword("support");
    assert.equal((await t.call("GET", "/v1/admin/accounts?q=abc", undefined, { auth: token })).statusCode, 401);
    t.clock.advance(30_000);
    const c = (await t.call("POST", "/v1/admin/sign-in", { username: "support", password: pw }, { auth: null })).json();
    assert.equal(c.status, "totp_required", "the second factor stays enrolled");
    const v = (
      await t.call(
        "POST",
        "/v1/admin/sign-in/verify",
        { challengeId: c.challengeId, code: totpCodeAt(t.staff!.totpSecret, t.clock.now()) },
        { auth: null },
      )
    ).json();
    assert.equal(v.status, "setup_required");
    assert.deepEqual(v.required, ["password_change"]);
    const r = await t.call("GET", "/v1/admin/accounts?q=abc", undefined, { auth: v.token });
    assert.equal(r.json().error.code, "staff_password_change_required");
    const log = await t.app.staffAudit.list({ limit: 10 });
    assert.ok(log.some((e) => e.type === "staff.password.reset" && e.username === "support" && e.actor === "cli"));
  });
});
