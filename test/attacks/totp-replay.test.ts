import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import { ATTACKER, codeIn, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";

async function enroll(t: TestApp, email: string) {
  const a = await t.signUp(email);
  await t.verifyEmail(a.token, email);
  const e = await t.call("POST", "/v1/totp", undefined, { session: a.token });
  assert.equal(e.statusCode, 200, e.body);
  const secret = e.json().secret as string;
  const c = await t.call("POST", "/v1/totp/confirm", { code: totpCodeAt(secret, t.clock.now()) }, { session: a.token });
  assert.equal(c.statusCode, 200, c.body);
  t.clock.advance(30_000); // next step, so the enrolment code is not the one under test
  // Enrolling gives the session a new token.
  return { ...a, token: c.json().session.token as string, secret, recoveryCodes: c.json().recoveryCodes as string[] };
}

describe("totp-replay", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("a TOTP code seen once (e.g. phished in real time) cannot sign in a second time", async () => {
    const a = await enroll(t, "totp@example.jp");
    const code = totpCodeAt(a.secret, t.clock.now());
    const first = await t.signIn("totp@example.jp", STRONG);
    assert.equal(first.http, 200);
    assert.equal(first.session, undefined, "no session before the second factor");
    assert.deepEqual(first.factors, ["totp", "recovery_code"], "an emailed code never stands in for the authenticator");
    const ok = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: first.challengeToken,
      factor: "totp",
      code,
    });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().status, "signed_in");

    const second = await t.signIn("totp@example.jp", STRONG, ATTACKER);
    const replay = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: second.challengeToken,
      factor: "totp",
      code,
    });
    assert.equal(replay.statusCode, 400);
    assert.equal(replay.json().error.code, "code_replayed");
    // The failed factor is in the login history.
    const hist = await t.call("GET", "/v1/login-history", undefined, { session: ok.json().session.token });
    const reasons = hist.json().attempts.map((x: { reason: string | null }) => x.reason);
    assert.ok(reasons.includes("second_factor_code_replayed"));
  });

  it("a password alone does not sign in when a second factor is enrolled", async () => {
    await enroll(t, "only-pw@example.jp");
    const r = await t.signIn("only-pw@example.jp", STRONG, ATTACKER);
    assert.equal(r.http, 200);
    assert.equal(r.session, undefined);
    assert.equal(r.challengeToken.startsWith("msc_"), true);
  });

  it("a sensitive change with TOTP enrolled needs the second factor again", async () => {
    const a = await enroll(t, "stepup@example.jp");
    t.clock.advance(11 * 60_000);
    const pwOnly = await t.call("POST", "/v1/session/reauthenticate", { password: STRONG }, { session: a.token });
    assert.equal(pwOnly.json().secondFactor, false);
    const token = pwOnly.json().session.token;
    const r = await t.call("POST", "/v1/app-passwords", { name: "mail" }, { session: token });
    assert.equal(r.json().error.code, "second_factor_required");
    const both = await t.call(
      "POST",
      "/v1/session/reauthenticate",
      { password: STRONG, totpCode: totpCodeAt(a.secret, t.clock.now()) },
      { session: token },
    );
    assert.equal(both.json().secondFactor, true);
    const app = await t.call("POST", "/v1/app-passwords", { name: "mail" }, { session: both.json().session.token });
    assert.equal(app.statusCode, 201, app.body);
  });
});

describe("recovery-code-reuse", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("a recovery code works once; ten are issued, stored hashed", async () => {
    const a = await enroll(t, "recovery@example.jp");
    assert.equal(a.recoveryCodes.length, 10);
    assert.equal(new Set(a.recoveryCodes).size, 10);
    const stored = await t.app.database.db.selectFrom("recovery_codes").select("code_hash").execute();
    for (const c of a.recoveryCodes) assert.ok(!stored.some((s) => s.code_hash.includes(c)));
    const code = a.recoveryCodes[0]!;
    const c1 = await t.signIn("recovery@example.jp", STRONG);
    const ok = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: c1.challengeToken,
      factor: "recovery_code",
      code: code.toLowerCase(),
    });
    assert.equal(ok.statusCode, 200, ok.body);
    const c2 = await t.signIn("recovery@example.jp", STRONG, ATTACKER);
    const again = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: c2.challengeToken,
      factor: "recovery_code",
      code,
    });
    assert.equal(again.statusCode, 401);
    assert.equal(again.json().error.code, "challenge_failed");
  });

  it("regenerating recovery codes voids the old ones", async () => {
    const a = await enroll(t, "regen@example.jp");
    const r = await t.call("POST", "/v1/recovery-codes", {}, { session: a.token });
    assert.equal(r.statusCode, 200, r.body);
    const c = await t.signIn("regen@example.jp", STRONG);
    const old = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: c.challengeToken,
      factor: "recovery_code",
      code: a.recoveryCodes[1],
    });
    assert.equal(old.json().error.code, "challenge_failed");
    const fresh = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: c.challengeToken,
      factor: "recovery_code",
      code: r.json().recoveryCodes[0],
    });
    assert.equal(fresh.statusCode, 200, fresh.body);
  });
});

describe("emailed-sign-in-code-reuse", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
  });
  after(() => t.close());

  it("the emailed code is single-use (an account without an authenticator, challenged from somewhere new)", async () => {
    const a = await t.signUp("fallback@example.jp");
    await t.call("POST", "/v1/account/sign-in-countries", { countries: [] }, { session: a.token });
    const c = await t.signIn("fallback@example.jp", STRONG, ATTACKER);
    assert.deepEqual(c.factors, ["email_code"]);
    const sent = await t.call("POST", "/v1/sign-in/challenge/code", { challengeToken: c.challengeToken });
    assert.equal(sent.json().sentTo, 1);
    const code = codeIn((await t.lastMail("fallback@example.jp", "signin_code"))?.body);
    const ok = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: c.challengeToken,
      factor: "email_code",
      code,
      context: { ...ATTACKER, deviceId: "dev-2" },
    });
    assert.equal(ok.statusCode, 200, ok.body);
    const c2 = await t.signIn("fallback@example.jp", STRONG, { ...ATTACKER, deviceId: "dev-3", ip: "5.5.5.5" });
    assert.equal(c2.status, "challenge");
    const again = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: c2.challengeToken,
      factor: "email_code",
      code,
    });
    assert.equal(again.statusCode, 401);
    assert.equal(again.json().error.code, "challenge_failed");
  });
});
