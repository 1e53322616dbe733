import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import bcryptjs from "bcryptjs";
import { ATTACKER, makeTestApp, type TestApp, TOKYO } from "../../src/testing/app.ts";

/**
 * A store moves in with its users' bcrypt hashes: the owner signs in with the password they always had, from the
 * device the import said they use; the hash becomes argon2id in that sign-in, and the old hash is gone from the row
 * and from the password history. A wrong password stays wrong, before and after.
 */
describe("import-bcrypt-user-signs-in-and-is-rehashed", () => {
  let t: TestApp;
  const run = randomBytes(4).toString("hex");
  const email = `hanako.${run}@example.jp`;
  const PW = "hanako's old shop password 2019";
  const bcrypt = bcryptjs.hashSync(PW, 6);

  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
  });
  after(() => t.close());

  it("imports the row with its history, then signs in with the old password and rehashes", async () => {
    const r = await t.call("POST", "/v1/accounts/import", {
      accounts: [
        {
          externalId: `shop-${run}`,
          email,
          language: "ja",
          passwordHash: bcrypt,
          createdAt: "2019-04-01T00:00:00Z",
          signIns: [
            { at: "2026-10-01T10:00:00Z", ip: TOKYO.ip, userAgent: TOKYO.userAgent, deviceId: TOKYO.deviceId },
            { at: "2026-10-20T10:00:00Z", ip: TOKYO.ip, userAgent: TOKYO.userAgent, deviceId: TOKYO.deviceId },
          ],
        },
      ],
    });
    assert.equal(r.statusCode, 200, r.body);
    const body = r.json();
    assert.equal(body.imported, 1);
    const accountId = body.rows[0].accountId as string;
    const stored = () =>
      t.app.database.db
        .selectFrom("accounts")
        .select("password_hash")
        .where("id", "=", accountId)
        .executeTakeFirstOrThrow();
    assert.equal((await stored()).password_hash, bcrypt);

    const wrong = await t.signIn(email, `${PW}!`, TOKYO);
    assert.equal(wrong.http, 401);
    assert.equal((await stored()).password_hash, bcrypt, "a wrong password changes nothing");

    const ok = await t.signIn(email, PW, TOKYO);
    assert.equal(ok.http, 200, JSON.stringify(ok));
    assert.equal(ok.status, "signed_in", "the imported device and network are the owner's: no challenge");
    const now = (await stored()).password_hash!;
    assert.match(now, /^\$argon2id\$/);
    const history = await t.app.database.db
      .selectFrom("password_history")
      .select("hash")
      .where("account_id", "=", accountId)
      .execute();
    assert.deepEqual(
      history.map((h) => h.hash),
      [now],
      "the bcrypt hash is not kept anywhere",
    );

    // The same password keeps working through the new hash; a wrong one still does not.
    assert.equal((await t.signIn(email, PW, TOKYO)).status, "signed_in");
    assert.equal((await t.signIn(email, "not the password at all", TOKYO)).http, 401);
  });

  it("from the attacker's context the right imported password is not rehashed (no timing tell)", async () => {
    const e2 = `taro.${run}@example.jp`;
    const h = bcryptjs.hashSync(PW, 6);
    const r = await t.call("POST", "/v1/accounts/import", {
      accounts: [
        {
          externalId: `shop2-${run}`,
          email: e2,
          passwordHash: h,
          signIns: [{ at: "2026-10-01T10:00:00Z", ip: TOKYO.ip, userAgent: TOKYO.userAgent, deviceId: TOKYO.deviceId }],
        },
      ],
    });
    const accountId = r.json().rows[0].accountId as string;
    const a = await t.signIn(e2, PW, ATTACKER);
    assert.notEqual(a.status, "signed_in");
    const row = await t.app.database.db
      .selectFrom("accounts")
      .select("password_hash")
      .where("id", "=", accountId)
      .executeTakeFirstOrThrow();
    assert.equal(row.password_hash, h);
  });
});
