import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, type TestApp, TOKYO } from "../../src/testing/app.ts";
import { addPasskey, passkeySignIn, TEST_ORIGIN } from "../../src/testing/passkeys.ts";
import { softAssert } from "../../src/testing/soft-authenticator.ts";

/**
 * A captured passkey answer (a proxy's log, a browser extension) replayed to sign in again, a clone of the key
 * answering with an old counter, and a phishing page relaying the owner's answer: none may open a session.
 */
describe("passkey-challenge-replayed", () => {
  let t: TestApp;
  let owner: { accountId: string; token: string };
  // Once the account has a passkey, adding another needs a fresh strong factor: the passkey sign-in's session has one.
  let session: string;
  before(async () => {
    t = await makeTestApp();
    owner = await t.signUp("aoi@example.jp");
  });
  after(() => t.close());

  it("a captured sign-in answer does not sign in a second time", async () => {
    const { credential } = await addPasskey(t, owner.token);
    const first = await passkeySignIn(t, credential!, TOKYO);
    assert.equal(first.res.statusCode, 200, first.res.body);
    assert.equal(first.res.json().accountId, owner.accountId);
    session = first.res.json().session.token;
    const replay = await t.call("POST", "/v1/sign-in/passkey", { response: first.response, context: ATTACKER });
    assert.equal(replay.statusCode, 400);
    assert.equal(replay.json().error.code, "passkey_challenge_invalid");
    // The login history has the one sign-in (factor passkey) and the refused replay.
    const hist = (
      await t.call("GET", "/v1/login-history", undefined, { session: first.res.json().session.token })
    ).json();
    const mine = hist.attempts.filter((a: { outcome: string }) => a.outcome === "succeeded");
    assert.ok(mine.some((a: { sessionId: string }) => a.sessionId === first.res.json().session.id));
  });

  it("a clone answering with an old counter is refused and leaves a clone warning", async () => {
    const { credential } = await addPasskey(t, session, { name: "Key" });
    assert.equal((await passkeySignIn(t, credential!, TOKYO)).res.statusCode, 200);
    assert.equal((await passkeySignIn(t, credential!, TOKYO)).res.statusCode, 200);
    const o = await t.call("POST", "/v1/sign-in/passkey/options", {});
    const cloned = softAssert(credential!, o.json().challenge, TEST_ORIGIN, { counter: 1 });
    const r = await t.call("POST", "/v1/sign-in/passkey", { response: cloned, context: ATTACKER });
    assert.equal(r.statusCode, 401);
    assert.equal(r.json().error.code, "passkey_clone_suspected");
    const ev = await t.app.database.db
      .selectFrom("events")
      .select("type")
      .where("account_id", "=", owner.accountId)
      .where("type", "=", "passkey.clone_warning")
      .execute();
    assert.equal(ev.length, 1);
  });

  it("an answer made on a phishing page (another origin) is refused", async () => {
    const { credential } = await addPasskey(t, session, { name: "Laptop" });
    const r = await passkeySignIn(t, credential!, ATTACKER, { origin: "http://mamori.test.login-verify.example" });
    assert.equal(r.res.statusCode, 401);
    assert.equal(r.res.json().error.code, "passkey_invalid");
  });
});
