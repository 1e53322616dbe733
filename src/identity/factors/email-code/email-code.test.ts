import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { codeIn, makeTestApp, STRONG, type TestApp, TOKYO } from "../../../testing/app.ts";

/**
 * The emailed code as a plug-in factor (factors/email-code/): registered like the others, and a code answers only what
 * it was mailed for. A mailbox reader who asked for a step-up code in a session of their own, or who holds the code of
 * an older sign-in challenge, cannot use it to finish another challenge.
 */
describe("emailed-code-finishes-another-challenge", () => {
  let t: TestApp;
  const email = "code-bound@example.jp";
  before(async () => {
    t = await makeTestApp(undefined, undefined, { env: { MAMORI_SECOND_FACTOR: "always" } });
  });
  after(() => t.close());

  it("is a registered factor of strength 1, enrolled with a verified address", async () => {
    const a = await t.signUp(email);
    const f = t.app.factors.get("email_code");
    assert.equal(f?.strength, 1);
    assert.deepEqual(await t.app.factors.enrolledKinds(t.app.database.db, a.accountId), ["email_code"]);
    assert.deepEqual(
      (await t.app.factors.describe(t.app.database.db, a.accountId)).map((i) => `${i.kind}:${i.name}`),
      [`email_code:${email}`],
    );
  });

  it("a code mailed for one challenge does not finish a newer one, and a step-up code finishes none", async () => {
    const first = await t.signIn(email, STRONG, TOKYO);
    assert.equal(first.status, "challenge", JSON.stringify(first));
    const sent = await t.call("POST", "/v1/sign-in/challenge/code", { challengeToken: first.challengeToken });
    assert.equal(sent.statusCode, 200, sent.body);
    assert.equal(sent.json().sentTo, 1);
    const oldCode = codeIn((await t.lastMail(email, "signin_code"))?.body);

    const second = await t.signIn(email, STRONG, TOKYO);
    const stale = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: second.challengeToken,
      factor: "email_code",
      code: oldCode,
    });
    assert.equal(stale.statusCode, 401, stale.body);
    assert.equal(stale.json().error.code, "challenge_failed");

    t.clock.advance(1000); // the newest mail is the newest by time
    await t.call("POST", "/v1/sign-in/challenge/code", { challengeToken: second.challengeToken });
    const code = codeIn((await t.lastMail(email, "signin_code"))?.body);
    const done = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: second.challengeToken,
      factor: "email_code",
      code,
    });
    assert.equal(done.statusCode, 200, done.body);
    const session = done.json().session.token as string;

    t.clock.advance(1000);
    const stepUp = await t.call("POST", "/v1/session/reauthenticate/code", {}, { session });
    assert.equal(stepUp.statusCode, 200, stepUp.body);
    const stepCode = codeIn((await t.lastMail(email, "step_up_code"))?.body);
    const third = await t.signIn(email, STRONG, TOKYO);
    const wrongPurpose = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: third.challengeToken,
      factor: "email_code",
      code: stepCode,
    });
    assert.equal(wrongPurpose.statusCode, 401, wrongPurpose.body);

    const reauth = await t.call(
      "POST",
      "/v1/session/reauthenticate",
      { password: STRONG, emailCode: stepCode },
      { session },
    );
    assert.equal(reauth.statusCode, 200, reauth.body);
    assert.equal(reauth.json().secondFactor, true);
  });
});
