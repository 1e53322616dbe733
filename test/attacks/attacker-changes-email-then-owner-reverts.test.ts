import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, codeIn, linkToken, makeTestApp, STRONG, STRONG2, type TestApp } from "../../src/testing/app.ts";

// Seeds 001/002: the attacker changed the email and password; the owner was locked out and support could not even
// find the account under the owner's address.
describe("attacker-changes-email-then-owner-reverts", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("the old address is told at once, reverts with one click, and the attacker is out", async () => {
    const owner = await t.signUp("yuki@example.jp");
    await t.verifyEmail(owner.token, "yuki@example.jp");

    // The attacker has the password and a fresh sign-in.
    const atk = await t.signIn("yuki@example.jp", STRONG, ATTACKER);
    const s = atk.session.token as string;
    assert.equal(
      (await t.call("POST", "/v1/email/change", { newEmail: "evil@attacker.example" }, { session: s })).statusCode,
      200,
    );
    const code = codeIn((await t.lastMail("evil@attacker.example", "email_change_code"))?.body);
    const conf = await t.call("POST", "/v1/email/change/confirm", { code }, { session: s });
    assert.equal(conf.statusCode, 200, conf.body);

    // The owner's own session ended with the change.
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: owner.token })).json().active, false);
    // The old address was told at once, with a revert link and a "not me" link.
    const notice = await t.lastMail("yuki@example.jp", "email_changed_old_address");
    assert.ok(notice, "old address notified");
    assert.match(notice.body, /evil@attacker\.example/);
    const revert = linkToken(notice.body, "/links/email-revert");

    // Support finds the account under the owner's (now removed) address.
    const adminToken = await t.adminToken();
    const found = await t.call("GET", "/v1/admin/accounts?q=yuki@example.jp", undefined, { auth: adminToken });
    assert.equal(found.statusCode, 200, found.body);
    assert.equal(found.json().accounts.length, 1);
    assert.equal(found.json().accounts[0].matched[0].current, false);

    // 29 days later the owner clicks the link (valid 30 days): the GET page only asks; the POST acts.
    t.clock.advance(29 * 24 * 3600_000);
    const page = await t.app.http.inject({ method: "GET", url: `/links/email-revert?t=${encodeURIComponent(revert)}` });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /<form method="post"/);
    const r = await t.app.http.inject({
      method: "POST",
      url: "/links/email-revert",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: `t=${encodeURIComponent(revert)}`,
    });
    assert.equal(r.statusCode, 200, r.body);

    // The attacker's session is dead; the account is locked; the attacker's address is gone.
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: s })).json().active, false);
    // The attacker's address belongs to no account now: a challenge nothing can complete, as for any unknown address.
    const again = await t.signIn("evil@attacker.example", STRONG, ATTACKER);
    assert.equal(again.status, "challenge");
    const locked = await t.signIn("yuki@example.jp", STRONG, ATTACKER);
    assert.equal(locked.http, 403);
    assert.equal(locked.error.code, "account_locked");
    // The link works once.
    const twice = await t.call("POST", "/v1/email/change/revert", { token: revert });
    assert.equal(twice.json().error.code, "link_invalid");

    // The owner sets a new password through the restored address and is back in.
    const reset = linkToken((await t.lastMail("yuki@example.jp", "account_locked"))?.body, "/links/reset-password");
    assert.equal((await t.call("POST", "/v1/password/reset", { token: reset, newPassword: STRONG2 })).statusCode, 200);
    const back = await t.signIn("yuki@example.jp", STRONG2);
    assert.equal(back.http, 200);

    // Every step is on the record.
    // (the admin session from before has expired: staff sessions end after 15 idle minutes and 8 hours in all)
    const stale = await t.call("GET", `/v1/admin/accounts/${owner.accountId}/timeline`, undefined, {
      auth: adminToken,
    });
    assert.equal(stale.statusCode, 401);
    const admin2 = await t.adminToken();
    const tl = await t.call("GET", `/v1/admin/accounts/${owner.accountId}/timeline`, undefined, { auth: admin2 });
    const types = tl.json().events.map((e: { type: string }) => e.type);
    for (const ty of ["email.changed", "email.change_reverted", "password.reset"]) assert.ok(types.includes(ty), ty);
  });

  it("the revert link dies after 30 days", async () => {
    const owner = await t.signUp("late-revert@example.jp");
    await t.verifyEmail(owner.token, "late-revert@example.jp");
    await t.call("POST", "/v1/email/change", { newEmail: "new-late@example.jp" }, { session: owner.token });
    const code = codeIn((await t.lastMail("new-late@example.jp", "email_change_code"))?.body);
    await t.call("POST", "/v1/email/change/confirm", { code }, { session: owner.token });
    const revert = linkToken(
      (await t.lastMail("late-revert@example.jp", "email_changed_old_address"))?.body,
      "/links/email-revert",
    );
    t.clock.advance(31 * 24 * 3600_000);
    const r = await t.call("POST", "/v1/email/change/revert", { token: revert });
    assert.equal(r.json().error.code, "link_invalid");
  });
});
