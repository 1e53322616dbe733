import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { linkToken, makeTestApp, STRONG, STRONG2, STRONG3, type TestApp, TOKYO } from "../../src/testing/app.ts";

describe("reset-token-reuse", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  async function resetToken(email: string): Promise<string> {
    await t.call("POST", "/v1/password/reset-request", { email, context: TOKYO });
    return linkToken((await t.lastMail(email, "password_reset"))?.body, "/links/reset-password");
  }

  it("a reset token works once", async () => {
    const a = await t.signUp("reuse@example.com");
    await t.verifyEmail(a.token, "reuse@example.com");
    const token = await resetToken("reuse@example.com");
    assert.equal((await t.call("POST", "/v1/password/reset", { token, newPassword: STRONG2 })).statusCode, 200);
    const again = await t.call("POST", "/v1/password/reset", { token, newPassword: STRONG3 });
    assert.equal(again.statusCode, 400);
    assert.equal(again.json().error.code, "reset_token_invalid");
  });

  it("a reset token expires after 30 minutes", async () => {
    const a = await t.signUp("late@example.com");
    await t.verifyEmail(a.token, "late@example.com");
    const token = await resetToken("late@example.com");
    t.clock.advance(31 * 60_000);
    const r = await t.call("POST", "/v1/password/reset", { token, newPassword: STRONG2 });
    assert.equal(r.json().error.code, "reset_token_invalid");
  });

  it("a reset token sent before a password change is dead after it", async () => {
    const a = await t.signUp("epoch@example.com");
    await t.verifyEmail(a.token, "epoch@example.com");
    const token = await resetToken("epoch@example.com");
    const c = await t.call(
      "POST",
      "/v1/password",
      { currentPassword: STRONG, newPassword: STRONG3 },
      { session: a.token },
    );
    assert.equal(c.statusCode, 200, c.body);
    const r = await t.call("POST", "/v1/password/reset", { token, newPassword: STRONG2 });
    assert.equal(r.json().error.code, "reset_token_invalid");
  });

  it("asking for a reset does not reveal whether the address exists", async () => {
    const known = await t.call("POST", "/v1/password/reset-request", { email: "epoch@example.com", context: TOKYO });
    const unknown = await t.call("POST", "/v1/password/reset-request", { email: "nobody@example.com", context: TOKYO });
    assert.equal(known.statusCode, 202);
    assert.equal(unknown.statusCode, 202);
    assert.equal(known.body, unknown.body);
  });

  it("the new password may not be one of the last five", async () => {
    const a = await t.signUp("history@example.com");
    await t.verifyEmail(a.token, "history@example.com");
    const token = await resetToken("history@example.com");
    const r = await t.call("POST", "/v1/password/reset", { token, newPassword: STRONG });
    assert.equal(r.statusCode, 422);
    assert.equal(r.json().error.code, "password_reused");
    const listed = await t.call("POST", "/v1/password/reset", { token, newPassword: "password123" });
    assert.equal(listed.json().error.code, "password_breached");
    const weak = await t.call("POST", "/v1/password/reset", { token, newPassword: "suzuki1985a" });
    assert.equal(weak.json().error.code, "password_too_weak");
  });
});
