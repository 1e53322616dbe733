import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import { makeTestApp, STRONG, STRONG2, type TestApp } from "../../src/testing/app.ts";

/**
 * Issue 19 (ASVS 5.0 V7.2.4): reauthenticate kept the same token, so a token stolen before a step-up carried the
 * step-up's privilege. Now re-authentication, a password change and every change of second factor give the session a
 * new token; the old one is dead at once. The session (its id, its history) stays the same.
 */
describe("session-not-rotated-on-reauth", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const introspect = async (token: string) => (await t.call("POST", "/v1/sessions/introspect", { token })).json();

  it("re-authentication answers a new token; the old one stops working; the session id stays", async () => {
    const a = await t.signUp("rotate@example.jp");
    const before_ = await introspect(a.token);
    const r = await t.call("POST", "/v1/session/reauthenticate", { password: STRONG }, { session: a.token });
    assert.equal(r.statusCode, 200, r.body);
    const next = r.json().session;
    assert.notEqual(next.token, a.token);
    assert.equal((await introspect(a.token)).active, false, "the stolen old token is dead");
    const after_ = await introspect(next.token);
    assert.equal(after_.active, true);
    assert.equal(after_.sessionId, before_.sessionId);
    assert.equal(next.id, before_.sessionId);
  });

  it("a wrong password rotates nothing", async () => {
    const a = await t.signUp("no-rotate@example.jp");
    const r = await t.call(
      "POST",
      "/v1/session/reauthenticate",
      { password: "wrong one 123 xyz" },
      { session: a.token },
    );
    assert.equal(r.statusCode, 401);
    assert.equal((await introspect(a.token)).active, true);
  });

  it("a password change and each factor change rotate the token", async () => {
    const a = await t.signUp("rotate-all@example.jp");
    let token = a.token;
    const step = async (method: "POST", url: string, body: unknown) => {
      const r = await t.call(method, url, body, { session: token });
      assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
      const next = r.json().session?.token as string | undefined;
      assert.ok(next && next !== token, `${url} gives a new token`);
      assert.equal((await introspect(token)).active, false, `${url}: the old token is dead`);
      token = next;
      return r.json();
    };
    await step("POST", "/v1/password", { currentPassword: STRONG, newPassword: STRONG2 });
    const e = (await t.call("POST", "/v1/totp", undefined, { session: token })).json();
    await step("POST", "/v1/totp/confirm", { code: totpCodeAt(e.secret, t.clock.now()) });
    await step("POST", "/v1/recovery-codes", {});
    await step("POST", "/v1/totp/disable", {});
    assert.equal((await introspect(token)).active, true);
  });
});
