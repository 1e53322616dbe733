import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, linkToken, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";

/**
 * Issue 14: the right password used from abroad and refused told the owner nothing, though it means the password is
 * known to someone else. Now a refused right password from a new country, network or device tells every verified
 * address at once — when, where (country, network), which device, change your password, "This wasn't me" — at most
 * three times a day, so an attacker cannot flood the owner. A wrong password tells nobody.
 */
describe("owner-not-told-of-refused-password", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
  });
  after(() => t.close());

  const alerts = async (email: string) =>
    (await t.mails(email)).filter((m) => m.template === "signin_refused_right_password");

  it("the right password refused from abroad: the owner is told at once, with where, the network and the device", async () => {
    await t.signUp("told@example.jp");
    t.clock.advance(1000);
    const r = await t.signIn("told@example.jp", STRONG, ATTACKER);
    assert.equal(r.status, "challenge", "the attacker sees a challenge, as for a wrong password");
    const [n, ...more] = await alerts("told@example.jp");
    assert.ok(n, "the owner is told");
    assert.equal(more.length, 0);
    assert.match(n.body, /United States/);
    assert.match(n.body, /Google LLC \(AS15169\)/, "the network by name");
    assert.match(n.body, /8\.8\.8\.8/);
    assert.match(n.body, /Firefox/);
    assert.match(n.body, /change it now/);
    // The one-click "This wasn't me" locks the account down.
    const notMe = await t.call("POST", "/v1/not-me", { token: linkToken(n.body, "/links/not-me") }, { auth: null });
    assert.equal(notMe.statusCode, 200, notMe.body);
  });

  it("a wrong password from the same place tells nobody", async () => {
    await t.signUp("quiet@example.jp");
    t.clock.advance(1000);
    await t.signIn("quiet@example.jp", "wrong wrong wrong 1234", ATTACKER);
    assert.equal((await alerts("quiet@example.jp")).length, 0);
  });

  it("an attacker repeating the right password cannot flood the owner: three a day", async () => {
    await t.signUp("flood@example.jp");
    for (let i = 0; i < 6; i++) {
      t.clock.advance(60_000);
      await t.signIn("flood@example.jp", STRONG, { ...ATTACKER, ip: `8.8.4.${i + 1}` });
    }
    assert.equal((await alerts("flood@example.jp")).length, 3);
    t.clock.advance(24 * 3_600_000);
    await t.signIn("flood@example.jp", STRONG, ATTACKER);
    assert.equal((await alerts("flood@example.jp")).length, 4, "the next day, the next one goes out");
  });
});
