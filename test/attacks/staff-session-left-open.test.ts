import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

// A support desk left unattended: a staff session ends after 15 idle minutes and after 8 hours in all
// (MAMORI_STAFF_SESSION_IDLE_MINUTES, MAMORI_STAFF_SESSION_TTL_HOURS; NIST SP 800-63B §4.2.3 for AAL2).
describe("staff-session-left-open", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());
  const use = (token: string) => t.call("GET", "/v1/admin/accounts?q=abc", undefined, { auth: token });

  it("15 minutes without a request end the session for good; activity keeps it alive", async () => {
    const token = await t.adminToken();
    for (let i = 0; i < 6; i++) {
      t.clock.advance(14 * 60_000);
      assert.equal((await use(token)).statusCode, 200, `request ${i} after 14 idle minutes`);
    }
    t.clock.advance(15 * 60_000);
    const r = await use(token);
    assert.equal(r.statusCode, 401);
    assert.equal(r.json().error.code, "admin_unauthorized");
    // Activity from now on does not revive it.
    assert.equal((await use(token)).statusCode, 401);
  });

  it("8 hours after sign-in the session ends, however busy", async () => {
    const token = await t.adminToken();
    for (let i = 0; i < 8 * 6 - 1; i++) {
      t.clock.advance(10 * 60_000);
      assert.equal((await use(token)).statusCode, 200);
    }
    t.clock.advance(10 * 60_000);
    assert.equal((await use(token)).statusCode, 401);
  });

  it("the limits are configurable", async () => {
    const u = await makeTestApp(undefined, undefined, {
      env: { MAMORI_STAFF_SESSION_IDLE_MINUTES: "5", MAMORI_STAFF_SESSION_TTL_HOURS: "1" },
    });
    try {
      const token = await u.adminToken();
      u.clock.advance(4 * 60_000);
      assert.equal((await u.call("GET", "/v1/admin/accounts?q=abc", undefined, { auth: token })).statusCode, 200);
      u.clock.advance(5 * 60_000);
      assert.equal((await u.call("GET", "/v1/admin/accounts?q=abc", undefined, { auth: token })).statusCode, 401);
    } finally {
      await u.close();
    }
  });
});
