import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MamoriError } from "../shared/errors.ts";
import {
  createPasswordPolicy,
  DEFAULT_SERVICE_WORDS,
  leakedList,
  listCandidates,
  type PolicyVerdict,
} from "./password-policy.ts";
import type { PwnedRangeCheck, RangeResult } from "./pwned-range.ts";

const policy = createPasswordPolicy();
const code = (v: PolicyVerdict) => (v.ok ? null : v.code);

describe("password policy: the bundled leaked-password list", () => {
  it("holds the SecLists top-1M entries of 8+ characters and Mamori's supplement, sorted for binary search", () => {
    const list = leakedList();
    const lines = list.starts.length - 1;
    assert.equal(lines, 474_743, "the count scripts/build-password-list.mjs printed");
    const first = list.data.toString("latin1", list.starts[0]!, list.starts[1]! - 1);
    const second = list.data.toString("latin1", list.starts[1]!, list.starts[2]! - 1);
    assert.ok(first < second);
    assert.ok(list.extra.has("correcthorsebatterystaple"));
    for (const p of list.extra) assert.ok([...p].length >= 8, `supplement entry shorter than 8: ${p}`);
  });

  it("refuses listed passwords, whatever their case or full-width form", async () => {
    for (const pw of [
      "password123",
      "PASSWORD123",
      "ｐａｓｓｗｏｒｄ１２３",
      "1qaz2wsx3edc",
      "iloveyou",
      "sunshine1",
      "doraemon",
    ]) {
      const v = await policy.evaluate(pw, {});
      assert.deepEqual(v, { ok: false, code: "password_breached", source: "list" }, pw);
    }
  });

  it("refuses a listed password behind spaces, leetspeak or a few digits and symbols", async () => {
    for (const pw of [
      "correcthorsebatterystaple",
      "Correct Horse Battery Staple",
      "correct horse battery staple 47",
      "P@ssw0rd2024!",
      "!!password",
      "Tr0ub4dor&3",
      "arigatou2024!",
      "Yoroshiku-1234",
    ]) {
      assert.equal(code(await policy.evaluate(pw, {})), "password_breached", pw);
    }
  });

  it("strips only short affixes: a listed word with a long random tail is judged on its own", () => {
    assert.ok(listCandidates("sunshine2024").includes("sunshine"));
    assert.ok(!listCandidates("sunshine8302957461").includes("sunshine"), "10 digits are not a mangling rule");
    assert.ok(!listCandidates("12345sunshine").includes("sunshine"), "5 leading digits are not either");
  });

  it("accepts strong passphrases, including the test helpers' ones", async () => {
    for (const pw of [
      "amber lantern drifts past quiet harbors 47",
      "violet tractor sings at midnight 93",
      "seven quiet otters juggle lanterns 18",
      "violet-Canyon-mirror-42-lantern",
    ]) {
      assert.deepEqual(
        await policy.evaluate(pw, { emails: ["hanako@example.jp"] }),
        { ok: true, rangeCheck: "off" },
        pw,
      );
    }
  });
});

