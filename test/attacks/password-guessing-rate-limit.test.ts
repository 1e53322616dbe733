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

  it("after 10 failures the account answers 429 with a code, even for the right password, until the window passes", async () => {
    await t.signUp("guess@example.jp");
    for (let i = 0; i < 10; i++) {
      const r = await t.signIn("guess@example.jp", `wrong-${i}`, { ...ATTACKER, ip: `9.9.9.${i + 1}` });
      assert.equal(r.http, 401);
    }
    const blocked = await t.signIn("guess@example.jp", STRONG, ATTACKER);
    assert.equal(blocked.http, 429);
    assert.equal(blocked.error.code, "rate_limited");
    assert.ok(blocked.error.details.retryAfterSeconds > 0);
    t.clock.advance(16 * 60_000);
    assert.equal((await t.signIn("guess@example.jp", STRONG)).http, 200);
    // Every attempt is in the login history.
    const hist = await t.app.identity.listLoginHistory((await t.signIn("guess@example.jp", STRONG)).accountId);
    assert.ok(hist.filter((h) => h.outcome === "failed").length >= 10);
    assert.ok(hist.some((h) => h.outcome === "denied" && h.reason === "rate_limited"));
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
