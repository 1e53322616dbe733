import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RequestContext } from "../../src/shared/context.ts";
import { makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";
import { shopper } from "../commerce/helpers.ts";
import { enrolStaff } from "./helpers.ts";

const sfx = () => Math.random().toString(36).slice(2, 8);
const STOLEN_BROWSER_JP: RequestContext = { ...TOKYO, ip: "126.200.3.9" };

/** Seed 003 in short: a stolen browser buys gift cards until the default policy holds them. */
async function heldBurst(t: TestApp, email: string) {
  const owner = await shopper(t, email);
  t.clock.advance(86_400_000);
  const atk = await t.signIn(email, STRONG, STOLEN_BROWSER_JP);
  const orders: { id: string; status: string }[] = [];
  for (let i = 0; i < 4; i++) {
    t.clock.advance(60_000);
    const r = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [
          {
            category: "gift_card",
            sku: "gc",
            title: "ギフトカード",
            quantity: 1,
            unitPrice: 5000,
            recipientEmail: "drop@attacker.example",
          },
        ],
        payment: { method: "instrument", instrumentId: owner.instrumentId },
      },
      { session: atk.session.token },
    );
    orders.push(r.json() as { id: string; status: string });
  }
  return { owner, held: orders.filter((o) => o.status === "on_hold") };
}

describe("support console review queue: held orders with why and from where, decided with a reason", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
  });
  after(() => t.close());

  it("an agent sees the held orders oldest first and denies one; bad input and cross-site posts get pages", async () => {
    const email = `review${sfx()}@example.jp`;
    const { owner, held } = await heldBurst(t, email);
    assert.equal(held.length, 2);
    const { browser: b } = await enrolStaff(t, `desk${sfx()}`, "agent");
    const r = await b.get("/console/review");
    assert.equal(r.statusCode, 200);
    const text = b.text();
    assert.match(text, /審査待ちの取引/);
    assert.match(text, new RegExp(email.replace(/\./g, "\\.")));
    assert.match(text, /giftcard_burst/);
    assert.match(text, /¥5,000/);
    assert.match(text, /日本/, "the country the action came from");
    assert.ok(text.indexOf(held[0]!.id) < text.indexOf(held[1]!.id), "oldest first");
    assert.match(b.last, /href="[^"]*review"[^>]*>審査待ち</, "in the console's navigation");
    const holdId = /id="hold-([^"]+)"/.exec(b.last)?.[1];
    assert.ok(holdId);

    // No reason, no verdict, another site: a page each, nothing decided.
    const noReason = await b.post(`/console/review/${holdId}`, { verdict: "deny", reason: "" });
    assert.equal(noReason.statusCode, 400);
    assert.match(b.text(), /理由を3文字以上/);
    const noVerdict = await b.post(`/console/review/${holdId}`, { verdict: "maybe", reason: "checked" });
    assert.equal(noVerdict.statusCode, 400);
    assert.match(b.text(), /承認か拒否を選んでください/);
    const crossSite = await b.post(
      `/console/review/${holdId}`,
      { verdict: "deny", reason: "forged from elsewhere" },
      { site: "cross-site" },
    );
    assert.equal(crossSite.statusCode, 403);
    const unknown = await b.get("/console/review/nope");
    assert.equal(unknown.statusCode, 404);
    assert.match(unknown.headers["content-type"] as string, /text\/html/);
    assert.equal((await t.app.commerce.getHeldItem(holdId)).status, "pending");

    await b.get(`/console/review/${holdId}`);
    const deny = await b.post(`/console/review/${holdId}`, {
      verdict: "deny",
      reason: "盗まれたブラウザからの大量購入",
    });
    assert.equal(deny.statusCode, 200, "redirected back to the queue");
    assert.match(b.text(), /拒否しました/);
    const after = await t.app.commerce.getHeldItem(holdId);
    assert.equal(after.status, "denied");
    assert.equal(after.reason, "盗まれたブラウザからの大量購入");

    // Decided: the detail page says by whom and why; a second decision from a stale page says someone decided.
    await b.get(`/console/review/${holdId}`);
    assert.match(b.text(), /拒否済み/);
    assert.match(b.text(), /盗まれたブラウザからの大量購入/);
    const stale = await b.post(`/console/review/${holdId}`, { verdict: "approve", reason: "looked fine" });
    assert.equal(stale.statusCode, 409);
    assert.match(b.text(), /すでに別のスタッフが判断しました/);

    // The account view links the held order to its decision.
    await b.get(`/console/accounts/${owner.accountId}`);
    assert.match(b.last, new RegExp(`review/${holdId}"[^>]*>審査: 拒否済み`));
    assert.match(b.text(), /保留中の注文をサポートが拒否/, "the timeline names the decision");
    const log = await t.app.staffAudit.list({ limit: 20 });
    assert.ok(log.some((e) => e.type === "support.hold_denied" && (e.data as { holdId?: string }).holdId === holdId));
  });

  it("in English on request, with the same queue", async () => {
    const { browser: b } = await enrolStaff(t, `desk${sfx()}`, "lead");
    await b.get("/console/review?lang=en");
    assert.equal(b.lastStatus, 200);
    assert.match(b.text(), /Review queue/);
    assert.match(b.last, /<html lang="en"/);
  });
});
