import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";

const IMAP_FROM_ABROAD = { ip: "1.1.1.1", userAgent: "Thunderbird/115.0", channel: "app-password" as const };

// Seed 004: a mailbox was read over IMAP from abroad every half hour; the mail client's access outlived everything.
describe("app-password-survives-sign-out-everywhere", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("sign out everywhere ends app passwords and their sessions, and keeps the owner's", async () => {
    const owner = await t.signUp("mail@example.jp");
    await t.verifyEmail(owner.token, "mail@example.jp");
    const atk = await t.signIn("mail@example.jp", STRONG, ATTACKER);
    const created = await t.call("POST", "/v1/app-passwords", { name: "imap" }, { session: atk.session.token });
    assert.equal(created.statusCode, 201, created.body);
    const appPassword = created.json().password as string;
    // The owner hears of the new app password.
    assert.ok(await t.lastMail("mail@example.jp", "app_password_created"));

    const imap = await t.call("POST", "/v1/sign-in/app-password", {
      email: "mail@example.jp",
      appPassword,
      context: IMAP_FROM_ABROAD,
    });
    assert.equal(imap.statusCode, 200, imap.body);
    const imapToken = imap.json().session.token as string;

    // The owner lists app passwords: last use and country are visible.
    const list = await t.call("GET", "/v1/app-passwords", undefined, { session: owner.token });
    const ap = list.json().appPasswords[0];
    assert.equal(ap.name, "imap");
    assert.equal(ap.lastUsedIp, "1.1.1.1");
    assert.ok(ap.lastUsedCountry, "country of last use recorded");

    const out = await t.call("POST", "/v1/sessions/sign-out-everywhere", {}, { session: owner.token });
    assert.equal(out.statusCode, 200, out.body);

    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: imapToken })).json().active, false);
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: atk.session.token })).json().active, false);
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: owner.token })).json().active, true);
    const again = await t.call("POST", "/v1/sign-in/app-password", {
      email: "mail@example.jp",
      appPassword,
      context: IMAP_FROM_ABROAD,
    });
    assert.equal(again.statusCode, 401);
    assert.equal(again.json().error.code, "invalid_credentials");
    const after_ = await t.call("GET", "/v1/app-passwords", undefined, { session: owner.token });
    assert.equal(after_.json().appPasswords[0].active, false);
    assert.equal(after_.json().appPasswords[0].revokedReason, "signed_out_everywhere");
  });

  it("revoking one app password ends its sessions", async () => {
    const owner = await t.signUp("mail2@example.jp");
    const created = await t.call("POST", "/v1/app-passwords", { name: "phone mail" }, { session: owner.token });
    const { id, password } = created.json();
    const imap = await t.call("POST", "/v1/sign-in/app-password", {
      email: "mail2@example.jp",
      appPassword: password,
      context: IMAP_FROM_ABROAD,
    });
    const r = await t.call("DELETE", `/v1/app-passwords/${id}`, undefined, { session: owner.token });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(
      (await t.call("POST", "/v1/sessions/introspect", { token: imap.json().session.token })).json().active,
      false,
    );
    assert.equal(
      (await t.call("DELETE", `/v1/app-passwords/${id}`, undefined, { session: owner.token })).statusCode,
      404,
    );
  });

  it("an app-password session cannot make sensitive changes", async () => {
    const owner = await t.signUp("mail3@example.jp");
    const { password } = (await t.call("POST", "/v1/app-passwords", { name: "x" }, { session: owner.token })).json();
    const imap = await t.call("POST", "/v1/sign-in/app-password", {
      email: "mail3@example.jp",
      appPassword: password,
      context: IMAP_FROM_ABROAD,
    });
    const r = await t.call(
      "POST",
      "/v1/email/change",
      { newEmail: "z@example.jp" },
      { session: imap.json().session.token },
    );
    assert.equal(r.statusCode, 403);
    assert.equal(r.json().error.code, "reauthentication_required");
  });
});
