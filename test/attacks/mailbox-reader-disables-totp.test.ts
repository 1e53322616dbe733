import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import { codeIn, linkToken, makeTestApp, STRONG, STRONG2, type TestApp } from "../../src/testing/app.ts";

/**
 * Issue 19 (seed 004's attacker read the victim's webmail): knowing only the address and reading the mailbox, an
 * attacker reset the password, signed in with an emailed code offered beside TOTP, disabled TOTP and changed the
 * email. An emailed code no longer stands in for an enrolled authenticator — at sign-in, at step-up, or to remove
 * it — and losing the authenticator goes through a 72-hour wait told to every verified address, which the owner
 * cancels with one click.
 */
const READER = {
  ip: "126.0.0.1",
  userAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_0) AppleWebKit/605.1.15 Version/17.0 Safari/605.1.15",
  deviceId: "reader-mac",
  channel: "web" as const,
};

async function ownerWithTotp(t: TestApp, email: string) {
  const a = await t.signUp(email);
  const e = (await t.call("POST", "/v1/totp", undefined, { session: a.token })).json();
  const c = await t.call(
    "POST",
    "/v1/totp/confirm",
    { code: totpCodeAt(e.secret, t.clock.now()) },
    { session: a.token },
  );
  assert.equal(c.statusCode, 200, c.body);
  t.clock.advance(60_000);
  return { ...a, token: c.json().session.token as string, secret: e.secret as string };
}

/** What a mailbox reader can do: ask for a reset, read the link, set a password. */
async function resetThroughMailbox(t: TestApp, email: string) {
  await t.call("POST", "/v1/password/reset-request", { email, context: READER });
  const token = linkToken((await t.lastMail(email, "password_reset"))?.body, "/links/reset-password");
  const r = await t.call("POST", "/v1/password/reset", { token, newPassword: STRONG2, context: READER });
  assert.equal(r.statusCode, 200, r.body);
}

