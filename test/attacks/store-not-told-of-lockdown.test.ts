import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, STRONG, STRONG2, type TestApp } from "../../src/testing/app.ts";

/**
 * Seeds 000 and 001: Mamori froze the account and ended its sessions, but the store's own session cookie, its cached
 * "logged in" state and its customer record (the attacker's email) lived on, because nothing told the store. Every
 * security change now queues a signed webhook in the transaction that makes it: the lockdown and its end, the
 * sessions ended, the password, email, phone and factors changed, "not me", recovery.
 */
describe("store-not-told-of-lockdown", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const messages = async (accountId: string) => {
    const r = await t.call("GET", `/v1/webhooks/messages?objectType=account&objectId=${accountId}&limit=100`);
    assert.equal(r.statusCode, 200, r.body);
    return r.json().messages as { type: string; state: string; payload?: unknown; data?: Record<string, unknown> }[];
  };

  it("a lockdown tells the store it started and finished, and that the sessions ended", async () => {
    const ep = await t.call("POST", "/v1/webhooks/endpoints", { url: "https://shop.example/hooks" });
    assert.equal(ep.statusCode, 201, ep.body);
    const owner = await t.signUp("told@example.jp");
    t.clock.advance(60_000);
    assert.equal((await t.signIn("told@example.jp", STRONG, ATTACKER)).status, "signed_in");
    const { caseId } = await t.app.response.lockdownAccount({
      accountId: owner.accountId,
      reason: "not_me",
      openedBy: "system",
    });
    const types = (await messages(owner.accountId)).map((m) => m.type);
    for (const want of ["security.lockdown.started", "security.sessions.ended", "security.lockdown.completed"]) {
      assert.ok(types.includes(want), `${want} in ${types.join(", ")}`);
    }
    const started = (await messages(owner.accountId)).find((m) => m.type === "security.lockdown.started")!;
    assert.match(JSON.stringify(started), new RegExp(caseId), "the message names the case");
    assert.equal(started.state, "pending", "queued for the store's endpoint");
  });

  it("a password change is told too; a case opened without a lockdown is not a lockdown", async () => {
    const owner = await t.signUp("told2@example.jp");
    const changed = await t.call(
      "POST",
      "/v1/password",
      { currentPassword: STRONG, newPassword: STRONG2 },
      { session: owner.token },
    );
    assert.equal(changed.statusCode, 200, changed.body);
    await t.app.response.openCase({ accountId: owner.accountId, reason: "support look", openedBy: "system" });
    const types = (await messages(owner.accountId)).map((m) => m.type);
    assert.ok(types.includes("security.password.changed"), types.join(", "));
    assert.ok(!types.includes("security.lockdown.started"), types.join(", "));
  });
});
