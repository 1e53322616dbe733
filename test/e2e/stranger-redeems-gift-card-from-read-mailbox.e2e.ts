import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { STRONG, STRONG2, STRONG3 } from "../../src/testing/app.ts";
import { browserSkip } from "./browser.ts";
import {
  ATTACKER_CN,
  addToCart,
  BUYER_PHONE,
  checkout,
  checkPage,
  mainText,
  OWNER_PHONE,
  openStage,
  type Stage,
  shopSignUp,
} from "./stage.ts";

const skip = browserSkip();

const GIFT_CODE = /[A-Z0-9]{4}(?:-[A-Z0-9]{4}){3}/;

// Seed 004: a friend's ¥20,000 gift card arrived in her free-mail box, which someone in China was reading through
// the mail-client login; an hour later the card was "already registered to another account", and the shop would not
// make it good. Here the friend sends two 10,000円 cards from the shop; the stranger reads the codes in her mailbox
// and tries them in his own account from China, then again through a Japanese residential proxy on another
// device — both held — and she redeems them herself: the 20,000円 is hers, the stranger has nothing.
describe("a stranger redeems a gift card read from her mailbox (seed 004, real browser)", { skip }, () => {
  let s: Stage;
  before(async () => {
    s = await openStage();
  });
  after(async () => {
    await s?.close();
  });

  it("held from abroad and through a Japanese proxy; she redeems the 20,000円 herself", async () => {
    const email = "megumi.gift@yahoo.example";
    const { m } = s;
    const friend = await s.person(BUYER_PHONE);
    const owner = await s.person(OWNER_PHONE);
    const stranger = await s.person(ATTACKER_CN);
    // the stranger's second try: a residential proxy in Japan, a Windows PC he never used before
    const proxied = await s.person({
      ip: "126.200.3.4",
      locale: "ja-JP",
      userAgent:
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/118.0.0.0 Safari/537.36 Edg/118.0",
    });
    try {
      const her = await owner.newPage();
      await shopSignUp(s, her, email, STRONG);

      // The friend buys two 10,000円 gift cards for her address; the shop delivers at once and Mamori mails the codes.
      const f = await friend.newPage();
      await shopSignUp(s, f, "tomodachi.gift@example.jp", STRONG2);
      await addToCart(s, f, "ギフト券 10,000円", "ギフト券 10,000円");
      const gift = await checkout(s, f, { giftRecipient: email });
      assert.equal(gift.flash, "ok");
      const codes = (await m.t.mails(email))
        .filter((x) => x.template === "gift_card_delivered")
        .map((x) => GIFT_CODE.exec(x.body)?.[0] ?? "");
      assert.equal(codes.length, 2, "two codes in her mailbox");
      m.t.clock.advance(20 * 60_000);

      // Someone reading her mailbox from China redeems the codes into his own new account: held.
      const him = await stranger.newPage();
      await shopSignUp(s, him, "xiao.mule@mule.example", STRONG3);
      await him.getByRole("link", { name: "ギフト券", exact: true }).click();
      await him.getByLabel("ギフト券のコード").fill(codes[0]!);
      await him.getByRole("button", { name: "残高に登録する" }).click();
      const held = await mainText(him);
      assert.match(held, /このギフト券の登録を保留しました/);
      assert.match(held, /ギフト券残高 0円/);
      await checkPage(him, "story-004-stranger-held");

      // Through the proxy in Japan, on another device and account: held too (a device and network she never used).
      const via = await proxied.newPage();
      await shopSignUp(s, via, "xiao.mule2@mule.example", STRONG3);
      for (const code of codes) {
        await via.goto(`${s.shopUrl}/gift-cards`);
        await via.getByLabel("ギフト券のコード").fill(code);
        await via.getByRole("button", { name: "残高に登録する" }).click();
        assert.match(await mainText(via), /このギフト券の登録を保留しました/, "held through the Japanese proxy");
      }
      m.t.clock.advance(40 * 60_000);

      // An hour after the mail she redeems both from her own phone: the 20,000円 is hers.
      for (const code of codes) {
        await her.goto(`${s.shopUrl}/gift-cards`);
        await her.getByLabel("ギフト券のコード").fill(code);
        await her.getByRole("button", { name: "残高に登録する" }).click();
        assert.match(await mainText(her), /10,000円を残高に追加しました/);
      }
      assert.match(await mainText(her), /ギフト券残高 20,000円/);
      await checkPage(her, "story-004-owner-redeemed");

      // The stranger's accounts hold nothing.
      for (const p of [him, via]) {
        await p.goto(`${s.shopUrl}/gift-cards`);
        assert.match(await mainText(p), /ギフト券残高 0円/);
      }
    } finally {
      await friend.close();
      await owner.close();
      await stranger.close();
      await proxied.close();
    }
  });
});
