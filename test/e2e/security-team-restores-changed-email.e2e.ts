import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { codeIn, STRONG, STRONG2, STRONG3 } from "../../src/testing/app.ts";
import { type BrowserContext, browserSkip } from "./browser.ts";
import {
  ATTACKER_US,
  breakIn,
  checkPage,
  consoleOpenAccount,
  consoleSignIn,
  mainText,
  OWNER_PHONE,
  openStage,
  type Stage,
  SUPPORT_DESK,
  sessionActive,
  shopSignIn,
  shopSignUp,
  shopToken,
  supportAgent,
} from "./stage.ts";

const skip = browserSkip();

// Seed 001: his email was changed to a foreign name @yahoo.com and his password with it; he could not sign in, and
// Amazon's security team put things back by hand hours later. Here the stranger signs in from the US in his own
// browser and changes the address and the password (the demo shop has no settings page: its backend's calls, with the
// session from his browser's cookie). The owner's sign-in no longer works and the notice is at his old address; the
// support agent finds the account by that old address in the console and the lockdown puts the email and password
// back: the stranger is out, his address and password open nothing, and the owner signs in with his own address.
describe("security team restores a changed email (seed 001, real browser)", { skip }, () => {
  let s: Stage;
  before(async () => {
    s = await openStage();
  });
  after(async () => {
    await s?.close();
  });

  it("email and password changed by the stranger; found by the old address, restored by the lockdown", async () => {
    const email = "takumi.restore@example.jp";
    const foreign = "john.smith.restore@yahoo.example";
    const { m } = s;
    const owner = await s.person(OWNER_PHONE);
    let attacker: BrowserContext | undefined;
    const desk = await s.person(SUPPORT_DESK);
    try {
      const me = await owner.newPage();
      await shopSignUp(s, me, email, STRONG);
      await me.getByRole("button", { name: "ログアウト" }).click();
      m.t.clock.advance(30 * 86_400_000);

      // The stranger signs in with the stolen password (from the US, or refused there, through a proxy in Japan), then changes the address (the code goes to his own mailbox)
      // and the password; the shop's cookie gets the session's new token as a settings page would set it.
      const broke = await breakIn(s, ATTACKER_US, email, STRONG);
      attacker = broke.ctx;
      const him = broke.page;
      let token = await shopToken(s, attacker);
      const change = await m.t.call("POST", "/v1/email/change", { newEmail: foreign }, { session: token });
      assert.ok([200, 202].includes(change.statusCode), change.body);
      const code = codeIn((await m.t.lastMail(foreign, "email_change_code"))?.body);
      const confirmed = await m.t.call("POST", "/v1/email/change/confirm", { code }, { session: token });
      assert.equal(confirmed.statusCode, 200, confirmed.body);
      const pw = await m.t.call(
        "POST",
        "/v1/password",
        { currentPassword: STRONG, newPassword: STRONG2 },
        { session: token },
      );
      assert.equal(pw.statusCode, 200, pw.body);
      token = pw.json().session.token;
      await attacker.addCookies([{ name: "shop_session", value: token, url: s.shopUrl, httpOnly: true }]);
      await him.goto(`${s.shopUrl}/orders`);
      assert.equal(await him.textContent("h1"), "注文履歴", "the stranger is in, under his address");

      // The owner cannot sign in any more; the notice of the change is in his (old) mailbox.
      const locked = await shopSignIn(s, me, email, STRONG);
      assert.equal(locked.signedIn, false, "his own address and password no longer open the account");
      assert.ok(
        (await m.t.mails(email)).some((x) => x.template === "email_changed_old_address"),
        "told at the old address",
      );

      // He calls. The agent finds the account by the old address (matched as a past one), previews what the lockdown
      // puts back, and starts it.
      const agent = await supportAgent(s);
      const console = await desk.newPage();
      await consoleSignIn(s, console, agent);
      await consoleOpenAccount(console, email, foreign);
      assert.match(await mainText(console), /メールアドレス変更/);
      await console.getByRole("link", { name: "ロックダウンの内容を確認する" }).click();
      const preview = await mainText(console);
      assert.match(preview, /復元（期間中に削除されたもの）/, "his address comes back");
      assert.match(preview, /削除（期間中に追加）/, "the stranger's goes");
      assert.match(preview, /パスワードを期間前のものに戻す/);
      await checkPage(console, "story-001-console-preview");
      await console.getByLabel(/理由/).fill("本人から電話: メールアドレスとパスワードを変更された");
      await console.getByRole("button", { name: "ロックダウンを開始する" }).click();
      assert.match(await mainText(console), /ロックダウンを実行しました/);
      await checkPage(console, "story-001-console-case");
      // Searched again, the account is listed under his own address as its current one.
      await console.goto(`${s.m.base}/console/`);
      await consoleOpenAccount(console, email, email);
      const restored = await mainText(console);
      assert.ok(restored.includes(email), "the account shows his address again");
      await checkPage(console, "story-001-console-account-restored");

      // What the page cannot show whole: the account's addresses are his alone again.
      const admin = await m.t.adminToken();
      const found = await m.t.call("GET", `/v1/admin/accounts?q=${encodeURIComponent(email)}`, undefined, {
        auth: admin,
      });
      const emails = (found.json().accounts[0]?.emails ?? []).map((e: { value: string }) => e.value);
      assert.deepEqual(emails, [email]);

      // The stranger is out, and neither his address nor his password opens anything.
      assert.equal(await sessionActive(s, token), false);
      await him.goto(`${s.shopUrl}/orders`);
      assert.equal(new URL(him.url()).pathname, "/signin");
      const again = await shopSignIn(s, him, foreign, STRONG2);
      assert.ok(!again.signedIn && !again.codeMailed, "the stranger's address and password open nothing");

      // The owner recovers through his own address (played in full by victim-recovers-after-not-me) and signs in.
      await m.t.recover(email, STRONG3);
      assert.ok((await shopSignIn(s, me, email, STRONG3)).signedIn, "he signs in with his own address");
      await checkPage(me, "story-001-owner-back");
    } finally {
      await owner.close();
      await attacker?.close();
      await desk.close();
    }
  });
});
