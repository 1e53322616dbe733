import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { sql } from "kysely";
import { makeTestApp, STRONG, type TestApp } from "../../testing/app.ts";
import { addPasskey } from "../../testing/passkeys.ts";
import { softAssert } from "../../testing/soft-authenticator.ts";
import { totpCodeAt } from "../totp.ts";

/**
 * Each factor says twice whether an account has it: `enrolled()` (what sign-in, step-up and the faces ask) and
 * `enrolledSql` (what risk's snapshot and in-memory facts read, for every account at once). If the two drift — a
 * removed passkey still counted, an unverified address taken for the emailed code — risk's `account.factors` and
 * `totpEnabled` describe an account that sign-in does not see, and a rule like "challenge unless the account has a
 * strong factor" decides on the wrong one. Accounts in every state a built-in factor has; for each registered factor
 * the SQL's answer must be `enrolled()`'s, on both stores.
 */
describe("a factor's enrolledSql agrees with its enrolled()", () => {
  let t: TestApp;
  const accounts: Record<string, string> = {};
  before(async () => {
    t = await makeTestApp();

    // sign-up verifies its address; a store's imported user may come with one it never verified
    const imp = await t.call("POST", "/v1/accounts/import", {
      accounts: [{ externalId: "unverified-1", email: "unverified@example.jp", emailVerified: false, language: "ja" }],
    });
    assert.equal(imp.statusCode, 200, imp.body);
    accounts.unverified = imp.json().rows[0].accountId as string;

    const verified = await t.signUp("verified@example.jp");
    await t.verifyEmail(verified.token, "verified@example.jp");
    accounts.verified = verified.accountId;

    // authenticator on (its recovery codes with it), then one with the authenticator turned off again
    const totp = async (email: string) => {
      const a = await t.signUp(email);
      await t.verifyEmail(a.token, email);
      const enrol = (await t.call("POST", "/v1/totp", {}, { session: a.token })).json();
      const ok = await t.call(
        "POST",
        "/v1/totp/confirm",
        { code: totpCodeAt(enrol.secret, t.clock.now()) },
        { session: a.token },
      );
      assert.equal(ok.statusCode, 200, ok.body);
      return { ...a, secret: enrol.secret as string, token: ok.json().session.token as string };
    };
    accounts.totp = (await totp("totp@example.jp")).accountId;
    const off = await totp("totp-off@example.jp");
    t.clock.advance(60_000);
    const re = await t.call(
      "POST",
      "/v1/session/reauthenticate",
      { password: STRONG, totpCode: totpCodeAt(off.secret, t.clock.now()) },
      { session: off.token },
    );
    assert.equal(re.statusCode, 200, re.body);
    const disabled = await t.call("POST", "/v1/totp/disable", {}, { session: re.json().session.token });
    assert.equal(disabled.statusCode, 200, disabled.body);
    accounts.totpOff = off.accountId;

    // a passkey, then one added and removed again
    const pk = await t.signUp("passkey@example.jp");
    await t.verifyEmail(pk.token, "passkey@example.jp");
    assert.equal((await addPasskey(t, pk.token)).res.statusCode, 201);
    accounts.passkey = pk.accountId;
    const gone = await t.signUp("passkey-gone@example.jp");
    await t.verifyEmail(gone.token, "passkey-gone@example.jp");
    const added = await addPasskey(t, gone.token);
    assert.equal(added.res.statusCode, 201, added.res.body);
    const o = (
      await t.call("POST", "/v1/sign-in/passkey/options", { purpose: "step_up" }, { session: gone.token })
    ).json();
    const step = await t.call(
      "POST",
      "/v1/session/reauthenticate",
      { passkey: softAssert(added.credential!, o.challenge, "http://mamori.test") },
      { session: gone.token },
    );
    assert.equal(step.statusCode, 200, step.body);
    const rm = await t.call("DELETE", `/v1/passkeys/${added.res.json().id}`, undefined, {
      session: step.json().session.token,
    });
    assert.equal(rm.statusCode, 200, rm.body);
    accounts.passkeyGone = gone.accountId;
  });
  after(() => t.close());

  it("for every registered factor and every account, the SQL's answer is enrolled()'s", async () => {
    const { db } = t.app.database;
    const ours = new Set(Object.values(accounts));
    for (const f of t.app.factors.enrolledSql) {
      const factor = t.app.factors.get(f.kind);
      assert.ok(factor, f.kind);
      const rows = (await sql.raw<{ account_id: string }>(f.select).execute(db)).rows;
      const bySql = new Set(rows.map((r) => String(r.account_id)).filter((id) => ours.has(id)));
      for (const [state, id] of Object.entries(accounts)) {
        assert.equal(
          bySql.has(id),
          await factor.enrolled(db, id),
          `${f.kind}: enrolledSql and enrolled() disagree for the account "${state}"`,
        );
      }
    }
  });

  it("the accounts cover each built-in factor both on and off (else the agreement above proves little)", async () => {
    const { db } = t.app.database;
    const kinds = await Promise.all(
      Object.entries(accounts).map(async ([state, id]) => [state, await t.app.factors.enrolledKinds(db, id)] as const),
    );
    const on = Object.fromEntries(kinds);
    assert.deepEqual(on.unverified, []);
    assert.deepEqual(on.verified, ["email_code"]);
    assert.ok(on.totp?.includes("totp") && on.totp.includes("recovery_code"), JSON.stringify(on.totp));
    assert.ok(!on.totpOff?.includes("totp"), JSON.stringify(on.totpOff));
    assert.ok(on.passkey?.includes("passkey"), JSON.stringify(on.passkey));
    assert.ok(!on.passkeyGone?.includes("passkey"), JSON.stringify(on.passkeyGone));
  });
});
