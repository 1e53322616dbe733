import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";

// An owner calls support: a shared or lost device is still signed in (or a mail client keeps reading), and a full
// lockdown — frozen account, roll-back, recovery — would be out of all proportion. Support ends every session and app
// password and nothing else; it cannot do so silently (a reason, the account's chain, the staff log, a notice).
describe("support-ends-sessions-without-lockdown", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("ends every session and app password, keeps the account active, and records and tells it", async () => {
    const owner = await t.signUp("kaito@example.jp");
    const other = await t.signIn("kaito@example.jp", STRONG, ATTACKER);
    assert.equal(other.status, "signed_in", JSON.stringify(other));
    const app = await t.call("POST", "/v1/app-passwords", { name: "imap" }, { session: owner.token });
    assert.equal(app.statusCode, 201, app.body);
    const admin = await t.adminToken();
    const end = (body: unknown, id = owner.accountId) =>
      t.call("POST", `/v1/admin/accounts/${id}/sessions/end`, body, { auth: admin, ip: "10.9.9.9" });

    // No reason, no action.
    for (const body of [{}, { reason: "" }, { reason: "  " }]) {
      const r = await end(body);
      assert.equal(r.statusCode, 400, r.body);
      assert.equal(r.json().error.code, "reason_required");
    }
    assert.equal((await end({ reason: "nothing" }, "no-such-account")).json().error.code, "account_not_found");
    // A store key is not a staff session.
    const withKey = await t.call("POST", `/v1/admin/accounts/${owner.accountId}/sessions/end`, { reason: "x y z" });
    assert.equal(withKey.statusCode, 401);
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: owner.token })).json().active, true);

    const r = await end({ reason: "Owner called: tablet left signed in at a friend's (ticket 4711)" });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().sessionsEnded, 2);
    assert.equal(r.json().appPasswordsRevoked, 1);
    for (const token of [owner.token, other.session.token]) {
      assert.equal((await t.call("POST", "/v1/sessions/introspect", { token })).json().active, false);
    }
    const imap = await t.call("POST", "/v1/sign-in/app-password", {
      email: "kaito@example.jp",
      appPassword: app.json().password,
      context: { ip: "1.1.1.1", userAgent: "Thunderbird/115.0", channel: "app-password" },
    });
    assert.equal(imap.statusCode, 401);
    // Not a lockdown: the account is active, the password still works, no case was opened.
    const back = await t.signIn("kaito@example.jp", STRONG);
    assert.equal(back.status, "signed_in");
    assert.equal(
      (await t.app.response.listCases({ limit: 50 })).filter((c) => c.accountId === owner.accountId).length,
      0,
    );

    // On the account's chain, naming the staff member and the reason.
    const tl = await t.call("GET", `/v1/admin/accounts/${owner.accountId}/timeline`, undefined, { auth: admin });
    const ev = tl.json().events.find((e: { type: string }) => e.type === "sessions.ended_by_support");
    assert.ok(ev, "event on the account");
    assert.equal(ev.data.staff, "support");
    assert.match(ev.data.reason, /ticket 4711/);
    assert.match(ev.actor, /^admin:/);
    assert.equal((await t.app.events.verify()).firstBreak, null);
    // In the staff log.
    const log = (await t.call("GET", "/v1/admin/staff-log?limit=20", undefined, { auth: admin })).json().events;
    const s = log.find((e: { type: string }) => e.type === "support.sessions_ended");
    assert.ok(s);
    assert.equal(s.data.accountId, owner.accountId);
    assert.equal(s.ip, "10.9.9.9");
    // The owner is told, with "This wasn't me"; the reason (written for colleagues) stays out of the mail.
    const mail = await t.lastMail("kaito@example.jp", "sessions_ended_by_support");
    assert.ok(mail, "notice sent");
    assert.match(mail.body, /\/links\/not-me\?t=/);
    assert.doesNotMatch(mail.body, /ticket 4711/);
  });
});
