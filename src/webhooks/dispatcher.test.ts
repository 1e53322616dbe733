import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { Webhook, WebhookVerificationError } from "standardwebhooks";
import type { DatabaseHandle } from "../db/database.ts";
import { ManualClock } from "../shared/clock.ts";
import { makeTestApp, type TestApp } from "../testing/app.ts";
import { testStores } from "../testing/stores.ts";
import { createWebhookDispatcher, type WebhookDispatcher } from "./dispatcher.ts";
import { createWebhookService, type WebhookService } from "./service.ts";
import { backoffMs, MAX_ATTEMPTS } from "./store.ts";
import type { WebhookEvent } from "./types.ts";

const KEY = randomBytes(32);

const event = (over: Partial<WebhookEvent> = {}): WebhookEvent => ({
  type: "order.cancelled",
  objectType: "order",
  objectId: "ord_42",
  accountId: "acc_1",
  caseId: "case_1",
  data: { reason: "account_takeover", amount: 1200 },
  ...over,
});

interface Received {
  headers: Record<string, string>;
  body: string;
}
type Reply = { status: number; body?: string; hang?: boolean; location?: string };

/** A real HTTP server on 127.0.0.1 standing in for the store's backend; `replies` answers requests in order. */
class Receiver {
  received: Received[] = [];
  replies: Reply[] = [];
  fallback: Reply = { status: 204 };
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
      this.received.push({ headers, body: Buffer.concat(chunks).toString("utf8") });
      const r = this.replies.shift() ?? this.fallback;
      if (r.hang) return; // never answers: the dispatcher's timeout must fire
      res.writeHead(r.status, {
        "content-type": "application/json",
        ...(r.location ? { location: r.location } : {}),
      });
      res.end(r.body ?? "");
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", () => resolve()));
  }
  url(path = "/hooks"): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}${path}`;
  }
  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
  reset(): void {
    this.received = [];
    this.replies = [];
    this.fallback = { status: 204 };
  }
}

const mid = () => 0.5;

for (const store of testStores) {
  describe(`webhook dispatcher on ${store.name}`, async () => {
    const skip = (await store.skip()) ?? false;
    const receiver = new Receiver();
    let h: DatabaseHandle;
    let clock: ManualClock;
    let webhooks: WebhookService;
    let dispatcher: WebhookDispatcher;
    let secret: string;
    let endpointId: string;

    // one store per case: each test starts with one endpoint and no messages
    const fresh = async (opts: { timeoutMs?: number; url?: string } = {}) => {
      await h?.close();
      receiver.reset();
      h = await store.open();
      // The Standard Webhooks verifier checks the timestamp against the real time (±5 min).
      clock = new ManualClock(Date.now());
      webhooks = createWebhookService({ db: h.db, clock, key: KEY });
      dispatcher = createWebhookDispatcher({
        db: h.db,
        clock,
        key: KEY,
        random: mid,
        ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
      });
      const ep = await webhooks.createEndpoint({ url: opts.url ?? receiver.url() });
      secret = ep.secret;
      endpointId = ep.id;
    };
    const only = async () => {
      const [m] = await webhooks.listMessages({ limit: 1 });
      assert.ok(m);
      return { m, d: m.deliveries[0]! };
    };

    before(async () => {
      if (!skip) await receiver.start();
    });
    after(async () => {
      if (skip) return;
      await dispatcher?.stop();
      await h?.close();
      await receiver.stop();
    });

    it("delivers the payload signed per Standard Webhooks; a tampered body or wrong secret fails", {
      skip,
    }, async () => {
      await fresh();
      const { id } = await h.db.transaction().execute((tx) => webhooks.emit(tx, event()));
      assert.deepEqual(await dispatcher.runOnce(), { delivered: 1, failed: 0 });

      assert.equal(receiver.received.length, 1);
      const req = receiver.received[0]!;
      assert.equal(req.headers["content-type"], "application/json");
      assert.equal(req.headers["webhook-id"], id);
      assert.equal(req.headers["webhook-timestamp"], String(Math.floor(clock.now() / 1000)));
      assert.match(req.headers["webhook-signature"] ?? "", /^v1,[A-Za-z0-9+/]+=*$/);

      const verified = new Webhook(secret).verify(req.body, req.headers);
      assert.deepEqual(verified, {
        type: "order.cancelled",
        timestamp: new Date(clock.now()).toISOString(),
        data: {
          objectType: "order",
          objectId: "ord_42",
          accountId: "acc_1",
          caseId: "case_1",
          reason: "account_takeover",
          amount: 1200,
        },
      });

      const tampered = req.body.replace('"amount":1200', '"amount":1');
      assert.notEqual(tampered, req.body);
      assert.throws(() => new Webhook(secret).verify(tampered, req.headers), WebhookVerificationError);
      const other = `whsec_${randomBytes(32).toString("base64")}`;
      assert.throws(() => new Webhook(other).verify(req.body, req.headers), WebhookVerificationError);

      const { m, d } = await only();
      assert.equal(d.status, "delivered");
      assert.equal(d.lastStatus, 204);
      assert.equal(d.endpointId, endpointId);
      // 2xx without {"status":"applied"}: delivered, but the store still has to confirm
      assert.equal(m.state, "delivered");
      assert.equal((await webhooks.states([id])).get(id), "delivered");
      // settled: nothing more to send
      assert.deepEqual(await dispatcher.runOnce(), { delivered: 0, failed: 0 });
      assert.equal(receiver.received.length, 1);
    });

    it("a 500 is retried after the backoff with the same webhook-id, then delivered", { skip }, async () => {
      await fresh();
      receiver.replies = [
        { status: 500, body: "database is down" },
        { status: 200, body: '{"ok":true}' },
      ];
      const { id } = await webhooks.emit(h.db, event());

      assert.deepEqual(await dispatcher.runOnce(), { delivered: 0, failed: 1 });
      let { m, d } = await only();
      assert.equal(d.status, "queued");
      assert.equal(d.attempts, 1);
      assert.equal(d.lastStatus, 500);
      assert.equal(d.lastError, "HTTP 500: database is down");
      assert.equal(m.state, "pending");

      // not due before the backoff
      clock.advance(backoffMs(1, mid) - 1);
      assert.deepEqual(await dispatcher.runOnce(), { delivered: 0, failed: 0 });
      assert.equal(receiver.received.length, 1);

      clock.advance(1);
      assert.deepEqual(await dispatcher.runOnce(), { delivered: 1, failed: 0 });
      assert.equal(receiver.received.length, 2);
      const [a, b] = receiver.received;
      assert.equal(a?.headers["webhook-id"], id);
      assert.equal(b?.headers["webhook-id"], id);
      // each attempt is signed afresh with its own timestamp
      assert.equal(Number(b?.headers["webhook-timestamp"]) - Number(a?.headers["webhook-timestamp"]), 10);
      new Webhook(secret).verify(b!.body, b!.headers);
      ({ m, d } = await only());
      assert.equal(d.status, "delivered");
      assert.equal(d.attempts, 1);
      assert.equal(d.lastStatus, 200);
      assert.equal(d.lastError, null);
      assert.equal(m.state, "delivered");
    });

    it("8 failed attempts abandon the delivery; stored errors keep at most 200 body characters", { skip }, async () => {
      await fresh();
      receiver.fallback = { status: 503, body: "x".repeat(5000) };
      const { id } = await webhooks.emit(h.db, event());
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        assert.deepEqual(await dispatcher.runOnce(), { delivered: 0, failed: 1 });
        const { d } = await only();
        assert.equal(d.attempts, attempt);
        assert.equal(d.lastError, `HTTP 503: ${"x".repeat(200)}`);
        assert.equal(d.status, attempt < MAX_ATTEMPTS ? "queued" : "abandoned");
        clock.advance(backoffMs(attempt, mid));
      }
      assert.equal(receiver.received.length, MAX_ATTEMPTS);
      assert.equal((await webhooks.states([id])).get(id), "failed");
      clock.advance(24 * 3600_000);
      assert.deepEqual(await dispatcher.runOnce(), { delivered: 0, failed: 0 });
      assert.equal(receiver.received.length, MAX_ATTEMPTS);
    });

    it('a 2xx answer {"status":"applied"} confirms the message', { skip }, async () => {
      await fresh();
      receiver.replies = [{ status: 200, body: '{"status":"applied"}' }];
      const { id } = await webhooks.emit(h.db, event());
      const other = await webhooks.emit(h.db, event({ objectId: "ord_43" }));
      receiver.replies.push({ status: 200, body: '{"status":"received"}' });
      assert.deepEqual(await dispatcher.runOnce(), { delivered: 2, failed: 0 });
      const s = await webhooks.states([id, other.id]);
      const byId = new Map(receiver.received.map((r) => [r.headers["webhook-id"], r]));
      assert.equal(byId.size, 2);
      // which message got which reply depends on send order; exactly one was confirmed
      assert.deepEqual([...s.values()].sort(), ["confirmed", "delivered"]);
      const confirmed = (await webhooks.listMessages({ limit: 10 })).find((m) => m.state === "confirmed");
      assert.equal(confirmed?.confirmedNote, "applied (webhook response)");
      assert.equal(confirmed?.deliveries[0]?.status, "delivered");
    });

    it("timeouts, refused connections and redirects are failed attempts, not deliveries", { skip }, async () => {
      await fresh({ timeoutMs: 300 });
      receiver.replies = [{ status: 200, hang: true }];
      await webhooks.emit(h.db, event());
      assert.deepEqual(await dispatcher.runOnce(), { delivered: 0, failed: 1 });
      let { d } = await only();
      assert.equal(d.lastError, "timeout after 300 ms");
      assert.equal(d.lastStatus, null);

      receiver.replies = [{ status: 302, location: "https://elsewhere.example/" }];
      clock.advance(backoffMs(1, mid));
      assert.deepEqual(await dispatcher.runOnce(), { delivered: 0, failed: 1 });
      ({ d } = await only());
      assert.equal(d.lastStatus, 302);
      assert.equal(d.attempts, 2);

      // a port nothing listens on
      const closed = new Receiver();
      await closed.start();
      const deadUrl = closed.url();
      await closed.stop();
      await fresh({ url: deadUrl });
      await webhooks.emit(h.db, event());
      assert.deepEqual(await dispatcher.runOnce(), { delivered: 0, failed: 1 });
      ({ d } = await only());
      assert.match(d.lastError ?? "", /ECONNREFUSED|fetch failed/);
      assert.equal(d.status, "queued");
    });

    it("kick() and start() deliver without runOnce; stop() waits", { skip }, async () => {
      await fresh();
      await webhooks.emit(h.db, event());
      dispatcher.start(60_000);
      for (let i = 0; i < 100 && receiver.received.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      await dispatcher.stop();
      assert.equal(receiver.received.length, 1);
      assert.equal((await only()).d.status, "delivered");
    });
  });
}

describe("webhook API", () => {
  let t: TestApp;
  const receiver = new Receiver();
  before(async () => {
    t = await makeTestApp();
    await receiver.start();
    // signatures are checked against the real time
    t.clock.set(Date.now());
  });
  after(async () => {
    await t.close();
    await receiver.stop();
  });

  it("endpoints: create (secret once), bad URLs are 400, list, disable, 404 for unknown", async () => {
    const r = await t.call("POST", "/v1/webhooks/endpoints", { url: receiver.url(), description: "OMS" });
    assert.equal(r.statusCode, 201, r.body);
    const created = r.json();
    assert.match(created.secret, /^whsec_/);

    for (const url of [
      "ftp://shop.example/x",
      "https://u:p@shop.example/x",
      "nope",
      `https://a.example/${"a".repeat(2100)}`,
    ]) {
      const bad = await t.call("POST", "/v1/webhooks/endpoints", { url });
      assert.equal(bad.statusCode, 400, url);
      assert.equal(bad.json().error.code, "invalid_request");
    }
    const extra = await t.call("POST", "/v1/webhooks/endpoints", { url: receiver.url(), secret: "mine" });
    assert.equal(extra.statusCode, 400);
    assert.equal((await t.call("POST", "/v1/webhooks/endpoints", { url: 5 })).statusCode, 400);
    assert.equal((await t.call("GET", "/v1/webhooks/endpoints", undefined, { auth: null })).statusCode, 401);

    const list = await t.call("GET", "/v1/webhooks/endpoints");
    assert.equal(list.statusCode, 200);
    assert.deepEqual(
      list.json().endpoints.map((e: any) => [e.id, e.url, e.description, e.disabledAt]),
      [[created.id, receiver.url(), "OMS", null]],
    );
    assert.equal(JSON.stringify(list.json()).includes("whsec_"), false, "the secret is never listed");

    const other = (await t.call("POST", "/v1/webhooks/endpoints", { url: "https://shop.example/old" })).json();
    const del = await t.call("DELETE", `/v1/webhooks/endpoints/${other.id}`);
    assert.equal(del.statusCode, 200, del.body);
    assert.ok(del.json().disabledAt);
    const missing = await t.call("DELETE", "/v1/webhooks/endpoints/does-not-exist");
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().error.code, "webhook_endpoint_not_found");
  });

  it("a message is delivered, listed by object, and confirmed through the API (idempotent; 404 unknown)", async () => {
    const { app } = t;
    const { id } = await app.database.db
      .transaction()
      .execute((tx) =>
        app.webhooks.emit(tx, event({ type: "payment.voided", objectType: "payment", objectId: "pay_9" })),
      );
    assert.deepEqual(await app.webhookDispatcher.runOnce(), { delivered: 1, failed: 0 });
    const got = receiver.received.find((r) => r.headers["webhook-id"] === id);
    assert.ok(got);

    const listed = await t.call("GET", "/v1/webhooks/messages?objectType=payment&objectId=pay_9&limit=5");
    assert.equal(listed.statusCode, 200, listed.body);
    const [m] = listed.json().messages;
    assert.equal(m.id, id);
    assert.equal(m.state, "delivered");
    assert.equal(m.deliveries.length, 1);
    assert.equal(m.deliveries[0].status, "delivered");
    assert.equal(m.payload.data.objectId, "pay_9");

    const c1 = await t.call("POST", `/v1/webhooks/messages/${id}/confirm`, { note: "voided in PSP" });
    assert.equal(c1.statusCode, 200, c1.body);
    assert.equal(c1.json().state, "confirmed");
    t.clock.advance(1000);
    const c2 = await t.call("POST", `/v1/webhooks/messages/${id}/confirm`);
    assert.equal(c2.statusCode, 200, c2.body);
    assert.equal(c2.json().confirmedAt, c1.json().confirmedAt);
    assert.equal((await app.webhooks.states([id])).get(id), "confirmed");

    const byCase = await t.call("GET", "/v1/webhooks/messages?caseId=case_1");
    assert.equal(byCase.json().messages[0].confirmedNote, "voided in PSP");

    const unknown = await t.call("POST", "/v1/webhooks/messages/msg_unknown/confirm", {});
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().error.code, "webhook_message_not_found");
    const badNote = await t.call("POST", `/v1/webhooks/messages/${id}/confirm`, { note: 42 });
    assert.equal(badNote.statusCode, 400);

    for (const q of ["limit=0", "limit=abc", "limit=501", "foo=bar"]) {
      const r = await t.call("GET", `/v1/webhooks/messages?${q}`);
      assert.equal(r.statusCode, 400, q);
      assert.equal(r.json().error.code, "invalid_request");
    }
  });

  it("publishes the operations in the OpenAPI document", async () => {
    const doc = (await t.call("GET", "/openapi.json", undefined, { auth: null })).json();
    const ops = Object.values(doc.paths as Record<string, Record<string, { operationId?: string }>>)
      .flatMap((p) => Object.values(p).map((o) => o.operationId))
      .filter((o) => o && /Webhook/.test(o))
      .sort();
    assert.deepEqual(ops, [
      "confirmWebhook",
      "createWebhookEndpoint",
      "disableWebhookEndpoint",
      "listWebhookEndpoints",
      "listWebhookMessages",
    ]);
  });
});
