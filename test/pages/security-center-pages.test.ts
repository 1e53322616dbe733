import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import { makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { openPortal, textOf } from "../portal/helpers.ts";

/** The security center's settings pages: what each shows, and every bad input answered with a page. */
describe("security center pages", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("authenticator: a QR drawn as SVG and the key as text; a wrong code → a new QR (422); a right one → codes once", async () => {
    const owner = await t.signUp("portal-totp@example.jp", STRONG, undefined, "ja");
    const b = await openPortal(t, owner.token);
    const main = await b.get();
    assert.match(main.body, /href="\.\/authenticator\?lang=ja"/);
    const first = await b.get("/portal/authenticator");
    assert.equal(first.statusCode, 200);
    assert.match(first.body, /<svg[^>]*class="qr"[^>]*role="img"/);
    assert.doesNotMatch(first.body, /<img|<script/);
    const key = first.body.match(/class="secret">([A-Z2-7 ]+)</)?.[1]?.replace(/ /g, "");
    assert.ok(key && key.length >= 16, "the key as text, in groups");
    const wrong = await b.post("/portal/authenticator", { code: "000000" });
    assert.equal(wrong.statusCode, 422);
    assert.match(textOf(wrong.body), /コードが違います/);
    const key2 = wrong.body.match(/class="secret">([A-Z2-7 ]+)</)?.[1]?.replace(/ /g, "");
    assert.ok(key2 && key2 !== key, "a new secret to scan");
    const ok = await b.post("/portal/authenticator", { code: totpCodeAt(key2!, t.clock.now()) });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.match(textOf(ok.body), /リカバリーコードを保管してください/);
    assert.equal(ok.body.match(/<li>[a-z0-9-]{8,}<\/li>/gi)?.length, 10);
    assert.equal(ok.headers["cache-control"], "no-store");
    assert.equal((await t.app.identity.getAccount(owner.accountId)).totpEnabled, true);

    const after = await b.get();
    assert.match(
      textOf(after.body),
      /認証アプリ 設定済み ログインの確認に、アプリに表示される6桁のコードを使います。 認証アプリを外す/,
    );
    assert.match(textOf(after.body), /リカバリーコード 設定済み 残り 10 個。/);
    assert.equal((await b.get("/portal/authenticator")).statusCode, 303, "already on: back to the center");
    // Enrolment counts as a fresh second factor: new codes now; after the freshness window, the code step first.
    const codes = await b.post("/portal/recovery-codes", {});
    assert.equal(codes.statusCode, 200);
    assert.match(textOf(codes.body), /前のコードは使えなくなりました/);
    t.clock.advance(11 * 60_000);
    const stale = await b.post("/portal/authenticator/remove", {});
    assert.equal(stale.statusCode, 403);
    assert.match(stale.body, /name="code"/);
    await b.post("/portal/confirm", { next: "factors", password: STRONG, code: totpCodeAt(key2!, t.clock.now()) });
    const removed = await b.post("/portal/authenticator/remove", {});
    assert.equal(removed.statusCode, 200, removed.body);
    assert.equal((await t.app.identity.getAccount(owner.accountId)).totpEnabled, false);
  });

  it("countries: saved, shown by name; junk is a page (422) and changes nothing", async () => {
    const owner = await t.signUp("portal-countries@example.jp", STRONG, undefined, "ja");
    const b = await openPortal(t, owner.token);
    await b.get();
    const bad = await b.post("/portal/countries", { countries: "Japan; <script>" });
    assert.equal(bad.statusCode, 422);
    assert.match(textOf(bad.body), /アルファベット2文字/);
    assert.doesNotMatch(bad.body, /<script>/);
    const ok = await b.post("/portal/countries", { countries: "ｊｐ、us" });
    assert.equal(ok.statusCode, 200);
    assert.deepEqual(await t.app.risk.getAllowedCountries(owner.accountId), ["JP", "US"]);
    assert.match(textOf((await b.get()).body), /現在: 日本 \(JP\), アメリカ合衆国 \(US\)/);
    const ev = await t.app.database.db
      .selectFrom("events")
      .select("type")
      .where("account_id", "=", owner.accountId)
      .where("type", "=", "sign_in_countries.changed")
      .execute();
    assert.equal(ev.length, 1, "recorded as a security setting (rollback, notice)");
  });

  it("contacts with their history, app passwords revoked, no case in progress; garbage gets pages", async () => {
    const owner = await t.signUp("portal-contacts@example.jp", STRONG, undefined, "ja");
    await t.verifyEmail(owner.token, "portal-contacts@example.jp");
    const b = await openPortal(t, owner.token);
    const page = textOf((await b.get()).body);
    assert.match(page, /portal-contacts@example\.jp 使用中 確認済み/);
    assert.match(page, /に追加（/);
    assert.match(page, /進行中の手続きはありません/);
    const made = await b.post("/portal/app-passwords", { name: "メール" });
    assert.equal(made.statusCode, 201);
    const listed = (await b.get()).body;
    const id = listed.match(/name="id" value="([^"]+)"/)?.[1];
    assert.ok(id);
    assert.equal((await b.post("/portal/app-passwords/revoke", { id })).statusCode, 200);
    const again = await b.post("/portal/app-passwords/revoke", { id });
    assert.equal(again.statusCode, 404);
    assert.match(textOf(again.body), /見つかりません/);
    const empty = await b.post("/portal/app-passwords", { name: "   " });
    assert.equal(empty.statusCode, 422);
    assert.match(String(empty.headers["content-type"]), /text\/html/);
    const noCookie = await t.app.http.inject({
      method: "POST",
      url: "/portal/countries",
      headers: { "content-type": "application/x-www-form-urlencoded", accept: "text/html" },
      payload: "countries=JP",
    });
    assert.equal(noCookie.statusCode, 403);
    assert.match(String(noCookie.headers["content-type"]), /text\/html/);
  });

  it("a finished case is shown in plain words", async () => {
    const owner = await t.signUp("portal-case@example.jp", STRONG, undefined, "ja");
    const now = t.clock.now();
    await t.app.database.db
      .insertInto("cases")
      .values({
        id: "case-portal-recovered",
        account_id: owner.accountId,
        status: "recovered",
        reason: "not_me",
        opened_by: "token:not_me",
        since: now - 3_600_000,
        since_source: "computed",
        window_basis: null,
        created_at: now - 3_600_000,
        updated_at: now,
        locked_down_at: now - 3_500_000,
        recovered_at: now,
      })
      .execute();
    const page = textOf((await (await openPortal(t, owner.token)).get()).body);
    assert.match(page, /復旧済み/);
    assert.match(page, /手続きは完了しました/);
  });
});
