import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ATTACKER,
  codeIn,
  linkToken,
  makeTestApp,
  STRONG,
  STRONG2,
  STRONG3,
  type TestApp,
  TOKYO,
} from "../../src/testing/app.ts";
import { type RangeServer, sha1Hex, startRangeServer } from "../../src/testing/range-server.ts";

// Issue 14: `correcthorsebatterystaple` was accepted as a new password. A password on every guessing list is the
// first one credential stuffing and spraying try; NIST SP 800-63B §5.1.1.2 says to refuse passwords from breach
// corpuses wherever one is set: sign-up, change, reset and recovery.
const LISTED = [
  "correcthorsebatterystaple",
  "correct horse battery staple",
  "password123",
  "P@ssw0rd2024!",
  "ｐａｓｓｗｏｒｄ１２３", // typed with a Japanese IME in full-width mode
  "doraemon1234",
  "arigatou2024!",
  "iloveyou2",
];

describe("breached-password-accepted", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const signUp = (email: string, password: string) =>
    t.call("POST", "/v1/accounts", { email, password, language: "ja", context: TOKYO });

  it("sign-up refuses listed passwords with password_breached, and accepts a strong one", async () => {
    for (const [i, pw] of LISTED.entries()) {
      const r = await signUp(`listed${i}@example.jp`, pw);
      assert.equal(r.statusCode, 422, `${pw}: ${r.body}`);
      assert.equal(r.json().error.code, "password_breached", pw);
      assert.deepEqual(r.json().error.details, { source: "list" });
      assert.ok(!r.body.includes(pw), "the answer never echoes the password");
    }
    assert.equal(
      (await signUp("listed-ok@example.jp", STRONG)).statusCode,
      202,
      "sign-up accepts the password (step 1 of 2)",
    );
  });

  it("changePassword refuses a listed password and keeps the old one", async () => {
    const a = await t.signUp("change@example.jp");
    for (const pw of ["correcthorsebatterystaple", "password123", "arigatou2024!"]) {
      const r = await t.call(
        "POST",
        "/v1/password",
        { currentPassword: STRONG, newPassword: pw },
        { session: a.token },
      );
      assert.equal(r.statusCode, 422, r.body);
      assert.equal(r.json().error.code, "password_breached");
    }
    assert.equal((await t.signIn("change@example.jp", "password123")).http, 401);
    const ok = await t.call(
      "POST",
      "/v1/password",
      { currentPassword: STRONG, newPassword: STRONG2 },
      { session: a.token },
    );
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it("resetPassword refuses a listed password, and the link still works for a strong one", async () => {
    const a = await t.signUp("reset@example.jp");
    await t.verifyEmail(a.token, "reset@example.jp");
    await t.call("POST", "/v1/password/reset-request", { email: "reset@example.jp", context: TOKYO });
    const token = linkToken((await t.lastMail("reset@example.jp", "password_reset"))?.body, "/links/reset-password");
    const r = await t.call("POST", "/v1/password/reset", { token, newPassword: "Correct-Horse-Battery-Staple-1" });
    assert.equal(r.statusCode, 422, r.body);
    assert.equal(r.json().error.code, "password_breached");
    assert.equal((await t.call("POST", "/v1/password/reset", { token, newPassword: STRONG2 })).statusCode, 200);
  });

  it("recovery after a lockdown refuses a listed password", async () => {
    const owner = await t.signUp("recover@example.jp");
    await t.verifyEmail(owner.token, "recover@example.jp");
    t.clock.advance(10 * 86_400_000);
    assert.equal((await t.signIn("recover@example.jp", STRONG, ATTACKER)).http, 200);
    t.clock.advance(60 * 60_000);
    const admin = await t.adminToken();
    const lock = await t.call(
      "POST",
      `/v1/admin/accounts/${owner.accountId}/lockdown`,
      { reason: "owner called" },
      { auth: admin },
    );
    assert.equal(lock.statusCode, 200, lock.body);
    const start = await t.call("POST", "/v1/recovery/start", { identifier: "recover@example.jp" });
    const code = codeIn((await t.lastMail("recover@example.jp", "recovery_code"))?.body);
    const v = await t.call("POST", "/v1/recovery/verify", { recoveryId: start.json().recoveryId, code });
    assert.equal(v.statusCode, 200, v.body);
    const { recoveryToken } = v.json();
    for (const pw of ["correcthorsebatterystaple", "yoroshiku2024", "password123"]) {
      const r = await t.call("POST", "/v1/recovery/password", { recoveryToken, newPassword: pw });
      assert.equal(r.statusCode, 422, r.body);
      assert.equal(r.json().error.code, "password_breached", pw);
    }
    const ok = await t.call("POST", "/v1/recovery/password", { recoveryToken, newPassword: STRONG3 });
    assert.equal(ok.statusCode, 200, ok.body);
  });
});

// The optional online check: MAMORI_PWNED_RANGE_URL pointing at a server that speaks Have I Been Pwned's range
// protocol (here a local one). Only a 5-hex-digit SHA-1 prefix is sent; a slow or failing endpoint never blocks.
describe("breached-password-accepted: the online range check", () => {
  const ONLINE_LEAK = "plum kettle orbits the sleepy dune 47";
  let t: TestApp;
  let hurried: TestApp;
  let range: RangeServer;
  before(async () => {
    range = await startRangeServer({ [ONLINE_LEAK]: 12 });
    // A generous timeout where the endpoint answers (a loaded machine must not turn an answer into "not checked"),
    // and an app with a short one for the endpoint that hangs.
    t = await makeTestApp(undefined, undefined, {
      env: { MAMORI_PWNED_RANGE_URL: range.url, MAMORI_PWNED_RANGE_TIMEOUT_MS: "10000" },
    });
    hurried = await makeTestApp(undefined, undefined, {
      env: { MAMORI_PWNED_RANGE_URL: range.url, MAMORI_PWNED_RANGE_TIMEOUT_MS: "300" },
    });
  });
  after(async () => {
    await t.close();
    await hurried.close();
    await range.close();
  });

  const signUp = (app: TestApp, email: string, password: string) =>
    app.call("POST", "/v1/accounts", { email, password, language: "ja", context: TOKYO });

  it("refuses a password the range endpoint holds, at sign-up and change; it only ever sees a prefix", async () => {
    range.mode = "answer";
    range.requests.length = 0;
    const r = await signUp(t, "online@example.jp", ONLINE_LEAK);
    assert.equal(r.statusCode, 422, r.body);
    assert.equal(r.json().error.code, "password_breached");
    assert.deepEqual(r.json().error.details, { source: "range" });
    assert.deepEqual(range.requests, [{ path: `/range/${sha1Hex(ONLINE_LEAK).slice(0, 5)}`, padding: "true" }]);

    const a = await t.signUp("online2@example.jp", STRONG);
    const c = await t.call(
      "POST",
      "/v1/password",
      { currentPassword: STRONG, newPassword: ONLINE_LEAK },
      { session: a.token },
    );
    assert.equal(c.json().error.code, "password_breached");
    assert.equal((await t.signIn("online2@example.jp", STRONG)).http, 200);
  });

  it("a listed password is refused without asking the endpoint", async () => {
    range.requests.length = 0;
    assert.equal((await signUp(t, "online3@example.jp", "password123")).json().error.code, "password_breached");
    assert.equal(range.requests.length, 0);
  });

  it("an endpoint answering 500 does not block sign-up", async () => {
    range.mode = "error";
    range.requests.length = 0;
    const r = await signUp(t, "online-500@example.jp", STRONG2);
    assert.equal(r.statusCode, 202, r.body);
    assert.equal(range.requests.length, 1, "the endpoint was asked");
  });

  it("a hung endpoint times out and sign-up succeeds; while it is down, sign-ups do not wait on it", async () => {
    range.mode = "hang";
    range.requests.length = 0;
    const r = await signUp(hurried, "online-hung@example.jp", STRONG3);
    assert.equal(r.statusCode, 202, r.body);
    assert.equal(range.requests.length, 1, "the endpoint was asked and did not answer");
    const again = await signUp(hurried, "online-hung2@example.jp", STRONG2);
    assert.equal(again.statusCode, 202, again.body);
    assert.equal(range.requests.length, 1, "within the back-off the endpoint is not asked at all");
  });
});
