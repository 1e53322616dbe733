import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { linkToken, makeTestApp, STRONG, STRONG2, type TestApp, TOKYO } from "../../src/testing/app.ts";

// Issue 19 (ASVS 5.0 6.2.11): on a fresh install `Mamori2026!`, `amazon.co.jp2026`, `onlinestore1`, and
// `yamadataro88!!` for yamada.taro88@… were accepted. A targeted attacker guesses from what they know of the victim and
// the shop first: the address, the name, the store's name and domain, the words of the service.
describe("password-from-own-email", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const signUp = (email: string, password: string) =>
    t.call("POST", "/v1/accounts", { email, password, language: "ja", context: TOKYO });

  const refused = (r: { statusCode: number; body: string; json(): any }, context: string, pw: string) => {
    assert.equal(r.statusCode, 422, `${pw}: ${r.body}`);
    assert.equal(r.json().error.code, "password_contains_context", pw);
    assert.deepEqual(r.json().error.details, { context }, pw);
    assert.ok(!r.body.includes(pw), "the answer never echoes the password");
  };

  it("a fresh install refuses the four passwords found in the review, at sign-up", async () => {
    const email = "yamada.taro88@example.jp";
    refused(await signUp(email, "yamadataro88!!"), "email", "yamadataro88!!");
    refused(await signUp(email, "Mamori2026!"), "service_word", "Mamori2026!");
    refused(await signUp(email, "amazon.co.jp2026"), "service_word", "amazon.co.jp2026");
    refused(await signUp(email, "onlinestore1"), "service_word", "onlinestore1");
    assert.equal((await signUp(email, STRONG)).statusCode, 202, "sign-up accepts the password (step 1 of 2)");
  });

  it("refuses the address's pieces, however written, at sign-up", async () => {
    const email = "kirishima.hayate77@example.jp";
    for (const pw of [
      "kirishima.hayate77", // alone, zxcvbn rated it strong
      "Hayate77Kirishima",
      "K1r1sh1ma-H4y4t3!",
      "HAYATE-kirishima-2026",
      "ｋｉｒｉｓｈｉｍａ７７７", // full-width
    ]) {
      refused(await signUp(email, pw), "email", pw);
    }
    refused(await signUp("hanako@docomo.ne.jp", "Docomo2026!!"), "email", "Docomo2026!!");
  });

  it("refuses them at password change too, for the account's address even before it is verified", async () => {
    const s = await t.signUp("sato.hanako@example.jp");
    for (const [pw, kind] of [
      ["SatoHanako1990!", "email"],
      ["h4n4k0s4t0##", "email"],
      ["Mamori-2026", "service_word"],
      ["rakuten.co.jp!", "service_word"],
    ] as const) {
      const r = await t.call(
        "POST",
        "/v1/password",
        { currentPassword: STRONG, newPassword: pw },
        { session: s.token },
      );
      refused(r, kind, pw);
    }
    const ok = await t.call(
      "POST",
      "/v1/password",
      { currentPassword: STRONG, newPassword: STRONG2 },
      { session: s.token },
    );
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it("the reset page refuses them too, saying why in Japanese, and the link still works", async () => {
    const email = "kobayashi.mei@example.jp";
    const a = await t.signUp(email);
    await t.verifyEmail(a.token, email);
    await t.call("POST", "/v1/password/reset-request", { email, context: TOKYO });
    const token = linkToken((await t.lastMail(email, "password_reset"))?.body, "/links/reset-password");
    const post = (password: string) =>
      t.app.http.inject({
        method: "POST",
        url: "/links/reset-password",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
        payload: new URLSearchParams({ t: token, password, lang: "ja" }).toString(),
      });
    const r = await post("KobayashiMei2026!");
    assert.equal(r.statusCode, 422);
    assert.match(r.body, /メールアドレスやお名前、ショップ名などから作ったパスワードは/);
    assert.ok(!r.body.includes("KobayashiMei2026!"), "the page never echoes the password");
    const listed = await post("password1");
    assert.match(listed.body, /過去に流出したパスワードの一覧にあり/);
    assert.equal((await post(STRONG2)).statusCode, 200);
  });

  it("a long passphrase that only mentions a context word is judged on its strength", async () => {
    const r = await signUp("taro.suzuki@example.jp", "Taro packs violet kites for the dunes");
    assert.equal(r.statusCode, 202, r.body);
  });
});

describe("password-from-own-email: the store's name and domain (its branding) and service words", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, {
      env: {
        MAMORI_STORE_NAME: "さくら商店 Sakura Shoten",
        MAMORI_STORE_URL: "https://www.sakura-shoten.co.jp/",
        MAMORI_PASSWORD_SERVICE_WORDS: "SakuraPoint, hanami",
      },
    });
  });
  after(() => t.close());

  it("refuses passwords built from the store's name or domain and the configured words", async () => {
    for (const [pw, kind] of [
      ["SakuraShoten2026!", "store"],
      ["sakura-shoten.co.jp", "store"],
      ["さくら商店123456", "store"],
      ["5akura5hoten!!", "store"],
      ["sakurapoint2026", "service_word"],
      ["Hanami#0401", "service_word"],
    ] as const) {
      const r = await t.call("POST", "/v1/accounts", {
        email: "buyer@example.jp",
        password: pw,
        language: "ja",
        context: TOKYO,
      });
      assert.equal(r.statusCode, 422, `${pw}: ${r.body}`);
      assert.equal(r.json().error.code, "password_contains_context", pw);
      assert.deepEqual(r.json().error.details, { context: kind }, pw);
    }
  });
});
