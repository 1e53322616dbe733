import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkImportedHash, verifyLegacy } from "./legacy-hashes.ts";
import { createArgon2Hasher } from "./passwords.ts";

// Vectors made by other implementations: OpenBSD/crypt_blowfish's test vector, and Python's hashlib
// (pbkdf2_hmac, scrypt) written in passlib's, PHC's and Django's string formats.
const PW = "correct horse 1";
const V = {
  bcrypt: ["$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U"],
  passlib: ["$pbkdf2-sha256$29000$c2FsdHNhbHRzYWx0c2FsdA$hDleuKiKzb.uSuEdtHo0IXmCNvfO.hPvhqn8wW80R.w", PW],
  django: ["pbkdf2_sha256$10000$djangosalt$/iWw0aLINOmPZVufcNQiWf9ElXKy2qCgGsiLFoAycNA=", PW],
  scrypt: ["$scrypt$ln=14,r=8,p=1$c2FsdHNhbHRzYWx0c2FsdA$ftkAjrtICh+0Qi5l/C6Wo2U2/IH2s6fTs57WDIejkBA", PW],
} as const;

describe("imported password hashes verify with their own scheme", () => {
  for (const [name, [hash, pw]] of Object.entries(V)) {
    it(`${name}: the right password, and not a wrong one`, async () => {
      assert.deepEqual(checkImportedHash(hash).ok, true);
      assert.equal(await verifyLegacy(hash, pw), true);
      assert.equal(await verifyLegacy(hash, `${pw}x`), false);
    });
  }

  it("the hasher verifies legacy and argon2id hashes alike, and marks only legacy ones for rehash", async () => {
    const h = createArgon2Hasher({ memoryCost: 1024, timeCost: 1 });
    const fresh = await h.hash(PW);
    assert.equal(await h.verify(fresh, PW), true);
    assert.equal(h.needsRehash(fresh), false);
    for (const [hash, pw] of Object.values(V)) {
      assert.equal(await h.verify(hash, pw), true);
      assert.equal(h.needsRehash(hash), true);
    }
  });

  it("refuses formats it cannot verify and parameters that would make a sign-in a denial of service", () => {
    assert.deepEqual(checkImportedHash("5f4dcc3b5aa765d61d8327deb882cf99"), {
      ok: false,
      reason: "hash_format_unknown",
    });
    assert.deepEqual(checkImportedHash("$1$saltsalt$abcdefghijklmnopqrstuv"), {
      ok: false,
      reason: "hash_format_unknown",
    });
    assert.equal(checkImportedHash("$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW").ok, false);
    assert.deepEqual(checkImportedHash("$2b$31$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"), {
      ok: false,
      reason: "hash_params_out_of_range",
    });
    assert.deepEqual(checkImportedHash(V.passlib[0].replace("$29000$", "$99999999$")), {
      ok: false,
      reason: "hash_params_out_of_range",
    });
    assert.deepEqual(checkImportedHash(V.scrypt[0].replace("ln=14", "ln=30")), {
      ok: false,
      reason: "hash_params_out_of_range",
    });
  });
});
