import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";

// NIST SP 800-63B §5.2.2: limit failed attempts per account; also per IP against spraying.
describe("password-guessing-rate-limit", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("after 10 failures an unknown device needs a second factor even with the right password, until the window passes", async () => {
    const { accountId } = await t.signUp("guess@example.jp");
    for (let i = 0; i < 10; i++) {
      const r = await t.signIn("guess@example.jp", `wrong-${i}`, { ...ATTACKER, ip: `9.9.9.${i + 1}` });
      assert.equal(r.http, 401);
    }
    // Guessing on: every answer is now a challenge, right password or not, so the guesses learn nothing.
    const right = await t.signIn("guess@example.jp", STRONG, { ...ATTACKER, ip: "9.9.9.77" });
    const wrong = await t.signIn("guess@example.jp", "wrong-again", { ...ATTACKER, ip: "9.9.9.78" });
    assert.equal(right.status, "challenge");
    assert.equal(wrong.status, "challenge");
    t.clock.advance(16 * 60_000);
    assert.equal((await t.signIn("guess@example.jp", STRONG, { ...ATTACKER, ip: "9.9.9.79" })).status, "signed_in");
    // Every attempt is in the login history.
    const hist = await t.app.identity.listLoginHistory(accountId);
    assert.ok(hist.filter((h) => h.outcome === "failed").length >= 11);
    assert.ok(hist.some((h) => h.outcome === "challenged" && h.reason === "under_attack"));
  });

  it("past 100 failures in a day, unknown devices are refused outright (NIST SP 800-63B §5.2.2); the owner's is not", async () => {
    await t.signUp("hundred@example.jp");
    for (let i = 0; i < 100; i++) {
      // A botnet: every guess from another network, so no source is ever listed.
      await t.signIn("hundred@example.jp", `w-${i}`, { ...ATTACKER, ip: `9.${i + 1}.7.1` });
    }
    const r = await t.signIn("hundred@example.jp", STRONG, { ...ATTACKER, ip: "9.7.9.9" });
    assert.equal(r.status, "challenge", "a decoy: nothing could complete it");
    const send = await t.call("POST", "/v1/sign-in/challenge/code", { challengeToken: r.challengeToken });
    assert.equal(send.statusCode, 200);
    assert.equal(await t.lastMail("hundred@example.jp", "signin_code"), undefined);
    assert.equal((await t.signIn("hundred@example.jp", STRONG)).status, "signed_in", "the owner's own device");
  });

  it("one IP spraying many accounts is limited", async () => {
    let last = 0;
    for (let i = 0; i < 101; i++) {
      last = (await t.signIn(`spray${i}@example.jp`, "Password1!", { ...ATTACKER, ip: "5.5.5.5" })).http;
    }
    assert.equal(last, 429);
  });

  it("emailed codes: at most five guesses per code", async () => {
    const a = await t.signUp("codes@example.jp");
    for (let i = 0; i < 5; i++) {
      const r = await t.call(
        "POST",
        "/v1/contacts/verification/confirm",
        { kind: "email", code: "000000" },
        { session: a.token },
      );
      assert.equal(r.statusCode, 400);
    }
    const m = await t.lastMail("codes@example.jp", "email_verify_code");
    const code = m?.body.match(/\b(\d{6})\b/)?.[1];
    const r = await t.call("POST", "/v1/contacts/verification/confirm", { kind: "email", code }, { session: a.token });
    assert.equal(r.statusCode, 400, "the right code no longer works after five wrong guesses");
  });
});
