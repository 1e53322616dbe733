import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, codeIn, linkToken, makeTestApp, STRONG, STRONG2, type TestApp } from "../../src/testing/app.ts";

// The pages behind the links in notices, as a browser sees them: HTML only, Japanese first, GET never acts.
describe("link pages", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const get = (url: string, headers: Record<string, string> = {}) =>
    t.app.http.inject({ method: "GET", url, headers: { accept: "text/html", ...headers } });
  const post = (url: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    t.app.http.inject({
      method: "POST",
      url,
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html", ...headers },
      payload: new URLSearchParams(form).toString(),
    });
  const isPage = (r: { headers: Record<string, unknown>; body: string }) => {
    assert.match(String(r.headers["content-type"]), /^text\/html; charset=utf-8/);
    assert.match(String(r.headers["content-security-policy"]), /script-src 'none'/);
    assert.ok(!r.body.trimStart().startsWith("{"), "not JSON");
    assert.doesNotMatch(r.body, /<script|_invalid|internal_error/);
  };

  /** A Japanese account whose new-device notice carries a "This wasn't me" link. */
  async function victim(email: string, language: "ja" | "en" = "ja") {
    const { token } = await t.signUp(
      email,
      STRONG,
      { ip: "133.0.0.10", userAgent: "Mozilla/5.0 Chrome/120.0.0.0", deviceId: "pc", channel: "web" },
      language,
    );
    t.clock.advance(3_600_000);
    const atk = await t.signIn(email, STRONG, ATTACKER);
    const notice = await t.lastMail(email, "signin_new_device");
    return { token, attacker: atk.session.token as string, notMe: linkToken(notice?.body, "/links/not-me") };
  }

  it("a mail scanner's GET uses nothing; the owner's POST locks the account down and the page says what happens next", async () => {
    const v = await victim("hanako@example.jp");
    const url = `/links/not-me?t=${encodeURIComponent(v.notMe)}`;
    for (let i = 0; i < 3; i++) {
      const r = await get(url);
      assert.equal(r.statusCode, 200);
      isPage(r);
      assert.match(r.body, /<html lang="ja">/);
      assert.match(r.body, /身に覚えのない操作を報告する/);
      assert.match(r.body, /<form method="post" action="\.\/not-me">/);
      assert.match(r.body, /ボタンを押すまで、アカウントには何も変更されません/);
    }
    // Nothing happened on GET: the attacker's session still works.
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: v.attacker })).json().active, true);

    const done = await post("/links/not-me", { t: v.notMe });
    assert.equal(done.statusCode, 200, done.body);
    isPage(done);
    assert.match(done.body, /アカウントを保護しました/);
    assert.match(done.body, /アカウントを凍結しました/);
    assert.match(done.body, /パスワード再設定のメールは届きません/);
    assert.match(done.body, /アカウントの復旧/);
    // The old page promised a reset mail that never came.
    assert.doesNotMatch(done.body, /メールのリンクから新しいパスワードを設定してください/);
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: v.attacker })).json().active, false);
    assert.ok(await t.lastMail("hanako@example.jp", "account_locked_down"), "the lockdown mail the page mentions");

    // Opened again: the page knows the link was used before any click, and shows no button.
    const used = await get(url);
    assert.equal(used.statusCode, 410);
    isPage(used);
    assert.match(used.body, /このリンクはすでに使われています/);
    assert.match(used.body, /現在も凍結されています/);
    assert.doesNotMatch(used.body, /<form/);
    // A second post (a double click, a reload) gets the same page, not an error code.
    const again = await post("/links/not-me", { t: v.notMe });
    assert.equal(again.statusCode, 410);
    assert.match(again.body, /このリンクはすでに使われています/);
  });

  it("garbled, cut off and missing tokens get a Japanese page with a way forward, never JSON", async () => {
    const v = await victim("cut@example.jp");
    for (const url of [
      "/links/not-me",
      "/links/not-me?t=",
      `/links/not-me?t=${encodeURIComponent(v.notMe.slice(0, 20))}`,
      // The last character changed to one that differs in its high bits (a base64url tail's low bits may be padding):
      // replacing it with "x" left the token unchanged whenever it already ended in "x".
      `/links/not-me?t=${encodeURIComponent(`${v.notMe.slice(0, -1)}${/[A-P]$/.test(v.notMe) ? "x" : "A"}`)}`,
      "/links/email-revert?t=abc.def",
      "/links/reset-password?t=mrt_nope",
      `/links/reset-password?t=${"x".repeat(5000)}`,
    ]) {
      const r = await get(url);
      assert.equal(r.statusCode, 400, url);
      isPage(r);
      assert.match(r.body, /<html lang="ja">/, url);
      assert.match(r.body, /このリンクは正しくありません/, url);
    }
    for (const [body, type] of [
      ["", "application/x-www-form-urlencoded"],
      ["t=1&t=2", "application/x-www-form-urlencoded"],
      ['{"t": 5}', "application/json"],
      ["[1,2]", "application/json"],
      ["not json", "application/json"],
      ["t=x", "text/plain"],
    ]) {
      const r = await t.app.http.inject({
        method: "POST",
        url: "/links/not-me",
        headers: { "content-type": type },
        payload: body,
      });
      assert.ok(r.statusCode >= 400 && r.statusCode < 500, `${type} ${body}: ${r.statusCode}`);
      isPage(r);
    }
    // The link still works after all that.
    assert.equal((await post("/links/not-me", { t: v.notMe })).statusCode, 200);
  });

  it("a server error is a page that leaks nothing", async () => {
    const identity = t.app.identity as { peekLink: unknown };
    const real = identity.peekLink;
    identity.peekLink = async () => {
      throw new Error("database exploded at /srv/secret/path");
    };
    try {
      const r = await get("/links/not-me?t=abc");
      assert.equal(r.statusCode, 500);
      isPage(r);
      assert.match(r.body, /エラーが発生しました/);
      assert.doesNotMatch(r.body, /exploded|secret|stack/);
    } finally {
      identity.peekLink = real;
    }
  });

  it("pages follow the account's language, then the browser's, and let the reader switch", async () => {
    const v = await victim("john@example.com", "en");
    const url = `/links/not-me?t=${encodeURIComponent(v.notMe)}`;
    const en = await get(url, { "accept-language": "ja" });
    assert.match(en.body, /<html lang="en">/);
    assert.match(en.body, /Report activity that wasn&#39;t you|Report activity that wasn't you/);
    const href = /<a href="([^"]+)" hreflang="ja"/.exec(en.body)?.[1]?.replace(/&amp;/g, "&");
    assert.ok(href?.startsWith("./not-me?t="), en.body);
    const ja = await get(`/links/${href!.slice(2)}`);
    assert.match(ja.body, /<html lang="ja">/);
    // The choice is carried through the form, so the result page is in it too.
    assert.match(ja.body, /<input type="hidden" name="lang" value="ja"/);
    const done = await post("/links/not-me", { t: v.notMe, lang: "ja" });
    assert.match(done.body, /<html lang="ja">/);
    // No account behind a garbled link: the browser's language decides.
    const bad = await get("/links/not-me?t=zzz", { "accept-language": "en-US,en;q=0.9" });
    assert.match(bad.body, /<html lang="en">/);
    assert.match(bad.body, /This link is not valid/);
  });

  it("the reset page shows the rules, answers a weak or reused password in Japanese, and uses the link once", async () => {
    const email = "reset@example.jp";
    await t.signUp(email, STRONG, { ip: "133.0.0.10", userAgent: "x", channel: "web" }, "ja");
    await t.call("POST", "/v1/password/reset-request", {
      email,
      context: { ip: "133.0.0.10", userAgent: "x", channel: "web" },
    });
    const token = linkToken((await t.lastMail(email, "password_reset"))?.body, "/links/reset-password");
    const url = `/links/reset-password?t=${encodeURIComponent(token)}`;
    const form = await get(url);
    assert.equal(form.statusCode, 200);
    isPage(form);
    assert.match(form.body, /8文字以上、256文字以内/);
    assert.match(form.body, /最近使った5つのパスワードは使えません/);
    assert.match(form.body, /<label for="f-password">新しいパスワード<\/label>/);
    assert.match(form.body, /autocomplete="new-password"/);
    assert.match(form.body, /reset@example\.jp/);

    const weak = await post("/links/reset-password", { t: token, password: "password1" });
    assert.equal(weak.statusCode, 422);
    isPage(weak);
    assert.match(weak.body, /推測されやすいため使えません/);
    assert.match(weak.body, /role="alert"/);
    assert.match(weak.body, /aria-invalid="true"/);
    const reused = await post("/links/reset-password", { t: token, password: STRONG });
    assert.match(reused.body, /最近使ったパスワードです/);
    // Failed attempts did not use the link.
    const ok = await post("/links/reset-password", { t: token, password: STRONG2 });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.match(ok.body, /新しいパスワードを設定しました/);
    assert.equal((await t.signIn(email, STRONG2)).http, 200);
    const used = await get(url);
    assert.equal(used.statusCode, 410);
    assert.match(used.body, /このリンクはすでに使われています/);
    assert.doesNotMatch(used.body, /<form/);
    // Past 30 minutes a fresh link is expired, and says so before any typing.
    t.clock.advance(1000);
    await t.call("POST", "/v1/password/reset-request", {
      email,
      context: { ip: "133.0.0.10", userAgent: "x", channel: "web" },
    });
    const late = linkToken((await t.lastMail(email, "password_reset"))?.body, "/links/reset-password");
    t.clock.advance(31 * 60_000);
    const expired = await get(`/links/reset-password?t=${encodeURIComponent(late)}`);
    assert.equal(expired.statusCode, 410);
    assert.match(expired.body, /有効期限（30分）が過ぎています/);
  });

  it("undoing an email change: the page names both addresses, acts on POST only, and says where the reset link went", async () => {
    const email = "yuki@example.jp";
    const s = (await t.signUp(email, STRONG, { ip: "133.0.0.10", userAgent: "x", channel: "web" }, "ja")).token;
    await t.call("POST", "/v1/email/change", { newEmail: "evil@attacker.example" }, { session: s });
    const code = codeIn((await t.lastMail("evil@attacker.example", "email_change_code"))?.body);
    await t.call("POST", "/v1/email/change/confirm", { code }, { session: s });
    const revert = linkToken((await t.lastMail(email, "email_changed_old_address"))?.body, "/links/email-revert");
    const page = await get(`/links/email-revert?t=${encodeURIComponent(revert)}`);
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /元に戻すアドレス<\/dt><dd>yuki@example\.jp/);
    assert.match(page.body, /削除するアドレス<\/dt><dd>evil@attacker\.example/);
    const done = await post("/links/email-revert", { t: revert });
    assert.equal(done.statusCode, 200, done.body);
    assert.match(done.body, /メールアドレスを yuki@example\.jp に戻しました/);
    assert.match(done.body, /yuki@example\.jp 宛てに、パスワード再設定のリンクをお送りしました/);
    assert.ok(await t.lastMail(email, "account_locked"), "the reset link the page promises was sent");
    const used = await get(`/links/email-revert?t=${encodeURIComponent(revert)}`);
    assert.equal(used.statusCode, 410);
    assert.match(used.body, /すでに取り消されています/);
  });

  it("a reset link on an account frozen by a lockdown points to recovery instead of a form that would fail", async () => {
    const v = await victim("frozen@example.jp");
    await t.call("POST", "/v1/password/reset-request", {
      email: "frozen@example.jp",
      context: { ip: "133.0.0.10", userAgent: "x", channel: "web" },
    });
    const token = linkToken((await t.lastMail("frozen@example.jp", "password_reset"))?.body, "/links/reset-password");
    await post("/links/not-me", { t: v.notMe });
    // The lockdown's sign-out-everywhere ends outstanding reset links too.
    const r = await get(`/links/reset-password?t=${encodeURIComponent(token)}`);
    assert.equal(r.statusCode, 410);
    assert.doesNotMatch(r.body, /<form/);
  });
});
