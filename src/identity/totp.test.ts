import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { describe, it } from "node:test";
import { Secret, TOTP } from "otpauth";
import { generateTotpSecret, totpCodeAt, totpStep, totpUri, verifyTotp } from "./totp.ts";

// RFC 6238 Appendix B: seeds are ASCII "1234567890" repeated to the hash's output size.
const SEEDS = {
  SHA1: "12345678901234567890",
  SHA256: "12345678901234567890123456789012",
  SHA512: "1234567890123456789012345678901234567890123456789012345678901234",
} as const;
const RFC6238_VECTORS: [number, keyof typeof SEEDS, string][] = [
  [59, "SHA1", "94287082"],
  [59, "SHA256", "46119246"],
  [59, "SHA512", "90693936"],
  [1111111109, "SHA1", "07081804"],
  [1111111109, "SHA256", "68084774"],
  [1111111109, "SHA512", "25091201"],
  [1111111111, "SHA1", "14050471"],
  [1111111111, "SHA256", "67062674"],
  [1111111111, "SHA512", "99943326"],
  [1234567890, "SHA1", "89005924"],
  [1234567890, "SHA256", "91819424"],
  [1234567890, "SHA512", "93441116"],
  [2000000000, "SHA1", "69279037"],
  [2000000000, "SHA256", "90698825"],
  [2000000000, "SHA512", "38618901"],
  [20000000000, "SHA1", "65353130"],
  [20000000000, "SHA256", "77737706"],
  [20000000000, "SHA512", "47863826"],
];
const RFC_SHA1_BASE32 = Secret.fromLatin1(SEEDS.SHA1).base32;

describe("TOTP against RFC 6238 Appendix B", () => {
  it("otpauth reproduces every test vector (SHA1/SHA256/SHA512, 8 digits)", () => {
    for (const [t, algorithm, expected] of RFC6238_VECTORS) {
      const code = TOTP.generate({
        secret: Secret.fromLatin1(SEEDS[algorithm]),
        algorithm,
        digits: 8,
        period: 30,
        timestamp: t * 1000,
      });
      assert.equal(code, expected, `${algorithm} at T=${t}`);
    }
  });

  it("Mamori's 6-digit SHA1 codes are the vectors' last 6 digits (dynamic truncation mod 10^d)", () => {
    for (const [t, algorithm, expected] of RFC6238_VECTORS) {
      if (algorithm !== "SHA1") continue;
      assert.equal(totpCodeAt(RFC_SHA1_BASE32, t * 1000), expected.slice(-6), `T=${t}`);
      const r = verifyTotp({ secret: RFC_SHA1_BASE32, code: expected.slice(-6), now: t * 1000, lastStep: null });
      assert.deepEqual(r, { ok: true, step: Math.floor(t / 30) });
    }
  });
});

