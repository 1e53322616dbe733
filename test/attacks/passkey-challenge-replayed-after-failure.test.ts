import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";
import { TEST_ORIGIN } from "../../src/testing/passkeys.ts";
import { softRegister } from "../../src/testing/soft-authenticator.ts";

/**
 * A registration challenge is single-use even when the answer fails. The spend used to happen inside the transaction
 * that stores the passkey, so a refused answer rolled the spend back and the same challenge could be answered again:
 * a phishing page that relayed the options and sent back an answer made on its own origin (refused) could try again
 * with the same challenge, as many times as it liked while the challenge lived. Owners' and staff passkeys alike.
 */
describe("passkey-challenge-replayed-after-failure", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("an owner's registration challenge answered wrongly once cannot be answered again", async () => {
    const owner = await t.signUp("retry@example.jp");
    const start = await t.call("POST", "/v1/passkeys/registration", {}, { session: owner.token });
    assert.equal(start.statusCode, 200, start.body);
    const phished = softRegister(start.json(), "http://mamori.test.login-verify.example");
    const first = await t.call("POST", "/v1/passkeys", { response: phished.response }, { session: owner.token });
    assert.equal(first.json().error?.code, "passkey_invalid", first.body);
    // The same challenge, now answered on the right origin: spent by the failure, so refused.
    const again = softRegister(start.json(), TEST_ORIGIN);
    const second = await t.call("POST", "/v1/passkeys", { response: again.response }, { session: owner.token });
    assert.equal(second.json().error?.code, "passkey_challenge_invalid", second.body);
    const list = await t.call("GET", "/v1/passkeys", undefined, { session: owner.token });
    assert.deepEqual(list.json().passkeys, [], list.body);
  });

  it("another session's answer carrying the owner's challenge does not spend it (the owner's ceremony still finishes)", async () => {
    // The spend now commits on its own, so it must be the owner's answer that spends it: anyone with a session of
    // their own (or a recovery) who saw the challenge would otherwise burn every ceremony they could read.
    const owner = await t.signUp("burn-target@example.jp");
    const stranger = await t.signUp("burner@example.jp");
    const start = await t.call("POST", "/v1/passkeys/registration", {}, { session: owner.token });
    const theirs = softRegister(start.json(), TEST_ORIGIN);
    const burn = await t.call("POST", "/v1/passkeys", { response: theirs.response }, { session: stranger.token });
    assert.equal(burn.json().error?.code, "passkey_challenge_invalid", burn.body);
    const mine = softRegister(start.json(), TEST_ORIGIN);
    const ok = await t.call("POST", "/v1/passkeys", { response: mine.response }, { session: owner.token });
    assert.equal(ok.statusCode, 201, ok.body);
  });

  it("a staff registration challenge answered wrongly once cannot be answered again", async () => {
    const admin = await t.adminToken();
    const start = await t.call("POST", "/v1/admin/passkeys/registration", {}, { auth: admin });
    assert.equal(start.statusCode, 200, start.body);
    const phished = softRegister(start.json(), "http://mamori.test.login-verify.example");
    const first = await t.call("POST", "/v1/admin/passkeys", { response: phished.response }, { auth: admin });
    assert.equal(first.json().error?.code, "passkey_invalid", first.body);
    const again = softRegister(start.json(), TEST_ORIGIN);
    const second = await t.call("POST", "/v1/admin/passkeys", { response: again.response }, { auth: admin });
    assert.equal(second.json().error?.code, "passkey_challenge_invalid", second.body);
    const staff = await t.app.database.db.selectFrom("staff_passkeys").select("id").execute();
    assert.deepEqual(staff, []);
  });
});
