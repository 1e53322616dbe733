import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { codeIn, makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";

/**
 * ASVS 6.3.3: a store that wants a second factor on every sign-in (MAMORI_SECOND_FACTOR=always) gets it from
 * everywhere, the owner's own device included. A password alone — stolen, from the very context the owner uses —
 * opens no session; the challenge is answered whatever the password, so it tells nothing either.
 */
describe("stolen-password-alone-signs-in", () => {
  let always: TestApp;
  let dflt: TestApp;
  before(async () => {
    always = await makeTestApp(undefined, undefined, { env: { MAMORI_SECOND_FACTOR: "always" } });
    dflt = await makeTestApp();
  });
  after(async () => {
    await always.close();
    await dflt.close();
  });

  it("by default the owner's known device signs in with the password alone (the risk-based mode)", async () => {
    await dflt.signUp("sf-default@example.jp");
    const r = await dflt.signIn("sf-default@example.jp", STRONG, TOKYO);
    assert.equal(r.status, "signed_in");
  });

  it("with MAMORI_SECOND_FACTOR=always, the right password from the owner's own device is only a challenge", async () => {
    const email = "sf-always@example.jp";
    await always.signUp(email);
    const r = await always.signIn(email, STRONG, TOKYO);
    assert.equal(r.http, 200, JSON.stringify(r));
    assert.equal(r.status, "challenge", "no session on a password alone");
    assert.equal(r.session, undefined);
    assert.deepEqual(r.factors, ["email_code"]);

    // A wrong password from the same device gets the same shape of answer (no oracle).
    const wrong = await always.signIn(email, "wrong-password-123456", TOKYO);
    assert.equal(wrong.http, 200);
    assert.equal(wrong.status, "challenge");
    assert.deepEqual(Object.keys(wrong).sort(), Object.keys(r).sort());
    assert.deepEqual(wrong.factors, r.factors);

    // The owner, who reads the mailbox, finishes the live one with the emailed code.
    const send = await always.call("POST", "/v1/sign-in/challenge/code", { challengeToken: r.challengeToken });
    assert.equal(send.statusCode, 200, send.body);
    const code = codeIn((await always.lastMail(email, "signin_code"))?.body);
    const done = await always.call("POST", "/v1/sign-in/challenge", {
      challengeToken: r.challengeToken,
      factor: "email_code",
      code,
    });
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(done.json().status, "signed_in");
  });

  it("a bad MAMORI_SECOND_FACTOR stops the start with a message", async () => {
    const { loadConfig } = await import("../../src/config.ts");
    assert.throws(
      () => loadConfig({ MAMORI_SECOND_FACTOR: "sometimes" }),
      /MAMORI_SECOND_FACTOR must be risk or always/,
    );
  });
});
