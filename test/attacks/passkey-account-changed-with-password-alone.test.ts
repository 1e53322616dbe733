import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";
import { addPasskey } from "../../src/testing/passkeys.ts";
import { ADDRESS } from "../commerce/helpers.ts";

/**
 * An account whose strongest factor is a passkey (no authenticator app): a session holding only a fresh password —
 * the attacker's, with the leaked password — must not change the sign-in countries or add a shipping address or
 * card. Those gates asked for a second factor only when an authenticator app was enrolled, so for a passkey-only
 * owner a password alone opened them.
 */
describe("passkey-account-changed-with-password-alone", () => {
  let t: TestApp;
  let owner: { accountId: string; token: string };
  before(async () => {
    t = await makeTestApp();
    owner = await t.signUp("hana@example.jp");
    const { res } = await addPasskey(t, owner.token);
    assert.equal(res.statusCode, 201, res.body);
  });
  after(() => t.close());

  it("the sign-in countries need a fresh passkey, not only a fresh password", async () => {
    // The session is freshly signed in with the password, and has no second factor.
    const r = await t.call("POST", "/v1/account/sign-in-countries", { countries: ["US"] }, { session: owner.token });
    assert.equal(r.statusCode, 403, r.body);
    assert.equal(r.json().error.code, "second_factor_required");
    assert.match(r.body, /"required":2/, "an authenticator-strength factor is what it asks for");
    const now = await t.call("GET", "/v1/account/sign-in-countries", undefined, { session: owner.token });
    assert.equal(now.statusCode, 200, now.body);
    assert.ok(!JSON.stringify(now.json().countries).includes("US"), "the countries did not change");
  });

  it("a shipping address needs it too", async () => {
    const r = await t.call("POST", "/v1/commerce/addresses", { ...ADDRESS, name: "Drop" }, { session: owner.token });
    assert.equal(r.statusCode, 403, r.body);
    assert.equal(r.json().error.code, "second_factor_required");
  });
});
