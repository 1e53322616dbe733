import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, codeIn, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";

/**
 * Issue 19: after the freshness window, changePassword was refused but revokeSession and signOutEverywhere answered
 * 200 — an attacker's brand-new session could sign the owner out everywhere, even in a race before the owner acted.
 * Now ending other sessions needs a fresh sign-in, and ending a session older than the caller's needs a fresh second
 * factor as strong as the account requires. "This wasn't me" and a lockdown stay one click.
 */
describe("new-session-signs-owner-out", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const active = async (token: string) =>
    (await t.call("POST", "/v1/sessions/introspect", { token })).json().active as boolean;

  it("an attacker's brand-new session cannot end the owner's older sessions without a second factor", async () => {
    const owner = await t.signUp("older@example.jp");
    t.clock.advance(3_600_000);
    const atk = await t.signIn("older@example.jp", STRONG, ATTACKER);
    const s = atk.session.token as string;
    const all = await t.call("POST", "/v1/sessions/sign-out-everywhere", {}, { session: s });
    assert.equal(all.statusCode, 403);
    assert.equal(all.json().error.code, "second_factor_required");
    const ownerSession = await ownerSessionId(owner.token);
    const one = await t.call("DELETE", `/v1/sessions/${ownerSession}`, undefined, { session: s });
    assert.equal(one.statusCode, 403);
    assert.equal(await active(owner.token), true, "the owner is still signed in");
    // The emailed step-up is the owner's mailbox; the attacker does not have it.
    const req = await t.call("POST", "/v1/session/reauthenticate/code", {}, { session: s });
    assert.equal(req.statusCode, 200, req.body);
    const wrong = await t.call(
      "POST",
      "/v1/session/reauthenticate",
      { password: STRONG, emailCode: "000000" },
      { session: s },
    );
    assert.equal(wrong.statusCode, 400);
    assert.equal(await active(owner.token), true);
  });

  it("the owner's older session signs the attacker out after re-entering the password", async () => {
    const owner = await t.signUp("owner-wins@example.jp");
    t.clock.advance(3_600_000);
    const atk = await t.signIn("owner-wins@example.jp", STRONG, ATTACKER);
    // Not fresh any more: the password first.
    const stale = await t.call("POST", "/v1/sessions/sign-out-everywhere", {}, { session: owner.token });
    assert.equal(stale.json().error.code, "reauthentication_required");
    const re = await t.call("POST", "/v1/session/reauthenticate", { password: STRONG }, { session: owner.token });
    const token = re.json().session.token;
    const r = await t.call("POST", "/v1/sessions/sign-out-everywhere", {}, { session: token });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(await active(atk.session.token), false);
    assert.equal(await active(token), true);
  });

  it("a newer session with the emailed step-up (the mailbox's owner) may end older ones", async () => {
    const first = await t.signUp("two-devices@example.jp");
    t.clock.advance(3_600_000);
    const second = await t.signIn("two-devices@example.jp", STRONG, { ...ATTACKER, deviceId: "owner-laptop" });
    const s = second.session.token as string;
    await t.call("POST", "/v1/session/reauthenticate/code", {}, { session: s });
    const code = codeIn((await t.lastMail("two-devices@example.jp", "step_up_code"))?.body);
    const re = await t.call(
      "POST",
      "/v1/session/reauthenticate",
      { password: STRONG, emailCode: code },
      { session: s },
    );
    assert.equal(re.statusCode, 200, re.body);
    assert.equal(re.json().secondFactor, true);
    const r = await t.call("POST", "/v1/sessions/sign-out-everywhere", {}, { session: re.json().session.token });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(await active(first.token), false);
  });

  it("'This wasn't me' still ends everything in one click", async () => {
    const owner = await t.signUp("one-click@example.jp");
    t.clock.advance(3_600_000);
    await t.signIn("one-click@example.jp", STRONG, ATTACKER);
    const n = await t.lastMail("one-click@example.jp", "signin_new_device");
    const link = n?.body.match(/\/links\/not-me\?t=([^\s]+)/)?.[1];
    const r = await t.call("POST", "/v1/not-me", { token: decodeURIComponent(link ?? "") }, { auth: null });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(await active(owner.token), false);
  });

  async function ownerSessionId(token: string): Promise<string> {
    return (await t.call("POST", "/v1/sessions/introspect", { token })).json().sessionId;
  }
});
