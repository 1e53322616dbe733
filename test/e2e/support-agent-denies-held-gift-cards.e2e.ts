import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { totpCodeAt } from "../../src/identity/totp.ts";
import type { RequestContext } from "../../src/shared/context.ts";
import { STRONG, TOKYO } from "../../src/testing/app.ts";
import { shopper } from "../commerce/helpers.ts";
import { enrolStaff } from "../console/helpers.ts";
import {
  type Browser,
  browserSkip,
  inlineScriptRuns,
  type LiveMamori,
  launch,
  liveMamori,
  screenshot,
  seriousA11yViolations,
} from "./browser.ts";

const skip = browserSkip();
// The infostealer's copy of the owner's browser, behind a Japanese proxy: the sign-in looks like hers.
const STOLEN_BROWSER_JP: RequestContext = { ...TOKYO, ip: "126.200.3.77" };

// Seed 003: seven gift cards bought in minutes from a stolen browser. The shipped policy lets two through and holds the
// rest (authorized only: nothing captured, no code mailed). The support agent opens the review queue, sees why each was
// held and from where, and denies them one by one with a reason: the authorisations are voided and no code is ever sent.
describe("support agent denies held gift cards (real browser)", { skip }, () => {
  let m: LiveMamori;
  let browser: Browser;
  before(async () => {
    m = await liveMamori(
      { MAMORI_STORE_NAME: "ショップ本舗", MAMORI_SUPPORT_CONTACT: "support@shop.example" },
      0,
      "default",
    );
    browser = await launch();
  });
  after(async () => {
    await browser?.close();
    await m?.close();
  });

  it("finds five held orders in the queue, oldest first with the rule that fired, and denies each", async () => {
    const t = m.t;
    const owner = await shopper(t, "takahashi@example.jp");
    t.clock.advance(86_400_000);
    const atk = await t.signIn("takahashi@example.jp", STRONG, STOLEN_BROWSER_JP);
    const statuses: string[] = [];
    for (let i = 0; i < 7; i++) {
      t.clock.advance(60_000);
      const r = await t.call(
        "POST",
        "/v1/commerce/orders",
        {
          items: [
            {
              category: "gift_card",
              sku: "gc-10000",
              title: "ギフトカード 10,000円",
              quantity: 1,
              unitPrice: 10_000,
              recipientEmail: "cashout@attacker.example",
            },
          ],
          payment: { method: "instrument", instrumentId: owner.instrumentId },
        },
        { session: atk.session.token },
      );
      statuses.push(r.json().status);
    }
    assert.deepEqual(statuses, ["placed", "placed", "on_hold", "on_hold", "on_hold", "on_hold", "on_hold"]);

    const { staff } = await enrolStaff(t, "yamamoto", "agent");
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: "ja-JP" });
    const page = await ctx.newPage();
    try {
      await page.goto(`${m.base}/console`);
      await page.getByLabel("ユーザー名").fill(staff.username);
      await page.getByLabel("パスワード").fill(staff.password);
      await page.getByRole("button", { name: "次へ" }).click();
      await page.getByLabel("6桁のコード").fill(totpCodeAt(staff.secret, t.clock.now()));
      await page.getByRole("button", { name: "ログイン" }).click();
      assert.equal(await page.textContent("h1"), "アカウントを探す");

      await page.getByRole("link", { name: "審査待ち" }).click();
      assert.equal(await page.textContent("h1"), "審査待ちの取引");
      const rows = page.locator("tbody tr");
      assert.equal(await rows.count(), 5);
      const main = (await page.textContent("main")) ?? "";
      assert.match(main, /giftcard_burst/);
      assert.match(main, /takahashi@example\.jp/);
      assert.match(main, /cashout@attacker\.example/);
      assert.match(main, /¥10,000/);
      assert.match(main, /日本/);
      assert.match(main, /\(日本時間\)/);
      assert.equal(await page.getAttribute("html", "lang"), "ja");
      assert.deepEqual(await seriousA11yViolations(page), [], "review queue");
      assert.equal(await inlineScriptRuns(page), false, "the CSP stops any script");
      await screenshot(page, "console-review");

      for (let n = 5; n > 0; n--) {
        const first = rows.first();
        await first.getByLabel(/理由/).fill("盗まれたブラウザからのギフトカード大量購入（本人確認済み）");
        await first.getByRole("button", { name: "拒否する" }).click();
        assert.match(page.url(), /\/console\/review\?done=denied$/);
        assert.match((await page.textContent("main")) ?? "", /拒否しました/);
        assert.equal(await rows.count(), n - 1);
      }
      assert.match((await page.textContent("main")) ?? "", /審査待ちの取引はありません/);
      assert.deepEqual(await seriousA11yViolations(page), [], "empty queue");
    } finally {
      await ctx.close();
    }

    // Nothing held was ever captured or sent: the attacker's mailbox has the two codes from before the hold.
    const orders = await t.app.database.db
      .selectFrom("orders")
      .innerJoin("payments", "payments.order_id", "orders.id")
      .select(["orders.status", "payments.status as payment"])
      .where("orders.account_id", "=", owner.accountId)
      .execute();
    assert.equal(orders.filter((o) => o.status === "cancelled" && o.payment === "voided").length, 5);
    const codes = (await t.mails("cashout@attacker.example")).filter((x) => x.template === "gift_card_delivered");
    assert.equal(codes.length, 2);
  });
});
