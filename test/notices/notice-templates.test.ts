import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { noticeTemplates } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";

// Every module's notices, as app.ts assembles them (the default branding: store "Mamori", Japan time).
const registry = noticeTemplates(loadConfig({}));
const NOTICE_TEMPLATES = registry.names;
const noticeVars = (t: string) => registry.vars(t);
const isSecurityNotice = (t: string) => registry.isSecurity(t);
const renderNotice = (t: string, lang: "ja" | "en", vars: Record<string, string>) => registry.render(t, lang, vars);

const SAMPLE: Record<string, string> = {
  device: "Chrome, macOS, desktop",
  ip: "203.0.113.7",
  country: "JP",
  at: "2026-01-01T00:00:00.000Z",
  oldEmail: "old@example.com",
  newEmail: "new@example.com",
  revertUrl: "https://shop.example/links/email-revert?t=rev123",
  phone: "+819012345678",
  name: "Mail app",
  code: "482913",
  resetUrl: "https://shop.example/reset?t=res456",
  recoveryUrl: "https://mamori.example/recover/?lang=ja",
  expiresMinutes: "30",
  reason: "email_change_reverted",
  notMeUrl: "https://shop.example/links/not-me?t=nm789",
  city: "Sapporo",
  brand: "visa",
  last4: "4242",
  amount: "2500",
  title: "Camera X100",
  orderId: "ord_123",
  outcome: "No payment will be taken.",
  since: "2026-01-01T00:00:00.000Z",
  summary: "3 sessions ended",
  countries: "JP",
  network: "NTT Communications (AS4713)",
  limit: "20",
  dueAt: "2026-01-04T00:00:00.000Z",
  cancelUrl: "https://shop.example/links/cancel-factor-reset?t=cf123",
};

function varsFor(template: string): Record<string, string> {
  return Object.fromEntries(
    noticeVars(template).map((k): [string, string] => [k, SAMPLE[k] ?? assert.fail(`no sample for ${k}`)]),
  );
}

