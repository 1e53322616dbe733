import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { noticeTemplates } from "../../src/app.ts";
import { loadConfig } from "../../src/config.ts";
import { coreTemplates, createNoticeTemplates, formatTime, SAMPLE_VARS } from "../../src/notify/templates.ts";
import { loadBranding } from "../../src/shared/branding.ts";
import { ATTACKER, linkToken, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";

// A notice about your account from an unknown sender, with a raw UTC timestamp in Japanese text, reads like phishing.
const dir = mkdtempSync(path.join(tmpdir(), "mamori-branding-"));
const file = (name: string, content: unknown) => {
  const p = path.join(dir, name);
  writeFileSync(p, typeof content === "string" ? content : JSON.stringify(content));
  return p;
};
const vars = (t: string) =>
  Object.fromEntries(
    noticeTemplates(loadConfig({}))
      .vars(t)
      .map((v) => [v, SAMPLE_VARS[v] ?? `‹${v}›`]),
  );

describe("branding: loaded and checked at start", () => {
  it("the store's name goes on the sender; env wins over the file; a bare address takes the store's name", () => {
    const p = file("ok.json", {
      storeName: "ファイルの店",
      supportContact: "support@shop.example",
      mailFrom: "no-reply@shop.example",
      timeZone: "Asia/Tokyo",
      templates: { password_reset: { ja: { subject: "パスワード再設定のご案内" } } },
    });
    const b = loadBranding({ MAMORI_BRANDING_FILE: p, MAMORI_STORE_NAME: "ショップ本舗" });
    assert.equal(b.storeName, "ショップ本舗");
    assert.equal(b.storeNamed, true);
    assert.deepEqual(b.mailFrom, { name: "ショップ本舗", address: "no-reply@shop.example" });
    assert.equal(b.supportContact, "support@shop.example");
    assert.deepEqual(loadBranding({ MAMORI_MAIL_FROM: "Shop Security <sec@shop.example>" }).mailFrom, {
      name: "Shop Security",
      address: "sec@shop.example",
    });
    const none = loadBranding({});
    assert.equal(none.storeNamed, false);
    assert.equal(none.timeZone, "Asia/Tokyo");
  });

  it("a bad file or value stops the start with a message naming it", () => {
    const cases: [NodeJS.ProcessEnv, RegExp][] = [
      [{ MAMORI_BRANDING_FILE: file("broken.json", "{ storeName: ") }, /broken\.json: .*JSON/],
      [{ MAMORI_BRANDING_FILE: path.join(dir, "missing.json") }, /missing\.json: ENOENT/],
      [{ MAMORI_BRANDING_FILE: file("extra.json", { storName: "typo" }) }, /extra\.json: .*\/storName/],
      [{ MAMORI_BRANDING_FILE: file("url.json", { logoUrl: "javascript:alert(1)" }) }, /\/logoUrl/],
      [{ MAMORI_BRANDING_FILE: file("lang.json", { templates: { password_reset: { fr: {} } } }) }, /fr/],
      [{ MAMORI_STORE_NAME: "Shop\nInjected: header" }, /environment .*\/storeName/],
      [{ MAMORI_TIME_ZONE: "Japan/Osaka" }, /not an IANA time zone/],
      [{ MAMORI_MAIL_FROM: "not an address" }, /mailFrom .* is not an address/],
    ];
    for (const [env, re] of cases) assert.throws(() => loadBranding(env), re, JSON.stringify(env));
  });

  it("template overrides are checked against the registry: unknown names and placeholders, a dropped link or code", () => {
    const make = (overrides: object, supportContact?: string) => () =>
      createNoticeTemplates({
        definitions: coreTemplates,
        storeName: "Shop",
        supportContact,
        timeZone: "Asia/Tokyo",
        overrides: overrides as never,
      });
    assert.throws(make({ pasword_reset: { ja: { subject: "x" } } }), /templates\.pasword_reset: no such template/);
    assert.throws(
      make({ password_reset: { ja: { body: "{{resetUrl}} {{resetURL}}" } } }),
      /templates\.password_reset\.ja\.body: \{\{resetURL\}\} is not a variable of this template \(it has: resetUrl, expiresMinutes, storeName\)/,
    );
    assert.throws(
      make({ password_reset: { en: { body: "Reset within {{expiresMinutes}} minutes." } } }),
      /templates\.password_reset\.en\.body: must contain \{\{resetUrl\}\}/,
    );
    assert.throws(make({ signin_code: { ja: { body: "コードはありません" } } }), /must contain \{\{code\}\}/);
    assert.throws(
      make({ password_changed: { ja: { body: "変更されました {{notMeUrl}}" } } }),
      /\{\{notMeUrl\}\} is added to every security notice by Mamori/,
    );
    assert.throws(make({ signin_code: { ja: { body: "{{code}} {{supportContact}}" } } }), /no support contact/);
    // Every problem at once, so one edit fixes the file.
    assert.throws(make({ a: {}, b: {} }), /templates\.a: no such template\n {2}templates\.b: no such template/);

    const ok = make(
      {
        password_reset: {
          ja: { subject: "{{storeName}}: パスワード再設定", body: "こちらから: {{resetUrl}}\n{{supportContact}}" },
        },
      },
      "0120-000-000",
    )();
    const m = ok.render("password_reset", "ja", { resetUrl: "https://x/r", expiresMinutes: "30" });
    assert.equal(m.subject, "Shop: パスワード再設定");
    assert.match(m.body, /^こちらから: https:\/\/x\/r\n0120-000-000\n\n/);
    // The footer stays: who it is from and how to reach them.
    assert.match(m.body, /\nShop\nお問い合わせ: 0120-000-000$/);
    // English has no override: Mamori's text, with the store's name.
    const en = ok.render("password_reset", "en", { resetUrl: "https://x/r", expiresMinutes: "30" });
    assert.equal(en.subject, "[Shop] Reset your password");
  });

  it("times are the store's local time with the zone named", () => {
    const at = new Date("2026-12-03T11:48:52.769Z");
    assert.equal(formatTime(at, "ja", "Asia/Tokyo"), "2026年12月3日 20:48 (日本時間)");
    assert.equal(formatTime(at, "en", "Asia/Tokyo"), "3 Dec 2026, 20:48 JST");
    assert.equal(formatTime(at, "en", "UTC"), "3 Dec 2026, 11:48 UTC");
    assert.equal(formatTime(new Date("2026-01-01T00:05:00Z"), "ja", "Asia/Tokyo"), "2026年1月1日 9:05 (日本時間)");
    // A zone without a name of ours still says which zone it is.
    assert.match(formatTime(at, "en", "America/New_York"), /^3 Dec 2026, 06:48 \S+$/);
    const body = noticeTemplates(loadConfig({})).render("account_locked_down", "ja", vars("account_locked_down")).body;
    assert.ok(body.includes("2026年12月3日 20:48 (日本時間)以降の変更"), body);
    assert.doesNotMatch(body, /\d{4}-\d{2}-\d{2}T/);
  });

  it("`mamori mail preview` prints a notice as the store's branding renders it; a bad override exits 1 naming it", () => {
    const run = (args: string[], env: NodeJS.ProcessEnv) =>
      spawnSync(process.execPath, ["bin/mamori.js", "mail", "preview", ...args], {
        encoding: "utf8",
        env: { PATH: process.env.PATH, ...env },
      });
    // (each run starts the CLI: two runs only)
    const r = run(["account_locked_down"], {
      MAMORI_STORE_NAME: "ショップ本舗",
      MAMORI_MAIL_FROM: "info@shop.example",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(
      r.stdout,
      /^From: {4}ショップ本舗 <info@shop\.example>\nSubject: 【ショップ本舗】アカウントを保護しました\n/,
    );
    assert.match(r.stdout, /「アカウントの復旧」ページを開き/);
    const bad = run(["password_reset"], {
      MAMORI_BRANDING_FILE: file("bad-override.json", {
        templates: { password_reset: { ja: { body: "リンクなし" } } },
      }),
    });
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /templates\.password_reset\.ja\.body: must contain \{\{resetUrl\}\}/);
  });
});

describe("branding in a running Mamori", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, {
      env: {
        MAMORI_STORE_NAME: "ショップ本舗",
        MAMORI_SUPPORT_CONTACT: "support@shop.example",
        MAMORI_STORE_URL: "https://shop.example/",
        MAMORI_STORE_LOGO_URL: "https://shop.example/logo.png",
      },
    });
  });
  after(() => t.close());

  it("the lockdown mail names the store, shows Japan time and leaves out what was not done", async () => {
    await t.signUp(
      "hanako@example.jp",
      STRONG,
      { ip: "133.0.0.10", userAgent: "Mozilla/5.0 Chrome/120.0.0.0", deviceId: "pc", channel: "web" },
      "ja",
    );
    t.clock.advance(3_600_000);
    await t.signIn("hanako@example.jp", STRONG, ATTACKER);
    const notice = await t.lastMail("hanako@example.jp", "signin_new_device");
    assert.ok(notice?.subject.startsWith("【ショップ本舗】"), notice?.subject);
    assert.match(notice?.body ?? "", /\nショップ本舗\nお問い合わせ: support@shop\.example$/);
    const page = await t.app.http.inject({
      method: "GET",
      url: `/links/not-me?t=${encodeURIComponent(linkToken(notice?.body, "/links/not-me"))}`,
    });
    assert.match(page.body, /<title>身に覚えのない操作を報告する \| ショップ本舗<\/title>/);
    assert.match(
      page.body,
      /<a class="store" href="https:\/\/shop\.example\/"><img src="https:\/\/shop\.example\/logo\.png"/,
    );
    assert.match(page.body, /<a href="mailto:support@shop\.example">support@shop\.example<\/a>/);
    assert.match(String(page.headers["content-security-policy"]), /img-src 'self' https:\/\/shop\.example\/logo\.png;/);

    await t.call("POST", "/v1/not-me", { token: linkToken(notice?.body, "/links/not-me") }, { auth: null });
    const m = await t.lastMail("hanako@example.jp", "account_locked_down");
    assert.ok(m, "lockdown mail");
    assert.equal(m.subject, "【ショップ本舗】アカウントを保護しました");
    assert.doesNotMatch(m.body, /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/, "no raw UTC timestamp");
    assert.match(m.body, /2026年11月1日 19:00 \(日本時間\)以降の変更/);
    // Two sessions ended (the owner's and the attacker's); nothing else happened, so nothing else is listed.
    assert.match(m.body, /対応内容: 端末のログアウト 2件\n/);
    assert.doesNotMatch(m.body, / 0件/);
    assert.match(m.body, /「アカウントの復旧」ページを開き、このアドレスを入力してください/);
  });
});
