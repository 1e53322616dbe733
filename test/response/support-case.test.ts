import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ATTACKER, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { shopper } from "../commerce/helpers.ts";

// Seed 000: support said the account was handled while an attacker order was still live at the store. Every action
// on a store object stays flagged in the report until the store confirms it; support finds the account from any
// trace the buyer has (order id, gift card code, an address the attacker removed).
describe("support-case", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("finds the account by order id and gift card code; unconfirmed cancellations are flagged until confirmed", async () => {
    const owner = await shopper(t, "desk@example.jp");
    t.clock.advance(86_400_000);
    const atk = await t.signIn("desk@example.jp", STRONG, ATTACKER);
    const order = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [
          {
            category: "gift_card",
            sku: "gc",
            title: "Gift card",
            quantity: 1,
            unitPrice: 2500,
            recipientEmail: "drop@attacker.example",
          },
        ],
        payment: { method: "instrument", instrumentId: owner.instrumentId },
      },
      { session: atk.session.token },
    );
    assert.equal(order.statusCode, 201, order.body);
    const code = (await t.lastMail("drop@attacker.example", "gift_card_delivered"))?.body.match(
      /[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/,
    )?.[0];
    assert.ok(code);
    const admin = await t.adminToken();
    const find = async (q: string) =>
      (await t.call("GET", `/v1/admin/accounts?q=${encodeURIComponent(q)}`, undefined, { auth: admin })).json()
        .accounts as { id: string }[];
    assert.deepEqual(
      (await find(order.json().id)).map((a) => a.id),
      [owner.accountId],
    );
    assert.deepEqual(
      (await find(code)).map((a) => a.id),
      [owner.accountId],
    );

    // The store has a webhook endpoint that is down: nothing it must apply is confirmed yet.
    const ep = await t.call("POST", "/v1/webhooks/endpoints", { url: "http://127.0.0.1:9/hooks" });
    assert.equal(ep.statusCode, 201, ep.body);
    t.clock.advance(60_000);
    const lock = await t.call(
      "POST",
      `/v1/admin/accounts/${owner.accountId}/lockdown`,
      { reason: "owner phoned: gift card order not theirs" },
      { auth: admin },
    );
    assert.equal(lock.statusCode, 200, lock.body);
    const report = lock.json();
    const cancel = report.objects.find((o: { objectType: string }) => o.objectType === "order");
    assert.equal(cancel.objectId, order.json().id);
    assert.equal(cancel.storeConfirmation, "pending");
    assert.equal(cancel.flagged, true);
    assert.ok(report.flagged >= 2, "the order and its payment are flagged");
    // Mamori's own record (sessions, the freeze) needs no store confirmation.
    assert.ok(
      report.objects
        .filter((o: { objectType: string }) => o.objectType === "session" || o.objectType === "account")
        .every((o: { flagged: boolean }) => !o.flagged),
    );

    // The store confirms what it applied; the flags clear one by one.
    for (const o of report.objects.filter((x: { flagged: boolean }) => x.flagged)) {
      const c = await t.call("POST", `/v1/webhooks/messages/${o.webhookId}/confirm`, { note: "applied by hand" });
      assert.equal(c.statusCode, 200, c.body);
    }
    const after_ = (await t.call("GET", `/v1/admin/cases/${report.id}`, undefined, { auth: admin })).json();
    assert.equal(after_.flagged, 0);

    // Notes and window adjustments are events on the account, by the agent.
    assert.equal(
      (await t.call("POST", `/v1/admin/cases/${report.id}/notes`, { body: "called back" }, { auth: admin })).statusCode,
      200,
    );
    const adj = await t.call(
      "POST",
      `/v1/admin/cases/${report.id}/window`,
      { since: new Date(t.clock.now() - 2 * 86_400_000).toISOString() },
      { auth: admin },
    );
    assert.equal(adj.statusCode, 200, adj.body);
    assert.equal(adj.json().sinceSource, "support");
    const future = await t.call(
      "POST",
      `/v1/admin/cases/${report.id}/window`,
      { since: new Date(t.clock.now() + 86_400_000).toISOString() },
      { auth: admin },
    );
    assert.equal(future.json().error.code, "window_invalid");
    const tl = (
      await t.call("GET", `/v1/admin/accounts/${owner.accountId}/timeline`, undefined, { auth: admin })
    ).json();
    const agentEvents = tl.events.filter((e: { actor: string }) => e.actor.startsWith("admin:"));
    assert.deepEqual(agentEvents.map((e: { type: string }) => e.type).sort(), [
      "case.note_added",
      "case.opened",
      "case.window_adjusted",
    ]);
    const listed = (
      await t.call("GET", `/v1/admin/cases?accountId=${owner.accountId}`, undefined, { auth: admin })
    ).json().cases;
    assert.equal(listed.length, 1);
    assert.equal(
      (await t.call("GET", "/v1/admin/cases/nope", undefined, { auth: admin })).json().error.code,
      "case_not_found",
    );
  });
});