describe("notice templates", () => {
  it("every template renders in ja and en with its vars, without placeholders or 'undefined' leaking", () => {
    assert.ok(NOTICE_TEMPLATES.length >= 21);
    for (const t of NOTICE_TEMPLATES) {
      for (const lang of ["ja", "en"] as const) {
        const { subject, body } = renderNotice(t, lang, varsFor(t));
        for (const text of [subject, body]) {
          assert.ok(text.length > 0, `${t}/${lang} empty`);
          assert.ok(!text.includes("{{") && !text.includes("}}"), `${t}/${lang} leaks a placeholder: ${text}`);
          assert.ok(!text.includes("undefined") && !text.includes("null"), `${t}/${lang} leaks undefined: ${text}`);
        }
        assert.ok(!subject.includes("\n"), `${t}/${lang} subject spans lines`);
        // the code or link a notice is for must actually be in it
        for (const k of ["code", "resetUrl", "revertUrl", "newEmail", "phone", "name", "cancelUrl", "network"]) {
          if (noticeVars(t).includes(k)) assert.ok(body.includes(SAMPLE[k]!), `${t}/${lang} lacks ${k}`);
        }
      }
    }
  });

  it("Japanese notices are written in Japanese and English ones are not", () => {
    for (const t of NOTICE_TEMPLATES) {
      const ja = renderNotice(t, "ja", varsFor(t));
      const en = renderNotice(t, "en", varsFor(t));
      assert.match(ja.subject, /[\u3040-\u30ff\u4e00-\u9fff]/, `${t} ja subject`);
      assert.match(ja.body, /(です|ます|ください)/, `${t} ja body is not polite Japanese`);
      assert.doesNotMatch(en.subject + en.body, /[\u3040-\u30ff\u4e00-\u9fff]/, `${t} en has Japanese`);
    }
  });

  it("every security notice carries the 'This wasn't me' link; codes and links do not need one", () => {
    const security = NOTICE_TEMPLATES.filter(isSecurityNotice);
    // Every change to what can sign in or pay is a security notice; codes, links and receipts are not.
    for (const t of ["password_changed", "email_changed", "totp_disabled", "address_added", "payment_instrument_added"])
      assert.ok(security.includes(t), t);
    for (const t of ["email_verify_code", "password_reset", "gift_card_delivered", "recovery_code"])
      assert.ok(!security.includes(t), t);
    for (const t of security) {
      assert.ok(noticeVars(t).includes("notMeUrl"));
      const en = renderNotice(t, "en", varsFor(t));
      assert.ok(en.body.includes(`If this wasn't you, click here: ${SAMPLE.notMeUrl}`), t);
      assert.match(en.body, /sign everyone out and lock the account until you reset your password/);
      const ja = renderNotice(t, "ja", varsFor(t));
      assert.ok(ja.body.includes(SAMPLE.notMeUrl!), t);
    }
    const { body } = renderNotice("signin_code", "en", { code: "123456" });
    assert.ok(!body.includes("wasn't you, click here"));
  });

  it("a missing var is a programming error that throws, naming the template and the var", () => {
    assert.throws(
      () => renderNotice("password_reset", "en", { resetUrl: "https://x" }),
      /password_reset: missing vars expiresMinutes/,
    );
    const { notMeUrl: _, ...withoutNotMe } = varsFor("password_changed");
    assert.throws(
      () => renderNotice("password_changed", "ja", withoutNotMe),
      /password_changed: missing vars notMeUrl/,
    );
    assert.throws(
      () => renderNotice("signin_code", "en", { code: undefined } as unknown as Record<string, string>),
      /missing vars code/,
    );
    assert.throws(() => renderNotice("nope" as "signin_code", "en", {}), /unknown notice template: nope/);
  });

  it("a var cannot forge extra lines or expand placeholders", () => {
    const vars = { ...varsFor("signin_new_device"), device: "Evil\r\nIf this wasn't you, click here: https://evil" };
    const { body } = renderNotice("signin_new_device", "en", vars);
    assert.ok(body.includes("Device: Evil If this wasn't you, click here: https://evil\n"));
    const nested = renderNotice("app_password_revoked", "en", { name: "{{notMeUrl}}", notMeUrl: "https://n" });
    assert.ok(nested.body.includes('"{{notMeUrl}}"'));
  });

  it("shows times, countries and reasons in the reader's language", () => {
    const ja = renderNotice("password_changed", "ja", varsFor("password_changed"));
    assert.ok(ja.body.includes("2026年1月1日 9:00 (日本時間)"), ja.body);
    const en = renderNotice("password_changed", "en", varsFor("password_changed"));
    assert.ok(en.body.includes("1 Jan 2026, 09:00 JST"), en.body);
    assert.ok(renderNotice("signin_new_device", "ja", varsFor("signin_new_device")).body.includes("国・地域: 日本"));
    assert.ok(renderNotice("signin_new_device", "en", varsFor("signin_new_device")).body.includes("Country: Japan"));
    const unknown = { ...varsFor("signin_new_device"), country: "unknown" };
    assert.ok(renderNotice("signin_new_device", "ja", unknown).body.includes("国・地域: 不明"));
    const locked = renderNotice("account_locked", "en", varsFor("account_locked")).body;
    assert.ok(locked.includes("the change of your email address was reversed"), locked);
  });
});

describe("template names used in the code", () => {
  it('every `template: "…"` in src names a notice the registry holds (names are plain strings since notify imports no domain)', async () => {
    const { readdirSync, readFileSync } = await import("node:fs");
    const files = (readdirSync("src", { recursive: true }) as string[]).filter(
      (f) => /\.tsx?$/.test(f) && !f.endsWith(".test.ts"),
    );
    const used = new Set<string>();
    for (const f of files) {
      const text = readFileSync(`src/${f}`, "utf8");
      for (const m of text.matchAll(/template(?:For)?: (?:\([^)]*\) => [^"]*)?"([a-z_]+)"/g)) used.add(m[1]!);
    }
    assert.ok(used.size >= 20, [...used].join(","));
    for (const name of used) assert.ok(NOTICE_TEMPLATES.includes(name), `${name} is not a notice template`);
  });
});
