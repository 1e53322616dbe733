import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, STRONG, type TestApp, TOKYO } from "../../../testing/app.ts";
import { addPasskey, passkeySignIn, TEST_ORIGIN } from "../../../testing/passkeys.ts";
import { softAssert } from "../../../testing/soft-authenticator.ts";

/** The seven passkey operations through the API, with a software authenticator answering the browser's part. */
describe("passkeys API", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const events = async (accountId: string) =>
    (
      await t.app.database.db
        .selectFrom("events")
        .select("type")
        .where("account_id", "=", accountId)
        .where("type", "like", "passkey.%")
        .orderBy("seq")
        .execute()
    ).map((e) => e.type);

  it("registering needs a fresh sign-in, like enrolling an authenticator app", async () => {
    const a = await t.signUp("stale@example.jp");
    t.clock.advance(11 * 60_000);
    const start = await t.call("POST", "/v1/passkeys/registration", {}, { session: a.token });
    assert.equal(start.statusCode, 403, start.body);
    assert.equal(start.json().error.code, "reauthentication_required");
  });

  it("register, sign in without a password, list, rename, step up with it, remove — each recorded", async () => {
    const a = await t.signUp("kana@example.jp");
    await t.verifyEmail(a.token, "kana@example.jp");
    const start = (await t.call("POST", "/v1/passkeys/registration", {}, { session: a.token })).json();
    assert.equal(start.rp.id, "mamori.test", "RP id from MAMORI_PUBLIC_URL by default");
    assert.equal(start.attestation, "none");
    const { credential, res } = await addPasskey(t, a.token, { name: "iPhone" });
    assert.equal(res.statusCode, 201, res.body);
    assert.equal(res.json().name, "iPhone");
    assert.ok(await t.lastMail("kana@example.jp", "passkey_added"));

    // Usernameless: no email, no password; a normal session, in the login history.
    const signIn = await passkeySignIn(t, credential!, TOKYO);
    assert.equal(signIn.res.statusCode, 200, signIn.res.body);
    const s = signIn.res.json().session.token as string;
    const intro = (await t.call("POST", "/v1/sessions/introspect", { token: s })).json();
    assert.equal(intro.active, true);
    assert.equal(intro.accountId, a.accountId);
    const hist = (await t.call("GET", "/v1/login-history", undefined, { session: s })).json();
    assert.equal(hist.attempts[0].outcome, "succeeded");
    assert.equal(hist.attempts[0].sessionId, signIn.res.json().session.id);

    const list = (await t.call("GET", "/v1/passkeys", undefined, { session: s })).json();
    assert.equal(list.passkeys.length, 1);
    assert.ok(list.passkeys[0].lastUsedAt, "the sign-in is its last use");
    const id = list.passkeys[0].id as string;
    const ren = await t.call("PATCH", `/v1/passkeys/${id}`, { name: "Kana's iPhone" }, { session: s });
    assert.equal(ren.statusCode, 200, ren.body);
    assert.equal(ren.json().name, "Kana's iPhone");

    // Step-up: later, a sensitive change needs a fresh strong factor; the passkey gives it, without the password.
    t.clock.advance(20 * 60_000);
    const stale = await t.call("DELETE", `/v1/passkeys/${id}`, undefined, { session: s });
    assert.equal(stale.json().error.code, "reauthentication_required");
    const o = (await t.call("POST", "/v1/sign-in/passkey/options", { purpose: "step_up" }, { session: s })).json();
    const re = await t.call(
      "POST",
      "/v1/session/reauthenticate",
      { passkey: softAssert(credential!, o.challenge, TEST_ORIGIN) },
      { session: s },
    );
    assert.equal(re.statusCode, 200, re.body);
    assert.equal(re.json().secondFactor, true);
    const s2 = re.json().session.token as string;
    // A step-up challenge belongs to its session: it cannot sign anyone in.
    const o2 = (await t.call("POST", "/v1/sign-in/passkey/options", { purpose: "step_up" }, { session: s2 })).json();
    const misuse = await t.call("POST", "/v1/sign-in/passkey", {
      response: softAssert(credential!, o2.challenge, TEST_ORIGIN),
      context: TOKYO,
    });
    assert.equal(misuse.json().error.code, "passkey_challenge_invalid");

    const rm = await t.call("DELETE", `/v1/passkeys/${id}`, undefined, { session: s2 });
    assert.equal(rm.statusCode, 200, rm.body);
    assert.ok(await t.lastMail("kana@example.jp", "passkey_removed"));
    assert.deepEqual((await t.call("GET", "/v1/passkeys", undefined, { session: s2 })).json().passkeys, []);
    assert.deepEqual(await events(a.accountId), ["passkey.added", "passkey.renamed", "passkey.removed"]);
    const gone = await passkeySignIn(t, credential!, TOKYO);
    assert.equal(gone.res.json().error.code, "passkey_invalid", "a removed passkey signs nobody in");
  });

  it("with a passkey, a password sign-in is a challenge the passkey completes (not an emailed code)", async () => {
    const a = await t.signUp("second@example.jp");
    await t.verifyEmail(a.token, "second@example.jp");
    const { credential } = await addPasskey(t, a.token);
    const r = await t.signIn("second@example.jp", STRONG, TOKYO);
    assert.equal(r.status, "challenge", JSON.stringify(r));
    assert.deepEqual(r.factors, ["passkey"], "an emailed code does not stand in for the passkey");
    const o = await t.call("POST", "/v1/sign-in/passkey/options", {
      purpose: "second_factor",
      challengeToken: r.challengeToken,
    });
    assert.equal(o.statusCode, 200, o.body);
    // A usernameless sign-in's answer does not fit this challenge.
    const other = (await t.call("POST", "/v1/sign-in/passkey/options", {})).json();
    const wrong = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: r.challengeToken,
      factor: "passkey",
      passkey: softAssert(credential!, other.challenge, TEST_ORIGIN),
    });
    assert.equal(wrong.json().error.code, "challenge_failed");
    const done = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: r.challengeToken,
      factor: "passkey",
      passkey: softAssert(credential!, o.json().challenge, TEST_ORIGIN),
      context: TOKYO,
    });
    assert.equal(done.statusCode, 200, done.body);
    assert.equal(done.json().status, "signed_in");
    const row = await t.app.database.db
      .selectFrom("sessions")
      .select(["factor", "second_factor_kind"])
      .where("id", "=", done.json().session.id)
      .executeTakeFirstOrThrow();
    assert.deepEqual(row, { factor: "password+passkey", second_factor_kind: "passkey" });
  });

  it("a frozen account is not signed in by its passkey", async () => {
    const a = await t.signUp("frozen@example.jp");
    const { credential } = await addPasskey(t, a.token);
    await t.app.database.db.updateTable("accounts").set({ status: "frozen" }).where("id", "=", a.accountId).execute();
    const r = await passkeySignIn(t, credential!, TOKYO);
    assert.equal(r.res.json().error.code, "account_frozen");
  });
});