describe("verifyTotp", () => {
  const secret = generateTotpSecret();
  const now = Date.UTC(2026, 0, 1, 12, 0, 10);
  const step = totpStep(now);
  const at = (s: number) => totpCodeAt(secret, s * 30_000);

  it("generates 160-bit base32 secrets, different each time", () => {
    assert.match(secret, /^[A-Z2-7]{32}$/);
    assert.notEqual(generateTotpSecret(), secret);
  });

  it("accepts the current code and returns its step", () => {
    assert.deepEqual(verifyTotp({ secret, code: at(step), now, lastStep: null }), { ok: true, step });
  });

  it("rejects a replay of the same code", () => {
    const first = verifyTotp({ secret, code: at(step), now, lastStep: null });
    assert.ok(first.ok);
    assert.deepEqual(verifyTotp({ secret, code: at(step), now, lastStep: first.step }), {
      ok: false,
      reason: "replayed",
    });
  });

  it("rejects a code from an earlier step once a later one was used (phished code used late)", () => {
    const later = verifyTotp({ secret, code: at(step + 1), now, lastStep: null, window: 1 });
    assert.deepEqual(later, { ok: true, step: step + 1 });
    assert.deepEqual(verifyTotp({ secret, code: at(step), now, lastStep: step + 1 }), {
      ok: false,
      reason: "replayed",
    });
    assert.deepEqual(verifyTotp({ secret, code: at(step - 1), now, lastStep: step + 1 }), {
      ok: false,
      reason: "replayed",
    });
  });

  it("accepts the current and the previous step only (a code lives 30–60 s), refuses the next and two back", () => {
    assert.deepEqual(verifyTotp({ secret, code: at(step - 1), now, lastStep: null }), { ok: true, step: step - 1 });
    if (at(step + 1) !== at(step) && at(step + 1) !== at(step - 1)) {
      assert.deepEqual(verifyTotp({ secret, code: at(step + 1), now, lastStep: null }), {
        ok: false,
        reason: "invalid",
      });
    }
    assert.deepEqual(verifyTotp({ secret, code: at(step + 1), now, lastStep: null, window: 1 }), {
      ok: true,
      step: step + 1,
    });
    for (const s of [step - 2, step + 2]) {
      if (at(s) === at(step) || at(s) === at(step - 1) || at(s) === at(step + 1)) continue; // 1-in-a-million collision
      assert.deepEqual(verifyTotp({ secret, code: at(s), now, lastStep: null }), { ok: false, reason: "invalid" });
    }
    assert.deepEqual(verifyTotp({ secret, code: at(step + 2), now, lastStep: null, window: 2 }), {
      ok: true,
      step: step + 2,
    });
    assert.deepEqual(verifyTotp({ secret, code: at(step + 1), now, lastStep: null, window: 0 }), {
      ok: false,
      reason: "invalid",
    });
  });

  it("treats a wrong code for another secret as invalid", () => {
    const other = generateTotpSecret();
    const code = totpCodeAt(other, now);
    const mine = [at(step - 1), at(step)];
    if (!mine.includes(code)) {
      assert.deepEqual(verifyTotp({ secret, code, now, lastStep: null }), { ok: false, reason: "invalid" });
    }
  });

  it("returns invalid, never throws, for malformed input", () => {
    const code = at(step);
    for (const bad of [
      "",
      "12345",
      "1234567",
      `${code}0`,
      "abcdef",
      "12345a",
      "１２３４５x",
      "-12345",
      "1e5000",
      "x".repeat(10_000),
    ]) {
      assert.deepEqual(verifyTotp({ secret, code: bad, now, lastStep: null }), { ok: false, reason: "invalid" }, bad);
    }
  });

  it("accepts the code typed with spaces or full-width digits (Japanese IME)", () => {
    const code = at(step);
    const spaced = `${code.slice(0, 3)} ${code.slice(3)}`;
    const fullWidth = code.replace(/[0-9]/g, (d) => String.fromCharCode(0xff10 + Number(d)));
    assert.deepEqual(verifyTotp({ secret, code: spaced, now, lastStep: null }), { ok: true, step });
    assert.deepEqual(verifyTotp({ secret, code: fullWidth, now, lastStep: null }), { ok: true, step });
  });

  it("builds an otpauth URI authenticator apps understand", () => {
    const uri = new URL(totpUri({ secret, label: "taro@example.jp", issuer: "Mamori Shop" }));
    assert.equal(uri.protocol, "otpauth:");
    assert.equal(uri.host, "totp");
    assert.equal(decodeURIComponent(uri.pathname), "/Mamori Shop:taro@example.jp");
    assert.equal(uri.searchParams.get("secret"), secret);
    assert.equal(uri.searchParams.get("issuer"), "Mamori Shop");
    assert.equal(uri.searchParams.get("algorithm"), "SHA1");
    assert.equal(uri.searchParams.get("digits"), "6");
    assert.equal(uri.searchParams.get("period"), "30");
    assert.equal(new URL(totpUri({ secret, label: "a@b.jp" })).searchParams.get("issuer"), "Mamori");
  });
});

const oathtoolMissing =
  spawnSync("oathtool", ["--version"], { stdio: "ignore" }).error !== undefined
    ? "oathtool is not on PATH (install it with `apt-get install oathtool`); cross-implementation check not run"
    : false;

describe("interop with oathtool (OATH Toolkit)", () => {
  const secret = generateTotpSecret();
  const times = [Date.UTC(2026, 0, 1, 0, 0, 0), Date.UTC(2030, 5, 15, 8, 30, 59), Date.UTC(2038, 0, 19, 3, 14, 8)];
  const utc = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;

  it("oathtool's codes are the ones Mamori computes and accepts", { skip: oathtoolMissing }, () => {
    for (const t of [...times, 59_000, 1_234_567_890_000]) {
      const theirs = execFileSync("oathtool", ["--totp", "-b", secret, "--now", utc(t)], { encoding: "utf8" }).trim();
      assert.equal(totpCodeAt(secret, t), theirs, utc(t));
      assert.deepEqual(verifyTotp({ secret, code: theirs, now: t, lastStep: null }), { ok: true, step: totpStep(t) });
    }
  });

  it("oathtool validates the codes Mamori produces, and refuses a wrong one", { skip: oathtoolMissing }, () => {
    for (const t of times) {
      const ours = totpCodeAt(secret, t);
      const ok = spawnSync("oathtool", ["--totp", "-b", secret, "--now", utc(t), ours], { encoding: "utf8" });
      assert.equal(ok.status, 0, `${utc(t)}: ${ok.stderr}`);
      assert.equal(ok.stdout.trim(), "0", "matched at offset 0");
      const wrong = String((Number(ours) + 1) % 1_000_000).padStart(6, "0");
      const bad = spawnSync("oathtool", ["--totp", "-b", secret, "--now", utc(t), wrong], { encoding: "utf8" });
      assert.notEqual(bad.status, 0);
    }
  });
});
