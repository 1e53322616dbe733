import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { type MamoriClient, unwrap } from "@mamori/client";
import { Webhook } from "standardwebhooks";
import { STRONG, type TestApp, TOKYO } from "../../../src/testing/app.ts";
import { createWebhookReceiver, type MamoriWebhook, MemorySeenIds, WebhookRefused } from "../src/webhooks.ts";
import { startMamori, unique } from "./harness.ts";

interface Captured {
  body: string;
  headers: Record<string, string>;
}

// A real webhook from Mamori (security.sessions.ended, after the owner signed out everywhere), captured at the
// store's endpoint, then delivered to the receiver helper as an attacker would: twice (a replay), with the body
// altered, and late. Only the first is handled.
describe("a replayed, tampered or stale webhook is refused", () => {
  let t: TestApp;
  let mamori: MamoriClient;
  let secret: string;
  let captured: Captured;
  const received: Captured[] = [];
  const endpoint = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === "string") headers[k] = v;
      received.push({ headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(204).end();
    });
  });

  before(async () => {
    ({ t, mamori } = await startMamori());
    await new Promise<void>((resolve) => endpoint.listen(0, "127.0.0.1", () => resolve()));
    const { port } = endpoint.address() as AddressInfo;
    ({ secret } = await t.app.webhooks.createEndpoint({ url: `http://127.0.0.1:${port}/mamori-webhooks` }));

    const email = `${unique("hook")}@example.jp`;
    await t.signUp(email);
    const owner = await unwrap(mamori.POST("/v1/sign-in", { body: { email, password: STRONG, context: TOKYO } }));
    if (owner.status !== "signed_in") throw new Error("not signed in");
    await unwrap(
      mamori.POST("/v1/sessions/sign-out-everywhere", {
        params: { header: { "x-mamori-session": owner.session.token } },
        body: {},
      }),
    );
    await t.app.webhookDispatcher.runOnce();
    const found = received.find((r) => (JSON.parse(r.body) as { type: string }).type === "security.sessions.ended");
    assert.ok(found, `no security.sessions.ended among ${received.map((r) => r.body).join("\n")}`);
    captured = found;
  });
  after(async () => {
    endpoint.closeAllConnections();
    await new Promise<void>((resolve) => endpoint.close(() => resolve()));
    await t.close();
  });

  it("the same message delivered twice is handled once; the second answer says duplicate", async () => {
    const receiver = createWebhookReceiver({ secret });
    const handled: MamoriWebhook[] = [];
    const handle = (m: MamoriWebhook) => {
      handled.push(m);
      return { status: "ok" };
    };
    const first = await receiver.receive(captured.body, captured.headers, handle);
    assert.deepEqual(first, { status: 200, body: { status: "ok" } });
    assert.equal(handled.length, 1);
    assert.equal(handled[0]?.type, "security.sessions.ended");
    assert.equal(handled[0]?.id, captured.headers["webhook-id"]);
    assert.equal(handled[0]?.data.objectType, "account");
    assert.equal(typeof handled[0]?.data.accountId, "string");

    const again = await receiver.receive(captured.body, captured.headers, handle);
    assert.deepEqual(again, { status: 200, body: { status: "duplicate" } });
    assert.equal(handled.length, 1);
    await assert.rejects(receiver.verify(captured.body, captured.headers), (e: unknown) => {
      return e instanceof WebhookRefused && e.reason === "replayed";
    });

    // Mamori's own retry of the message (same id, new timestamp, signed afresh) is not handled twice either
    const ts = new Date(Date.now() + 10_000);
    const id = captured.headers["webhook-id"] ?? "";
    const retry = {
      ...captured.headers,
      "webhook-timestamp": String(Math.floor(ts.getTime() / 1000)),
      "webhook-signature": new Webhook(secret).sign(id, ts, captured.body),
    };
    assert.deepEqual(await receiver.receive(captured.body, retry, handle), {
      status: 200,
      body: { status: "duplicate" },
    });
    assert.equal(handled.length, 1);
  });

  it("a tampered body, a wrong secret or missing headers are refused and not recorded as seen", async () => {
    const seen = new MemorySeenIds();
    const receiver = createWebhookReceiver({ secret, seen });
    const body = JSON.parse(captured.body) as { data: { accountId: string } };
    body.data.accountId = "someone-else";
    const tampered = JSON.stringify(body);
    assert.notEqual(tampered, captured.body);
    const r = await receiver.receive(tampered, captured.headers, () => assert.fail("a tampered webhook was handled"));
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { error: { code: "webhook_signature", message: "No matching signature." } });

    const other = createWebhookReceiver({ secret: `whsec_${Buffer.alloc(32, 7).toString("base64")}`, seen });
    assert.equal((await other.receive(captured.body, captured.headers, () => assert.fail("wrong secret"))).status, 400);
    const { "webhook-signature": _, ...unsigned } = captured.headers;
    const missing = await receiver.receive(captured.body, unsigned, () => assert.fail("unsigned"));
    assert.equal(missing.status, 400);

    // the forgeries did not burn the id: the genuine message is still handled
    const ok = await receiver.receive(captured.body, captured.headers, (m) => m.type);
    assert.deepEqual(ok, { status: 200, body: "security.sessions.ended" });
  });

  it("an old timestamp is refused, even with a valid signature", async () => {
    const sent = Number(captured.headers["webhook-timestamp"]) * 1000;
    const late = createWebhookReceiver({ secret, now: () => sent + 5 * 60_000 + 1_000 });
    await assert.rejects(late.verify(captured.body, captured.headers), (e: unknown) => {
      return e instanceof WebhookRefused && e.reason === "timestamp" && e.status === 400;
    });
    // within the tolerance the same message is fine
    const inTime = createWebhookReceiver({ secret, now: () => sent + 4 * 60_000 });
    assert.equal((await inTime.verify(captured.body, captured.headers)).type, "security.sessions.ended");
  });

  it("a handler that fails releases the id, so Mamori's retry is handled", async () => {
    const receiver = createWebhookReceiver({ secret });
    await assert.rejects(
      receiver.receive(captured.body, captured.headers, () => {
        throw new Error("database down");
      }),
      /database down/,
    );
    const retried = await receiver.receive(captured.body, captured.headers, () => ({ status: "applied" }));
    assert.deepEqual(retried, { status: 200, body: { status: "applied" } });
  });
});
