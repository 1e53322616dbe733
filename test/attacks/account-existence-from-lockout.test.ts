import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, STRONG, STRONG2, type TestApp } from "../../src/testing/app.ts";

/**
 * Issue 19: the lockout counter told whether an account existed (11 × 401 on an unknown address; 10 × 401 then 429
 * on a real one), sign-up answered 409 email_taken, and a reset request for a verified address took measurably
 * longer. Now every counter is keyed by what was typed, sign-up and reset answer the same for known and unknown
 * addresses (the truth goes by mail to the address), and both do the same work (timing: bench/signin-oracle.ts).
 */
describe("account-existence-from-lockout", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  /** The sequence of answers (status + code or status) to n wrong passwords from one address. */
  async function probe(email: string, ip: string, n: number) {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const r = await t.signIn(email, `guess-${i}-wrong`, { ...ATTACKER, ip, deviceId: `probe-${ip}` });
      out.push(`${r.http}:${r.error?.code ?? r.status}`);
    }
    return out;
  }

  it("wrong passwords on a real and an unknown address get the same sequence of answers", async () => {
    await t.signUp("real-one@example.jp");
    const real = await probe("real-one@example.jp", "9.8.7.1", 12);
    const unknown = await probe("ghost-one@example.jp", "9.8.7.2", 12);
    // An unknown address is answered with a challenge (as a risky attempt on any account is); what matters is that
    // the throttling step — here the fifth failure from one address — comes at the same place for both.
    assert.deepEqual(
      real.map((x) => x.startsWith("429")),
      unknown.map((x) => x.startsWith("429")),
    );
    assert.ok(
      real.some((x) => x.startsWith("429")),
      "the pair is throttled",
    );
  });

  it("sign-up answers the same for a taken and a free address; the truth goes to the address", async () => {
    await t.signUp("taken@example.jp");
    const ctx = { ...ATTACKER, ip: "9.8.6.1" };
    const taken = await t.call("POST", "/v1/accounts", { email: "taken@example.jp", password: STRONG2, context: ctx });
    const free = await t.call("POST", "/v1/accounts", {
      email: "free-addr@example.jp",
      password: STRONG2,
      context: ctx,
    });
    assert.equal(taken.statusCode, 202);
    assert.equal(free.statusCode, 202);
    assert.deepEqual(Object.keys(taken.json()).sort(), Object.keys(free.json()).sort());
    assert.ok(await t.lastMail("taken@example.jp", "signup_address_taken"));
    assert.ok(await t.lastMail("free-addr@example.jp", "signup_code"));
    // A weak password is refused the same way for both, before anything else.
    const weak1 = await t.call("POST", "/v1/accounts", {
      email: "taken@example.jp",
      password: "password",
      context: ctx,
    });
    const weak2 = await t.call("POST", "/v1/accounts", {
      email: "free2@example.jp",
      password: "password",
      context: ctx,
    });
    assert.equal(weak1.statusCode, 422);
    assert.equal(weak1.body, weak2.body);
  });

  it("a reset request answers the same for a known and an unknown address; each address hears the truth", async () => {
    await t.signUp("knows-reset@example.jp");
    const ctx = { ...ATTACKER, ip: "9.8.5.1" };
    const known = await t.call("POST", "/v1/password/reset-request", { email: "knows-reset@example.jp", context: ctx });
    const unknown = await t.call("POST", "/v1/password/reset-request", { email: "no-acct@example.jp", context: ctx });
    assert.equal(known.statusCode, 202);
    assert.equal(known.body, unknown.body);
    assert.ok(await t.lastMail("knows-reset@example.jp", "password_reset"));
    assert.ok(await t.lastMail("no-acct@example.jp", "password_reset_no_account"));
    // Not a mail cannon: at most two "no account" notes a day for one address.
    for (let i = 0; i < 3; i++) {
      await t.call("POST", "/v1/password/reset-request", { email: "no-acct@example.jp", context: ctx });
    }
    const notes = (await t.mails("no-acct@example.jp")).filter((m) => m.template === "password_reset_no_account");
    assert.equal(notes.length, 2);
    assert.equal((await t.signIn("knows-reset@example.jp", STRONG)).status, "signed_in");
  });
});
