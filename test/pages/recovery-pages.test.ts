import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  ATTACKER,
  codeIn,
  linkToken,
  makeTestApp,
  STRONG,
  STRONG2,
  STRONG3,
  type TestApp,
  TOKYO,
} from "../../src/testing/app.ts";
import { passkeySignIn, TEST_ORIGIN } from "../../src/testing/passkeys.ts";
import { softRegister } from "../../src/testing/soft-authenticator.ts";

// Hosted recovery (/recover/) as a browser meets it: every refusal a Japanese page with a way back, never JSON; the
// rules and throttles are the recovery service's, shared with /v1/recovery.
describe("hosted recovery pages", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  /** A browser: its cookies, same-origin form posts (Sec-Fetch-Site), and the CSRF token of the last page. */
  function browser(ip = "133.0.0.10") {
    const jar = new Map<string, string>();
    let csrf = "";
    const remember = <R extends { headers: Record<string, unknown>; body: string }>(r: R): R => {
      const set = r.headers["set-cookie"];
      for (const c of Array.isArray(set) ? set : set ? [String(set)] : []) {
        const [pair = ""] = c.split(";");
        const eq = pair.indexOf("=");
        const v = pair.slice(eq + 1);
        if (/Max-Age=0/.test(c) || v === "") jar.delete(pair.slice(0, eq));
        else jar.set(pair.slice(0, eq), v);
      }
      const m = r.body.match(/name="csrf" value="([^"]+)"/);
      if (m?.[1]) csrf = m[1];
      return r;
    };
    const cookie = () => [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
    return {
      jar,
      get: async (url: string) =>
        remember(
          await t.app.http.inject({
            method: "GET",
            url,
            remoteAddress: ip,
            headers: { accept: "text/html", cookie: cookie(), "accept-language": "ja" },
          }),
        ),
      post: async (url: string, form: Record<string, string | string[]>, opts: { csrf?: string } = {}) => {
        const body = new URLSearchParams();
        body.set("csrf", opts.csrf ?? csrf);
        for (const [k, v] of Object.entries(form)) for (const x of [v].flat()) body.append(k, x);
        return remember(
          await t.app.http.inject({
            method: "POST",
            url,
            remoteAddress: ip,
            headers: {
              "content-type": "application/x-www-form-urlencoded",
              accept: "text/html",
              "sec-fetch-site": "same-origin",
              cookie: cookie(),
              "accept-language": "ja",
            },
            payload: body.toString(),
          }),
        );
      },
    };
  }

  const isPage = (r: { headers: Record<string, unknown>; body: string }) => {
    assert.match(String(r.headers["content-type"]), /^text\/html; charset=utf-8/);
    assert.match(String(r.headers["content-security-policy"]), /default-src 'none'/);
    assert.match(r.body, /<html lang="ja">/);
    assert.ok(!r.body.trimStart().startsWith("{"), "not JSON");
    assert.doesNotMatch(r.body, /_invalid|internal_error|rate_limited|password_/);
  };

  /** The owner, attacked, presses "This wasn't me": the account is locked down and frozen. */
  async function lockedDown(email: string) {
    await t.signUp(
      email,
      STRONG,
      { ip: "133.0.0.10", userAgent: "Mozilla/5.0 (iPhone) Safari/604.1", deviceId: "phone", channel: "web" },
      "ja",
    );
    t.clock.advance(3_600_000);
    const atk = await t.signIn(email, STRONG, ATTACKER);
    const notice = await t.lastMail(email, "signin_new_device");
    const r = await t.call("POST", "/v1/not-me", { token: linkToken(notice?.body, "/links/not-me") }, { auth: null });
    assert.equal(r.statusCode, 200, r.body);
    return { attacker: atk.session.token as string };
  }

  /** Address → code: the browser holds the recovery cookie and stands on the password page. */
  async function proven(email: string) {
    const b = browser();
    await b.get("/recover/");
    const start = await b.post("/recover/start", { identifier: email });
    assert.equal(start.statusCode, 200, start.body);
    const recoveryId = start.body.match(/name="r" value="([^"]+)"/)?.[1] ?? "";
    const code = codeIn((await t.lastMail(email, "recovery_code"))?.body);
    const v = await b.post("/recover/verify", { r: recoveryId, code });
    assert.equal(v.statusCode, 303, v.body);
    assert.equal(v.headers.location, "./password?lang=ja");
    await b.get("/recover/password");
    return { b, recoveryId, code };
  }

  it("the start page answers the same for an unknown address as for a locked-down one, and refuses junk with a page", async () => {
    await lockedDown("same@example.jp");
    const b = browser();
    const form = await b.get("/recover/");
    assert.equal(form.statusCode, 200);
    isPage(form);
    assert.match(form.body, /アカウントの復旧/);
    const known = await b.post("/recover/start", { identifier: "same@example.jp" });
    const unknown = await b.post("/recover/start", { identifier: "nobody@example.jp" });
    assert.equal(known.statusCode, 200);
    assert.equal(unknown.statusCode, 200);
    const shape = (body: string) => body.replace(/value="[^"]*"/g, 'value=""');
    assert.equal(shape(known.body), shape(unknown.body), "the pages differ only in the ids in hidden fields");
    assert.ok(await t.lastMail("same@example.jp", "recovery_code"));
    assert.equal(await t.lastMail("nobody@example.jp", "recovery_code"), undefined);

    const junk = await b.post("/recover/start", { identifier: "not an address" });
    assert.equal(junk.statusCode, 422);
    isPage(junk);
    assert.match(junk.body, /メールアドレス（例: hanako@example\.jp）か電話番号/);
    assert.match(junk.body, /role="alert"/);
  });

  it("a wrong code is refused on the form; after five the right one is refused too, the same way as a decoy's", async () => {
    await lockedDown("wrongcode@example.jp");
    const b = browser("133.0.0.21");
    await b.get("/recover/");
    const start = await b.post("/recover/start", { identifier: "wrongcode@example.jp" });
    const r = start.body.match(/name="r" value="([^"]+)"/)?.[1] ?? "";
    const good = codeIn((await t.lastMail("wrongcode@example.jp", "recovery_code"))?.body);
    const bad = good === "000000" ? "111111" : "000000";
    for (let i = 0; i < 5; i++) {
      const w = await b.post("/recover/verify", { r, code: bad });
      assert.equal(w.statusCode, 422);
      isPage(w);
      assert.match(w.body, /確認コードが違うか、有効期限（15分）が切れています/);
      assert.equal(b.jar.has("mamori_recovery"), false, "no recovery cookie for a wrong code");
    }
    // Now even the right code is refused: five tries per code, as the API.
    const dead = await b.post("/recover/verify", { r, code: good });
    assert.equal(dead.statusCode, 422);
    isPage(dead);
    assert.equal(b.jar.has("mamori_recovery"), false);
    assert.match(dead.body, /最初からやり直す/);
    // A decoy's id (an address on no locked-down account) and a garbled one get that same page: no oracle.
    const decoy = await b.post("/recover/start", { identifier: "no-such-owner@example.jp" });
    const decoyId = decoy.body.match(/name="r" value="([^"]+)"/)?.[1] ?? "";
    const onDecoy = await b.post("/recover/verify", { r: decoyId, code: bad });
    const onReal = await b.post("/recover/verify", { r, code: bad });
    const shape = (body: string) => body.replace(/value="[^"]*"/g, 'value=""');
    assert.equal(onDecoy.statusCode, onReal.statusCode);
    assert.equal(shape(onDecoy.body), shape(onReal.body));
    const garbled = await b.post("/recover/verify", { r: "x".repeat(500), code: good });
    assert.equal(garbled.statusCode, 422);
    isPage(garbled);
  });

  it("weak, leaked and compromised passwords are refused in Japanese, the recovery still usable; a strong one goes on", async () => {
    await lockedDown("weakpw@example.jp");
    const { b } = await proven("weakpw@example.jp");
    const form = await b.get("/recover/password");
    assert.equal(form.statusCode, 200);
    isPage(form);
    // The rules are on the page, the script that checks them as you type is Mamori's own file and nothing inline.
    assert.match(form.body, /8文字以上、256文字以内/);
    assert.match(String(form.headers["content-security-policy"]), /script-src 'self'/);
    assert.match(form.body, /<script src="\.\.\/assets\/password-rules-[0-9a-f]{12}\.js" defer><\/script>/);
    const script = await b.get(`/assets/${form.body.match(/password-rules-[0-9a-f]{12}\.js/)?.[0]}`);
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers["content-type"]), /^text\/javascript/);

    for (const [pw, said] of [
      ["qz7x", /パスワードが短すぎます/],
      ["password1", /過去に流出したパスワード/],
      [STRONG, /第三者がアカウントを使っていた間に使われていた/],
    ] as const) {
      const r = await b.post("/recover/password", { password: pw });
      assert.equal(r.statusCode, 422, pw);
      isPage(r);
      assert.match(r.body, said);
      assert.match(r.body, /パスワードを設定できませんでした/);
      assert.doesNotMatch(r.body, new RegExp(pw), "the password is never echoed");
    }
    const ok = await b.post("/recover/password", { password: STRONG2 });
    assert.equal(ok.statusCode, 303);
    assert.equal(ok.headers.location, "./devices?lang=ja");
    // Still frozen until the end.
    assert.equal((await t.signIn("weakpw@example.jp", STRONG2)).http, 423);
  });

  it("a finished recovery's cookie, a cross-site post and a made-up cookie each get a page with a way back", async () => {
    const { attacker } = await lockedDown("used@example.jp");
    const { b } = await proven("used@example.jp");
    assert.equal((await b.post("/recover/password", { password: STRONG3 })).statusCode, 303);
    // Steps cannot be skipped: the finish page sends back to the devices.
    const early = await b.get("/recover/finish");
    assert.equal(early.statusCode, 303);
    assert.equal(early.headers.location, "./devices?lang=ja");
    const devices = await b.get("/recover/devices");
    assert.equal(devices.statusCode, 200);
    isPage(devices);
    assert.match(devices.body, /不正な操作の期間にログイン/);
    assert.equal((await b.post("/recover/devices", {})).statusCode, 303);
    const totp = await b.get("/recover/authenticator");
    assert.equal(totp.statusCode, 200);
    isPage(totp);
    assert.match(totp.body, /<svg class="qr" role="img" aria-label="認証アプリで読み取るQRコード"/);
    assert.match(totp.body, /<p class="secret">[A-Z2-7 ]{20,}<\/p>/);

    // A post without the page's token, as from another site, acts on nothing.
    const forged = await b.post("/recover/finish", {}, { csrf: "forged" });
    assert.equal(forged.statusCode, 403);
    isPage(forged);
    assert.equal((await t.signIn("used@example.jp", STRONG3)).http, 423, "still frozen");

    const finish = await b.get("/recover/finish");
    const done = await b.post("/recover/finish", {});
    assert.equal(done.statusCode, 200, finish.body);
    isPage(done);
    assert.match(done.body, /アカウントが復旧しました/);
    assert.equal((await t.signIn("used@example.jp", STRONG3)).http, 200);
    assert.equal((await t.call("POST", "/v1/sessions/introspect", { token: attacker })).json().active, false);

    // The used recovery, from a browser that kept the cookie (or a back button): a page, not an error code.
    const stale = browser();
    const leftover = [...b.jar].find(([k]) => k === "mamori_recovery");
    assert.equal(leftover, undefined, "the cookie was cleared");
    const used = await stale.get("/recover/password");
    assert.equal(used.statusCode, 410);
    isPage(used);
    assert.match(used.body, /もう一度最初からお試しください/);
    assert.match(used.body, /href="\.\/\?lang=ja"/);
    stale.jar.set("mamori_recovery", `mmr_${"A".repeat(43)}`);
    const madeUp = await stale.get("/recover/devices");
    assert.equal(madeUp.statusCode, 410);
    isPage(madeUp);
    const nowhere = await stale.get("/recover/nothing-here");
    assert.equal(nowhere.statusCode, 404);
    isPage(nowhere);
  });

  it("the last step offers a passkey before the authenticator app, added by the page's own script", async () => {
    await lockedDown("passkeyfirst@example.jp");
    const { b } = await proven("passkeyfirst@example.jp");
    assert.equal((await b.post("/recover/password", { password: STRONG3 })).statusCode, 303);
    assert.equal((await b.post("/recover/devices", {})).statusCode, 303);
    const step = await b.get("/recover/authenticator");
    assert.equal(step.statusCode, 200);
    isPage(step);
    assert.match(step.body, /<h1[^>]*>パスキーか認証アプリを設定する（おすすめ）<\/h1>/);
    const passkeyAt = step.body.indexOf("パスキー（いちばんおすすめ）");
    const qrAt = step.body.indexOf("認証アプリで読み取るQRコード");
    assert.ok(passkeyAt > 0 && qrAt > passkeyAt, "the passkey comes first, the app's QR code after it");
    // Mamori's own two files, no inline script; the script may fetch only from Mamori's origin.
    const csp = String(step.headers["content-security-policy"]);
    assert.match(csp, /script-src 'self'/);
    assert.match(csp, /connect-src 'self'/);
    assert.match(step.body, /<script src="\.\.\/assets\/simplewebauthn-browser-[0-9a-f]{12}\.js" defer><\/script>/);
    const own = step.body.match(/assets\/passkeys-[0-9a-f]{12}\.js/)?.[0];
    assert.ok(own);
    assert.equal((await b.get(`/${own}`)).statusCode, 200);
    assert.doesNotMatch(step.body, /<script>|onclick=/);
    const csrf = step.body.match(/data-csrf="([^"]+)"/)?.[1] ?? "";
    assert.match(step.body, /data-options="\.\/passkey\/options"/);

    const json = (url: string, body: unknown) =>
      t.app.http.inject({
        method: "POST",
        url,
        remoteAddress: "133.0.0.10",
        headers: {
          "content-type": "application/json",
          accept: "application/json",
          "sec-fetch-site": "same-origin",
          cookie: [...b.jar].map(([k, v]) => `${k}=${v}`).join("; "),
        },
        payload: JSON.stringify(body),
      });
    const forged = await json("/recover/passkey/options", { csrf: "forged" });
    assert.equal(forged.statusCode, 403);
    assert.equal(forged.json().error.code, "csrf_failed");
    const o = await json("/recover/passkey/options", { csrf });
    assert.equal(o.statusCode, 200, o.body);
    const { credential, response } = softRegister(o.json(), TEST_ORIGIN);
    const added = await json("/recover/passkey/add", { csrf, response, name: "わたしのiPhone" });
    assert.equal(added.statusCode, 200, added.body);
    assert.equal(added.json().name, "わたしのiPhone");
    const again = await b.get("/recover/authenticator");
    assert.match(again.body, /このアカウントのパスキー: 1個/);
    const finish = await b.get("/recover/finish");
    assert.match(finish.body, /パスキー: 1個/);
    assert.equal((await b.post("/recover/finish", {})).statusCode, 200);
    const signIn = await passkeySignIn(t, credential, TOKYO);
    assert.equal(signIn.res.statusCode, 200, signIn.res.body);
    // Without the recovery's cookie the calls are refused as a gone recovery, not run for anyone.
    b.jar.delete("mamori_recovery");
    const gone = await json("/recover/passkey/options", { csrf });
    assert.equal(gone.json().error.code, "recovery_invalid");
  });

  it("the pages and the API share one throttle: an address that used up the API's starts gets the wait page", async () => {
    const ip = "198.51.100.77";
    // The API's per-address limit on starts, used up by a store's own screen (or a script) from this address.
    let api = 0;
    for (; api < 100; api++) {
      const r = await t.call("POST", "/v1/recovery/start", {
        identifier: `nobody${api}@example.jp`,
        context: { ...TOKYO, ip },
      });
      if (r.statusCode === 429) break;
      assert.equal(r.statusCode, 202, r.body);
    }
    assert.ok(api > 0 && api < 100, `the API throttled after ${api}`);
    const b = browser(ip);
    await b.get("/recover/");
    const page = await b.post("/recover/start", { identifier: "someone@example.jp" });
    assert.equal(page.statusCode, 429);
    isPage(page);
    assert.match(page.body, /しばらくお待ちください/);
    assert.match(page.body, /\d+分ほど待ってから/);
    assert.match(page.body, /最初からやり直す/);
  });

  it("the not-me page, the security center's and the lockdown mail lead to the hosted recovery when the store has none", async () => {
    await t.signUp(
      "links@example.jp",
      STRONG,
      { ip: "133.0.0.10", userAgent: "Mozilla/5.0 Chrome/120.0.0.0", deviceId: "pc", channel: "web" },
      "ja",
    );
    t.clock.advance(3_600_000);
    await t.signIn("links@example.jp", STRONG, ATTACKER);
    const notice = await t.lastMail("links@example.jp", "signin_new_device");
    const b = browser();
    const done = await b.post("/links/not-me", { t: linkToken(notice?.body, "/links/not-me") });
    assert.equal(done.statusCode, 200);
    assert.match(done.body, /<a class="button" href="\.\.\/recover\/\?lang=ja">アカウントの復旧へ進む<\/a>/);
    const mail = await t.lastMail("links@example.jp", "account_locked_down");
    assert.match(mail?.body ?? "", /「アカウントの復旧」ページを開き、このアドレスを入力してください/);
    assert.match(mail?.body ?? "", /^http:\/\/mamori\.test\/recover\/$/m);
  });
});