describe("password policy: context words (ASVS 6.2.11)", () => {
  it("refuses the four passwords found on a fresh install", async () => {
    const emails = ["yamada.taro88@example.jp"];
    assert.deepEqual(await policy.evaluate("Mamori2026!", { emails }), {
      ok: false,
      code: "password_contains_context",
      context: "service_word",
    });
    assert.deepEqual(await policy.evaluate("amazon.co.jp2026", { emails }), {
      ok: false,
      code: "password_contains_context",
      context: "service_word",
    });
    assert.deepEqual(await policy.evaluate("onlinestore1", { emails }), {
      ok: false,
      code: "password_contains_context",
      context: "service_word",
    });
    assert.deepEqual(await policy.evaluate("yamadataro88!!", { emails }), {
      ok: false,
      code: "password_contains_context",
      context: "email",
    });
  });

  it("sees through case, leetspeak, separators and reordering of the email's pieces", async () => {
    const emails = ["yamada.taro88@example.jp"];
    for (const pw of ["YAMADA-TARO-88", "Y4m4d4T4r0!!", "taro.yamada.1988", "yamada.taro88", "Taro88Yamada#"]) {
      const v = await policy.evaluate(pw, { emails });
      assert.deepEqual(v, { ok: false, code: "password_contains_context", context: "email" }, pw);
    }
    // the email's domain name, and a plus-address's base
    assert.equal(
      code(await policy.evaluate("gmail2024!!", { emails: ["hanako@gmail.com"] })),
      "password_contains_context",
    );
    assert.equal(
      code(await policy.evaluate("hanakosato!2024", { emails: ["hanako.sato+shop@example.jp"] })),
      "password_contains_context",
    );
  });

  it("refuses the account holder's name, including a Japanese one", async () => {
    const ctx = { emails: ["h.s@example.jp"], name: "佐藤 花子 Hanako Sato" };
    assert.deepEqual(await policy.evaluate("HanakoSato1990", ctx), {
      ok: false,
      code: "password_contains_context",
      context: "name",
    });
    assert.deepEqual(await policy.evaluate("佐藤花子19900101", ctx), {
      ok: false,
      code: "password_contains_context",
      context: "name",
    });
  });

  it("refuses the configured store name and domain, and configured service words", async () => {
    const p = createPasswordPolicy({
      storeName: "さくら商店 Sakura Shoten",
      storeDomain: "sakura-shoten.co.jp",
      serviceWords: ["hanami", "Sakura Points"],
    });
    for (const pw of [
      "SakuraShoten2026",
      "sakura-shoten.co.jp!",
      "さくら商店2026!!",
      "Hanami#2026",
      "sakurapoints99",
    ]) {
      const v = await p.evaluate(pw, { emails: ["taro@example.jp"] });
      assert.ok(!v.ok && v.code === "password_contains_context", `${pw}: ${JSON.stringify(v)}`);
    }
    const v = await p.evaluate("SakuraShoten2026", {});
    assert.ok(!v.ok && v.code === "password_contains_context" && v.context === "store");
    assert.equal(code(await policy.evaluate("SakuraShoten2026", {})), null, "an unconfigured store's name is fine");
  });

  it("leaves a long passphrase that merely contains a context word to the strength estimate", async () => {
    const emails = ["yamada.taro88@example.jp"];
    assert.equal(code(await policy.evaluate("Taro loves violet tractors at dawn", { emails })), null);
    assert.equal(code(await policy.evaluate("my mamori keeps seven quiet otters", {})), null);
  });

  it("ships service words that are words a shopper would reuse, and lets a store add its own", () => {
    assert.ok(DEFAULT_SERVICE_WORDS.includes("mamori"));
    assert.ok(DEFAULT_SERVICE_WORDS.includes("onlinestore"));
  });
});

describe("password policy: order and errors", () => {
  it("checks length first, in code points", async () => {
    assert.equal(code(await policy.evaluate("gT7#qL9", {})), "password_too_short");
    assert.equal(code(await policy.evaluate("🔑🔒🗝🚪", {})), "password_too_short");
    assert.equal(code(await policy.evaluate("a".repeat(257), {})), "password_too_long");
  });

  it("still refuses what zxcvbn finds weak though no list or context word has it", async () => {
    const v = await policy.evaluate("qwertyuiop", {});
    assert.ok(!v.ok && (v.code === "password_too_weak" || v.code === "password_breached"));
    const w = await policy.evaluate("suzuki1985a", {});
    assert.equal(code(w), "password_too_weak");
  });

  it("throws catalogued errors whose details name the kind, never the password", async () => {
    const p = createPasswordPolicy({ storeName: "Sakura Shoten" });
    await assert.rejects(p.assertAcceptable("SakuraShoten2026", {}), (e: unknown) => {
      assert.ok(e instanceof MamoriError);
      assert.equal(e.code, "password_contains_context");
      assert.equal(e.httpStatus, 422);
      assert.deepEqual(e.details, { context: "store" });
      assert.ok(!JSON.stringify(e.details).toLowerCase().includes("sakura"));
      return true;
    });
    await assert.rejects(policy.assertAcceptable("correcthorsebatterystaple", {}), (e: unknown) => {
      assert.ok(e instanceof MamoriError);
      assert.equal(e.code, "password_breached");
      assert.deepEqual(e.details, { source: "list" });
      return true;
    });
  });

  it("asks the range check only about a password that passed everything else", async () => {
    const asked: string[] = [];
    let answer: RangeResult = "clean";
    const rangeCheck: PwnedRangeCheck = {
      async check(pw) {
        asked.push(pw);
        return answer;
      },
    };
    const p = createPasswordPolicy({ rangeCheck });
    assert.equal(code(await p.evaluate("password123", {})), "password_breached");
    assert.equal(code(await p.evaluate("Mamori2026!", {})), "password_contains_context");
    assert.deepEqual(asked, []);
    assert.deepEqual(await p.evaluate("amber lantern drifts past quiet harbors 47", {}), {
      ok: true,
      rangeCheck: "clean",
    });
    answer = "pwned";
    assert.deepEqual(await p.evaluate("amber lantern drifts past quiet harbors 47", {}), {
      ok: false,
      code: "password_breached",
      source: "range",
    });
    answer = "not_checked";
    assert.deepEqual(await p.evaluate("amber lantern drifts past quiet harbors 47", {}), {
      ok: true,
      rangeCheck: "not_checked",
    });
    assert.equal(asked.length, 3);
  });
});
