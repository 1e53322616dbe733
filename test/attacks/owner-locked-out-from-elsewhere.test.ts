import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";

/**
 * Issue 19: ten wrong passwords from ten addresses, then the right one from the owner's own device, answered 429 for
 * 15 minutes: anyone could lock the owner out. Now failures are throttled per account+source first (NIST SP 800-63B
 * §5.2.2); past the per-account threshold an unknown device must pass a second factor, while the owner's known device
 * keeps signing in with the password.
 */
describe("owner-locked-out-from-elsewhere", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("ten wrong passwords from ten addresses do not keep the owner's own device out", async () => {
    await t.signUp("victim-lock@example.jp");
    for (let i = 0; i < 12; i++) {
      const r = await t.signIn("victim-lock@example.jp", `wrong-${i}-guess`, { ...ATTACKER, ip: `9.9.9.${i + 1}` });
      assert.notEqual(r.http, 429, `attempt ${i}: one wrong guess per address is not throttled`);
    }
    const owner = await t.signIn("victim-lock@example.jp", STRONG, TOKYO);
    assert.equal(owner.http, 200, JSON.stringify(owner));
    assert.equal(owner.status, "signed_in", "the owner's known device signs straight in");
  });

  it("an unknown device with the right password, while the account is under attack, must pass a second factor", async () => {
    await t.signUp("under-attack@example.jp");
    for (let i = 0; i < 10; i++) {
      await t.signIn("under-attack@example.jp", `nope-${i}-guess`, { ...ATTACKER, ip: `9.9.8.${i + 1}` });
    }
    const newPhone = { ...TOKYO, deviceId: "owner-new-phone", ip: "133.0.0.77" };
    const r = await t.signIn("under-attack@example.jp", STRONG, newPhone);
    assert.equal(r.http, 200);
    assert.equal(r.status, "challenge");
    assert.deepEqual(r.factors, ["email_code"]);
    // …which the owner can pass with the code from the mailbox.
    await t.call("POST", "/v1/sign-in/challenge/code", { challengeToken: r.challengeToken });
    const code = (await t.lastMail("under-attack@example.jp", "signin_code"))?.body.match(/\b(\d{6})\b/)?.[1];
    const done = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: r.challengeToken,
      factor: "email_code",
      code,
      context: newPhone,
    });
    assert.equal(done.statusCode, 200, done.body);
  });

  it("one address guessing one account is stopped after five failures, before any password is hashed", async () => {
    await t.signUp("pair@example.jp");
    const from = { ...ATTACKER, ip: "9.9.7.1" };
    for (let i = 0; i < 5; i++) assert.notEqual((await t.signIn("pair@example.jp", `x-${i}-wrong`, from)).http, 429);
    const blocked = await t.signIn("pair@example.jp", STRONG, from);
    assert.equal(blocked.http, 429);
    assert.equal(blocked.error.code, "rate_limited");
    assert.ok(blocked.error.details.retryAfterSeconds > 0);
    // The owner, elsewhere, is not affected.
    assert.equal((await t.signIn("pair@example.jp", STRONG, TOKYO)).status, "signed_in");
    // After the window the pair may try again.
    t.clock.advance(16 * 60_000);
    assert.notEqual((await t.signIn("pair@example.jp", STRONG, from)).http, 429);
  });

  it("an address failing across many accounts goes on the attack list: refused before hashing, for an hour", async () => {
    const source = { ...ATTACKER, ip: "9.9.6.1" };
    for (let i = 0; i < 20; i++) await t.signIn(`spray-${i}@example.jp`, "Password123!", source);
    const r = await t.signIn("someone-else@example.jp", "Password123!", source);
    assert.equal(r.http, 429);
    assert.equal(await t.app.identity.sourceListed(source.ip), true);
    t.clock.advance(61 * 60_000);
    assert.notEqual((await t.signIn("someone-else@example.jp", "Password123!", source)).http, 429);
  });

  it("the login history records every attempt, refused ones too", async () => {
    const a = await t.signUp("history-lock@example.jp");
    for (let i = 0; i < 3; i++)
      await t.signIn("history-lock@example.jp", `bad-${i}-pw`, { ...ATTACKER, ip: `9.9.5.${i}` });
    const hist = await t.app.identity.listLoginHistory(a.accountId);
    assert.equal(hist.filter((h) => h.outcome === "failed" && h.reason === "invalid_credentials").length, 3);
  });
});