describe("mailbox-reader-disables-totp", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("after a reset by mail, sign-in still needs the authenticator: no emailed code is offered or accepted", async () => {
    await ownerWithTotp(t, "totp-owner@example.jp");
    await resetThroughMailbox(t, "totp-owner@example.jp");
    const r = await t.signIn("totp-owner@example.jp", STRONG2, READER);
    assert.equal(r.status, "challenge");
    assert.deepEqual(r.factors, ["totp", "recovery_code"], "the reset did not lower the account's factor");
    const send = await t.call("POST", "/v1/sign-in/challenge/code", { challengeToken: r.challengeToken });
    assert.equal(send.statusCode, 400);
    assert.equal(send.json().error.code, "factor_unavailable");
    const done = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: r.challengeToken,
      factor: "email_code",
      code: "123456",
    });
    assert.equal(done.json().error.code, "factor_unavailable");
    assert.equal(await t.lastMail("totp-owner@example.jp", "signin_code"), undefined, "no code ever mailed");
  });

  it("a session without a fresh authenticator step cannot remove it, and an emailed step-up is refused", async () => {
    const o = await ownerWithTotp(t, "stepup-owner@example.jp");
    t.clock.advance(11 * 60_000);
    const re = await t.call("POST", "/v1/session/reauthenticate", { password: STRONG }, { session: o.token });
    const token = re.json().session.token;
    const off = await t.call("POST", "/v1/totp/disable", {}, { session: token });
    assert.equal(off.statusCode, 403);
    assert.equal(off.json().error.code, "second_factor_required");
    const code = await t.call("POST", "/v1/session/reauthenticate/code", {}, { session: token });
    assert.equal(code.json().error.code, "factor_unavailable", "no emailed step-up while an authenticator is enrolled");
    const email = await t.call("POST", "/v1/email/change", { newEmail: "mine@reader.example" }, { session: token });
    assert.equal(email.json().error.code, "second_factor_required");
    // With the authenticator, it works.
    const both = await t.call(
      "POST",
      "/v1/session/reauthenticate",
      { password: STRONG, totpCode: totpCodeAt(o.secret, t.clock.now()) },
      { session: token },
    );
    const ok = await t.call("POST", "/v1/totp/disable", {}, { session: both.json().session.token });
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it("a lost authenticator is removed only after 72 hours, told to every address; the owner cancels in one click", async () => {
    await ownerWithTotp(t, "lost-phone@example.jp");
    // The reader resets the password and asks to remove the authenticator from the sign-in challenge.
    await resetThroughMailbox(t, "lost-phone@example.jp");
    const r = await t.signIn("lost-phone@example.jp", STRONG2, READER);
    const req = await t.call("POST", "/v1/sign-in/challenge/factor-reset", { challengeToken: r.challengeToken });
    assert.equal(req.statusCode, 202, req.body);
    assert.equal(Date.parse(req.json().dueAt) - t.clock.now(), 72 * 3_600_000);
    const notice = await t.lastMail("lost-phone@example.jp", "factor_reset_requested");
    assert.ok(notice, "every verified address is told at once");
    assert.match(notice.body, /\/links\/cancel-factor-reset\?t=/);
    assert.match(notice.body, /\/links\/not-me\?t=/);
    // Minutes later nothing has changed: the authenticator is still required.
    t.clock.advance(10 * 60_000);
    assert.deepEqual((await t.signIn("lost-phone@example.jp", STRONG2, READER)).factors, ["totp", "recovery_code"]);
    // The owner opens the link (a page that only asks: mail scanners prefetch links) and cancels with one click.
    const cancelToken = linkToken(notice.body, "/links/cancel-factor-reset");
    const page = await t.app.http.inject({
      method: "GET",
      url: `/links/cancel-factor-reset?t=${encodeURIComponent(cancelToken)}`,
    });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /Cancel the removal of your authenticator app/, "in the account's language (en)");
    assert.match(page.body, /<form method="post"/);
    const ja = await t.app.http.inject({
      method: "GET",
      url: `/links/cancel-factor-reset?t=${encodeURIComponent(cancelToken)}&lang=ja`,
    });
    assert.match(ja.body, /認証アプリの解除申請を取り消す/);
    const cancel = await t.app.http.inject({
      method: "POST",
      url: "/links/cancel-factor-reset",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: `t=${encodeURIComponent(cancelToken)}`,
    });
    assert.equal(cancel.statusCode, 200, cancel.body);
    assert.match(cancel.body, /The removal was cancelled/);
    const again = await t.call("POST", "/v1/factor-reset/cancel", { token: cancelToken }, { auth: null });
    assert.equal(again.json().error.code, "link_invalid", "the link works once");
    assert.ok(await t.lastMail("lost-phone@example.jp", "factor_reset_cancelled"));
    t.clock.advance(73 * 3_600_000);
    assert.deepEqual(
      (await t.signIn("lost-phone@example.jp", STRONG2, READER)).factors,
      ["totp", "recovery_code"],
      "cancelled: still required after the delay",
    );
  });

  it("the owner who really lost the phone gets back in with the mailbox after the wait, and the authenticator goes", async () => {
    await ownerWithTotp(t, "really-lost@example.jp");
    const home = { ...READER, deviceId: "owner-new-phone", ip: "133.0.0.20" };
    const r = await t.signIn("really-lost@example.jp", STRONG, home);
    await t.call("POST", "/v1/sign-in/challenge/factor-reset", { challengeToken: r.challengeToken });
    t.clock.advance(72 * 3_600_000 + 60_000);
    const again = await t.signIn("really-lost@example.jp", STRONG, home);
    assert.deepEqual(
      again.factors,
      ["totp", "recovery_code", "email_code"],
      "the wait is over: the mailbox may answer",
    );
    await t.call("POST", "/v1/sign-in/challenge/code", { challengeToken: again.challengeToken });
    const code = codeIn((await t.lastMail("really-lost@example.jp", "signin_code"))?.body);
    const done = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: again.challengeToken,
      factor: "email_code",
      code,
      context: home,
    });
    assert.equal(done.statusCode, 200, done.body);
    const acc = await t.call("GET", "/v1/account", undefined, { session: done.json().session.token });
    assert.equal(acc.json().totpEnabled, false);
    assert.ok(await t.lastMail("really-lost@example.jp", "totp_disabled"), "and every address is told");
  });

  it("signing in with the authenticator cancels a pending removal", async () => {
    const o = await ownerWithTotp(t, "still-has-it@example.jp");
    const r = await t.signIn("still-has-it@example.jp", STRONG, READER);
    await t.call("POST", "/v1/sign-in/challenge/factor-reset", { challengeToken: r.challengeToken });
    const s = await t.signIn("still-has-it@example.jp", STRONG);
    const ok = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: s.challengeToken,
      factor: "totp",
      code: totpCodeAt(o.secret, t.clock.now()),
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.ok(await t.lastMail("still-has-it@example.jp", "factor_reset_cancelled"));
    t.clock.advance(73 * 3_600_000);
    assert.deepEqual((await t.signIn("still-has-it@example.jp", STRONG, READER)).factors, ["totp", "recovery_code"]);
  });
});