describe("a store with its own recovery page (MAMORI_STORE_RECOVERY_URL)", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { env: { MAMORI_STORE_RECOVERY_URL: "https://shop.example/recover" } });
  });
  after(() => t.close());

  it("keeps the store's page in the not-me page and the lockdown mail", async () => {
    await t.signUp(
      "own@example.jp",
      STRONG,
      { ip: "133.0.0.10", userAgent: "Mozilla/5.0 Chrome/120.0.0.0", deviceId: "pc", channel: "web" },
      "ja",
    );
    t.clock.advance(3_600_000);
    await t.signIn("own@example.jp", STRONG, ATTACKER);
    const notice = await t.lastMail("own@example.jp", "signin_new_device");
    const done = await t.app.http.inject({
      method: "POST",
      url: "/links/not-me",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
      payload: new URLSearchParams({ t: linkToken(notice?.body, "/links/not-me") }).toString(),
    });
    assert.equal(done.statusCode, 200);
    assert.match(done.body, /<a class="button" href="https:\/\/shop\.example\/recover">アカウントの復旧へ進む<\/a>/);
    assert.doesNotMatch(done.body, /recover\/\?lang/);
    const mail = await t.lastMail("own@example.jp", "account_locked_down");
    assert.match(mail?.body ?? "", /^https:\/\/shop\.example\/recover$/m);
  });
});
