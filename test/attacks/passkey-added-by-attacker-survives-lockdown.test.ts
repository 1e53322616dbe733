import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, STRONG, STRONG3, type TestApp, TOKYO } from "../../src/testing/app.ts";
import { addPasskey, passkeySignIn } from "../../src/testing/passkeys.ts";

/**
 * An attacker with the stolen password signs in and adds a passkey of their own: a way back in that needs no
 * password, so resetting the password would not shut it. The lockdown's roll-back removes every passkey added in the
 * compromise window (and brings back one the attacker removed), so after recovery the attacker's passkey signs
 * nobody in while the owner's still does.
 */
describe("passkey-added-by-attacker-survives-lockdown", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("with the owner's passkey on the account, the stolen password gets only a challenge for the passkey", async () => {
    const owner = await t.signUp("ren@example.jp");
    await t.verifyEmail(owner.token, "ren@example.jp");
    const mine = await addPasskey(t, owner.token, { name: "Ren's phone" });
    assert.equal(mine.res.statusCode, 201, mine.res.body);
    t.clock.advance(86_400_000);
    const atk = await t.signIn("ren@example.jp", STRONG, ATTACKER);
    assert.equal(atk.status, "challenge", JSON.stringify(atk));
    assert.deepEqual(atk.factors, ["passkey"]);
    const code = await t.call("POST", "/v1/sign-in/challenge/code", { challengeToken: atk.challengeToken });
    assert.equal(code.json().error.code, "factor_unavailable", "no emailed code in the passkey's place");
    // And the owner's own older session, past its freshness, cannot add or remove one without the passkey.
    t.clock.advance(11 * 60_000);
    const refused = await addPasskey(t, owner.token);
    assert.equal(refused.res.json().error.code, "reauthentication_required");
  });

  it("the lockdown removes the passkey the attacker added; the owner's own signs in after recovery", async () => {
    const owner = await t.signUp("mio@example.jp");
    await t.verifyEmail(owner.token, "mio@example.jp");
    t.clock.advance(10 * 86_400_000);

    // The attacker signs in with the password; the account has no strong factor, so their fresh session may add one.
    const atk = await t.signIn("mio@example.jp", STRONG, ATTACKER);
    assert.equal(atk.http, 200, JSON.stringify(atk));
    const theirs = await addPasskey(t, atk.session.token, { name: "totally my phone" });
    assert.equal(theirs.res.statusCode, 201, theirs.res.body);
    assert.ok(await t.lastMail("mio@example.jp", "passkey_added"), "the owner is told at once");
    // and so is the store, as for an authenticator app: its backend may hold payouts or gift cards on it
    const hooks = await t.call("GET", `/v1/webhooks/messages?objectType=account&objectId=${owner.accountId}&limit=100`);
    const factorChanged = (hooks.json().messages as { type: string; data?: { event?: string } }[]).filter(
      (m) => m.type === "security.factor.changed",
    );
    assert.equal(factorChanged.length, 1, `security.factor.changed for passkey.added (${hooks.body})`);
    const before = await passkeySignIn(t, theirs.credential!, ATTACKER);
    assert.equal(before.res.statusCode, 200, "the attacker's passkey signs in, no password needed");
    t.clock.advance(30 * 60_000);

    const admin = await t.adminToken();
    const lock = await t.call(
      "POST",
      `/v1/admin/accounts/${owner.accountId}/lockdown`,
      { reason: "owner: a passkey I never added" },
      { auth: admin },
    );
    assert.equal(lock.statusCode, 200, lock.body);
    const report = lock.json();
    assert.equal(report.status, "locked_down");
    const removed = report.objects.filter(
      (o: { objectType: string; action: string }) => o.objectType === "second_factor" && o.action === "removed",
    );
    assert.equal(removed.length, 1, lock.body);

    // Recovery with a new password: the attacker's passkey is gone, and it does not sign in.
    await t.recover("mio@example.jp", STRONG3);
    const after = await passkeySignIn(t, theirs.credential!, ATTACKER);
    assert.equal(after.res.statusCode, 401);
    assert.equal(after.res.json().error.code, "passkey_invalid");
    const ownerIn = await t.signIn("mio@example.jp", STRONG3, TOKYO);
    assert.equal(ownerIn.http, 200, JSON.stringify(ownerIn));
    const left = (await t.call("GET", "/v1/passkeys", undefined, { session: ownerIn.session.token })).json();
    assert.deepEqual(left.passkeys, []);
    // The owner's own passkey, added after recovery, works.
    const mine = await addPasskey(t, ownerIn.session.token, { name: "Mio's phone" });
    assert.equal(mine.res.statusCode, 201, mine.res.body);
    assert.equal((await passkeySignIn(t, mine.credential!, TOKYO)).res.statusCode, 200);
  });
});
