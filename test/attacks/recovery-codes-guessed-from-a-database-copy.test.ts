import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import { newId, normalizeHumanCode, sha256 } from "../../src/shared/crypto.ts";
import { makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";

/**
 * ASVS 6.5.2: with a copy of the database (and, worse, the instance key), the attacker guesses recovery codes and
 * app passwords offline. New ones carry 120 bits, out of reach of any guessing, under a keyed hash; the old 80-bit
 * ones are rewrapped under salted argon2id without their plaintext, and keep working for their owners.
 */
const LEGACY_CODE = "ABCD-EFGH-JKLM-NPQR"; // 16 base32 characters: the old 80-bit format
const LEGACY_APP_PASSWORD = "wxyz-2345-6789-abcd";
const IMAP = { ip: "203.0.113.9", userAgent: "Thunderbird/115.0", channel: "app-password" as const };

async function enroll(t: TestApp, email: string) {
  const a = await t.signUp(email);
  const e = await t.call("POST", "/v1/totp", undefined, { session: a.token });
  const secret = e.json().secret as string;
  const c = await t.call("POST", "/v1/totp/confirm", { code: totpCodeAt(secret, t.clock.now()) }, { session: a.token });
  assert.equal(c.statusCode, 200, c.body);
  t.clock.advance(30_000);
  return { ...a, token: c.json().session.token as string, recoveryCodes: c.json().recoveryCodes as string[] };
}

describe("recovery-codes-guessed-from-a-database-copy", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("new recovery codes and app passwords carry 120 bits and are stored keyed, one row per secret", async () => {
    const a = await enroll(t, "lookup-new@example.jp");
    for (const c of a.recoveryCodes) assert.equal(normalizeHumanCode(c).length, 24, c);
    const rows = await t.app.database.db
      .selectFrom("recovery_codes")
      .select(["code_hash", "hash_version"])
      .where("account_id", "=", a.accountId)
      .execute();
    assert.equal(rows.length, 10);
    for (const r of rows) {
      assert.equal(r.hash_version, 3);
      // Not a bare hash of the code: without the instance key the table is useless for guessing.
      assert.ok(!a.recoveryCodes.some((c) => r.code_hash === sha256(`recovery:${normalizeHumanCode(c)}`)));
    }
    const ap = await t.call("POST", "/v1/app-passwords", { name: "imap" }, { session: a.token });
    assert.equal(ap.statusCode, 201, ap.body);
    assert.equal(normalizeHumanCode(ap.json().password).length, 24);
  });

  it("an old 80-bit recovery code is rewrapped under salted argon2id, and still works exactly once", async () => {
    const x = await enroll(t, "lookup-old-1@example.jp");
    const y = await enroll(t, "lookup-old-2@example.jp");
    const db = t.app.database.db;
    // Rows as an old version stored them (version 1: a plain SHA-256), the same code on two accounts.
    for (const acc of [x, y]) {
      await db
        .insertInto("recovery_codes")
        .values({
          id: newId(),
          account_id: acc.accountId,
          code_hash: sha256(`recovery:${normalizeHumanCode(LEGACY_CODE)}`),
          created_at: t.clock.now(),
          used_at: null,
          hash_version: 1,
        })
        .execute();
    }
    assert.ok((await t.app.identity.upgradeStoredSecrets()) >= 2);
    const legacy = await db
      .selectFrom("recovery_codes")
      .select(["code_hash", "hash_version"])
      .where("account_id", "in", [x.accountId, y.accountId])
      .where("hash_version", "!=", 3)
      .execute();
    assert.equal(legacy.length, 2);
    for (const r of legacy) {
      assert.equal(r.hash_version, 4);
      assert.match(r.code_hash, /^\$argon2id\$/);
    }
    assert.notEqual(legacy[0]!.code_hash, legacy[1]!.code_hash, "each row has its own salt");
    assert.equal(await t.app.identity.upgradeStoredSecrets(), 0, "nothing left to rewrap");

    const use = async () => {
      const c = await t.signIn("lookup-old-1@example.jp", STRONG);
      assert.equal(c.status, "challenge");
      return t.call("POST", "/v1/sign-in/challenge", {
        challengeToken: c.challengeToken,
        factor: "recovery_code",
        code: LEGACY_CODE.toLowerCase(),
      });
    };
    const first = await use();
    assert.equal(first.statusCode, 200, first.body);
    const second = await use();
    assert.equal(second.statusCode, 401);
    assert.equal(second.json().error.code, "challenge_failed");
  });

  it("an old 80-bit app password is rewrapped and still signs the mail client in", async () => {
    const a = await t.signUp("lookup-old-ap@example.jp");
    const db = t.app.database.db;
    const acc = await db
      .selectFrom("accounts")
      .select("credential_epoch")
      .where("id", "=", a.accountId)
      .executeTakeFirstOrThrow();
    await db
      .insertInto("app_passwords")
      .values({
        id: newId(),
        account_id: a.accountId,
        name: "old mail client",
        secret_hash: sha256(`app-password:${normalizeHumanCode(LEGACY_APP_PASSWORD)}`),
        hash_version: 1,
        epoch: acc.credential_epoch,
        created_at: t.clock.now(),
        created_by_session: null,
        last_used_at: null,
        last_used_ip: null,
        last_used_country: null,
        revoked_at: null,
        revoked_reason: null,
      })
      .execute();
    await t.app.identity.upgradeStoredSecrets();
    const row = await db
      .selectFrom("app_passwords")
      .select(["secret_hash", "hash_version"])
      .where("account_id", "=", a.accountId)
      .executeTakeFirstOrThrow();
    assert.equal(row.hash_version, 4);
    assert.match(row.secret_hash, /^\$argon2id\$/);
    const ok = await t.call("POST", "/v1/sign-in/app-password", {
      email: "lookup-old-ap@example.jp",
      appPassword: LEGACY_APP_PASSWORD,
      context: IMAP,
    });
    assert.equal(ok.statusCode, 200, ok.body);
    const wrong = await t.call("POST", "/v1/sign-in/app-password", {
      email: "lookup-old-ap@example.jp",
      appPassword: "wxyz-2345-6789-abce",
      context: IMAP,
    });
    assert.equal(wrong.statusCode, 401);
  });
});
