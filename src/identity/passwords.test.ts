import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  checkPasswordLength,
  checkPasswordStrength,
  createArgon2Hasher,
  ESTIMATED_PREFIX_LENGTH,
  estimatePasswordStrength,
  fastTestHasher,
  type PasswordStrength,
} from "./passwords.ts";

function rejectedCode(r: PasswordStrength): string | null {
  return r.ok ? null : r.code;
}

describe("checkPasswordStrength", () => {
  it("rejects passwords from the common-password list", () => {
    for (const pw of ["password123", "Password1!", "1qaz2wsx3edc"]) {
      const r = checkPasswordStrength(pw, []);
      assert.equal(rejectedCode(r), "password_too_weak", pw);
      assert.ok(!r.ok && r.warning !== null, `${pw} should come with a warning`);
    }
  });

  it("rejects keyboard walks", () => {
    assert.equal(rejectedCode(checkPasswordStrength("qwertyuiop", [])), "password_too_weak");
    assert.equal(rejectedCode(checkPasswordStrength("zxcvbnm,./", [])), "password_too_weak");
  });

  it("rejects Japanese words and names in romaji padded with digits", () => {
    // sakura (name/wikipedia), arigato (common word), suzuki (surname), daijobu (common word): all in the ja lists.
    for (const pw of ["sakura1234", "arigatou2024", "suzuki1985", "daijobu99"]) {
      assert.equal(rejectedCode(checkPasswordStrength(pw, [])), "password_too_weak", pw);
    }
  });

  it("rejects a password equal to the email local part, which alone would pass", () => {
    const local = "kirishima.hayate77";
    assert.equal(checkPasswordStrength(local, []).ok, true, "precondition: strong without user inputs");
    const r = checkPasswordStrength(local, [local]);
    assert.equal(rejectedCode(r), "password_too_weak");
    assert.equal(r.score, 0);
  });

  it("penalises parts of the user's data, not only the whole string", () => {
    // Reordered parts of the local part: the whole string never occurs in the password.
    assert.equal(checkPasswordStrength("Hayate77Kirishima", []).ok, true, "precondition: strong without user inputs");
    assert.equal(rejectedCode(checkPasswordStrength("Hayate77Kirishima", ["kirishima.hayate77"])), "password_too_weak");
  });

  it("rejects passwords shorter than 8 characters, counting code points", () => {
    assert.equal(rejectedCode(checkPasswordStrength("gT7#qL9", [])), "password_too_short");
    assert.equal(rejectedCode(checkPasswordStrength("", [])), "password_too_short");
    // 4 emoji are 8 UTF-16 units but only 4 characters.
    assert.equal(rejectedCode(checkPasswordStrength("🔑🔒🗝🚪", [])), "password_too_short");
  });

  it("rejects passwords over 256 characters without estimating them", () => {
    // Refused on its UTF-16 length before it is even split into characters (speed: bench/password-policy.ts).
    assert.equal(checkPasswordLength("a".repeat(100_000)), "password_too_long");
    assert.equal(rejectedCode(checkPasswordStrength("a".repeat(100_000), [])), "password_too_long");
    const long = "violet-Canyon-mirror-42-lantern ".repeat(8);
    assert.equal([...long].length, 256);
    assert.equal(checkPasswordStrength(long, []).ok, true, "256 characters is allowed");
  });

  it("estimates only a bounded prefix of a long password (unbounded, zxcvbn spends over a minute on this one)", () => {
    // What bounds the work: the estimate of a 256-character l33t-heavy password is the estimate of its first
    // ESTIMATED_PREFIX_LENGTH characters. (How long it takes is measured in bench/password-policy.ts, not here.)
    const long = "$@kur@!1".repeat(32);
    const prefix = [...long].slice(0, ESTIMATED_PREFIX_LENGTH).join("");
    assert.deepEqual(estimatePasswordStrength(long, []), estimatePasswordStrength(prefix, []));
    assert.equal(checkPasswordStrength(long, []).ok, false);
  });

  it("accepts a strong random passphrase", () => {
    const r = checkPasswordStrength("violet-Canyon-mirror-42-lantern", ["taro.yamada"]);
    assert.equal(r.ok, true);
    assert.ok(r.score >= 3);
  });
});

describe("argon2 hasher", () => {
  it("produces argon2id hashes that verify the right password and refuse a wrong one", async () => {
    const h = fastTestHasher();
    const hash = await h.hash("correct horse battery staple");
    assert.match(hash, /^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    assert.equal(await h.verify(hash, "correct horse battery staple"), true);
    assert.equal(await h.verify(hash, "correct horse battery stapl"), false);
    assert.equal(await h.verify(hash, "Correct horse battery staple"), false);
  });

  it("salts: the same password hashes differently each time", async () => {
    const h = fastTestHasher();
    assert.notEqual(await h.hash("same password"), await h.hash("same password"));
  });

  it("returns false instead of throwing for malformed or truncated hashes", async () => {
    const h = fastTestHasher();
    const good = await h.hash("pw-for-truncation");
    for (const bad of [
      "",
      "not a hash",
      "$argon2id$v=19$m=1024,t=1,p=1$",
      good.slice(0, -10),
      "$2b$10$abcdefghijklmnopqrstuv",
    ]) {
      assert.equal(await h.verify(bad, "pw-for-truncation"), false, JSON.stringify(bad));
    }
  });

  it("uses the OWASP parameters by default and still verifies hashes made with other parameters", async () => {
    const prod = createArgon2Hasher();
    const started = performance.now();
    const hash = await prod.hash("hunter2hunter2");
    const ms = performance.now() - started;
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await prod.verify(hash, "hunter2hunter2"), true);
    // Cross-parameter: a hash from the test settings verifies with the production hasher (params live in the hash).
    assert.equal(await prod.verify(await fastTestHasher().hash("x-y-z-1-2-3"), "x-y-z-1-2-3"), true);
    console.log(`argon2id m=19456 t=2 p=1 hash: ${ms.toFixed(1)} ms`);
  });
});
