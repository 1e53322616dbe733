import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { formatReport } from "../../src/response/report.ts";
import { ATTACKER, makeTestApp, STRONG, type TestApp } from "../../src/testing/app.ts";
import { shopper } from "../commerce/helpers.ts";

/**
 * Issue 16: a store that never registered a webhook endpoint ran a lockdown; Mamori cancelled the attacker's order and
 * voided its payment in its own record, and the report marked each `not_required`, unflagged — a clean report while
 * the store's own order was still live and would ship. An action the store must apply and was never told of is
 * flagged, as "never told", until the store confirms it applied it.
 */
describe("case-report-flags-store-never-told", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("a lockdown with no webhook endpoint flags the cancelled order as never told, until the store confirms it", async () => {
    const email = `never-told-${Date.now()}@example.jp`;
    const owner = await shopper(t, email);
    t.clock.advance(86_400_000);
    const atk = await t.signIn(email, STRONG, ATTACKER);
    const order = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [{ category: "digital", sku: "ebook", title: "E-book", quantity: 1, unitPrice: 1_800 }],
        payment: { method: "instrument", instrumentId: owner.instrumentId },
      },
      { session: atk.session.token },
    );
    assert.equal(order.statusCode, 201, order.body);
    const hooks = await t.call("GET", "/v1/webhooks/endpoints");
    assert.deepEqual(hooks.json().endpoints, [], "the store has no webhook endpoint");

    const admin = await t.adminToken();
    t.clock.advance(60_000);
    const lock = await t.call(
      "POST",
      `/v1/admin/accounts/${owner.accountId}/lockdown`,
      { reason: "owner phoned: e-book order not theirs" },
      { auth: admin },
    );
    assert.equal(lock.statusCode, 200, lock.body);
    const report = lock.json();
    const cancel = report.objects.find(
      (o: { objectType: string; objectId: string }) => o.objectType === "order" && o.objectId === order.json().id,
    );
    assert.ok(cancel, "the attacker's order is in the report");
    assert.equal(cancel.action, "cancel");
    assert.ok(cancel.webhookId, "the cancellation has a message for the store");
    assert.equal(cancel.storeConfirmation, "never_told");
    assert.equal(cancel.flagged, true);
    assert.ok(report.flagged >= 1);
    // Mamori's own record (sessions, the freeze) still needs no store.
    for (const o of report.objects.filter((x: { objectType: string }) => ["session", "account"].includes(x.objectType)))
      assert.equal(o.flagged, false, `${o.objectType} ${o.action}`);

    // What support reads: the flagged line says the store was never told.
    const shown = await t.call("GET", `/v1/admin/cases/${report.id}`, undefined, { auth: admin });
    const text = formatReport(shown.json());
    assert.match(text, /FLAGGED: \d+ action/);
    assert.match(text, new RegExp(`! order ${order.json().id}: cancel — store never told`));

    // The store applies it by hand and says so: the flags clear.
    for (const o of report.objects.filter((x: { flagged: boolean }) => x.flagged)) {
      const c = await t.call("POST", `/v1/webhooks/messages/${o.webhookId}/confirm`, { note: "cancelled by hand" });
      assert.equal(c.statusCode, 200, c.body);
    }
    const after_ = (await t.call("GET", `/v1/admin/cases/${report.id}`, undefined, { auth: admin })).json();
    assert.equal(after_.flagged, 0);
  });
});
