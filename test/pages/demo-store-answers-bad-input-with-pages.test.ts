import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { FastifyInstance } from "fastify";
import { createShop } from "../../examples/demo-store/shop.tsx";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

/**
 * The demo store (examples/demo-store) answers bad input and refusals with pages, never a stack trace or a 5xx for
 * the user's mistake: no body, JSON where a form belongs, a cross-site post, an open redirect in `next`, no session,
 * and Mamori unreachable (503, not "signed out").
 */
describe("demo store answers bad input with pages", () => {
  let t: TestApp;
  let shop: FastifyInstance;
  let down: FastifyInstance;
  before(async () => {
    t = await makeTestApp();
    await t.app.http.listen({ host: "127.0.0.1", port: 0 });
    const addr = t.app.http.server.address() as { port: number };
    shop = await createShop({
      mamoriUrl: `http://127.0.0.1:${addr.port}`,
      apiKey: t.apiKey,
      webhookSecret: `whsec_${Buffer.alloc(32, 7).toString("base64")}`,
    });
    // port 9 (discard): nothing listens, every call to Mamori fails
    down = await createShop({ mamoriUrl: "http://127.0.0.1:9", apiKey: t.apiKey });
  });
  after(async () => {
    await shop?.close();
    await down?.close();
    await t?.close();
  });

  const isPage = (r: { headers: Record<string, unknown>; body: string }) => {
    assert.match(String(r.headers["content-type"]), /^text\/html/);
    assert.match(r.body, /^<!doctype html><html lang="ja">/);
    assert.doesNotMatch(r.body, /at \w+ \(|Error:/, "no stack trace");
  };

  it("a post with no body, or JSON with numbers for fields, is a 4xx page or a redirect, never a 500", async () => {
    const empty = await shop.inject({ method: "POST", url: "/cart/add" });
    assert.equal(empty.statusCode, 303);
    const json = await shop.inject({
      method: "POST",
      url: "/signin",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ email: 5, password: ["x"] }),
    });
    assert.ok(json.statusCode >= 400 && json.statusCode < 500, `${json.statusCode}`);
    isPage(json);
    const garbled = await shop.inject({
      method: "POST",
      url: "/signup",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "%%%&email=not-an-address&password=",
    });
    assert.ok(garbled.statusCode >= 400 && garbled.statusCode < 500, `${garbled.statusCode}`);
    isPage(garbled);
  });

  it("a form posted from another site is refused with a page", async () => {
    const r = await shop.inject({
      method: "POST",
      url: "/signin",
      headers: { origin: "https://evil.example", "content-type": "application/x-www-form-urlencoded" },
      payload: "email=a%40example.jp&password=x",
    });
    assert.equal(r.statusCode, 403);
    isPage(r);
  });

  it("next= never leaves the shop", async () => {
    for (const next of ["//evil.example/", "https://evil.example/", "/\\evil.example"]) {
      const r = await shop.inject({ method: "GET", url: `/signin?next=${encodeURIComponent(next)}` });
      assert.match(r.body, /name="next" value="\/"/, next);
    }
  });

  it("signed-in pages without a session, or with an ended one, send the browser to sign in", async () => {
    const none = await shop.inject({ method: "GET", url: "/orders" });
    assert.equal(none.statusCode, 303);
    assert.equal(none.headers.location, "/signin?next=%2Forders");
    const ended = await shop.inject({
      method: "POST",
      url: "/checkout",
      headers: { cookie: "shop_session=mms_ended" },
    });
    assert.equal(ended.statusCode, 303);
    assert.match(String(ended.headers["set-cookie"]), /shop_session=; Path=\/; HttpOnly; SameSite=Lax; Max-Age=0/);
  });

  it("an unsigned webhook is refused (400), and nothing is applied", async () => {
    const r = await shop.inject({
      method: "POST",
      url: "/mamori/webhooks",
      headers: { "content-type": "application/json" },
      payload: JSON.stringify({ type: "order.cancelled", data: { objectId: "o1" } }),
    });
    assert.equal(r.statusCode, 400);
    assert.equal(r.json().error.code, "webhook_headers");
  });

  it("with Mamori unreachable, a signed-in page is a 503 page, and the session cookie is kept", async () => {
    const r = await down.inject({ method: "GET", url: "/orders", headers: { cookie: "shop_session=mms_live" } });
    assert.equal(r.statusCode, 503);
    isPage(r);
    assert.doesNotMatch(String(r.headers["set-cookie"] ?? ""), /shop_session=;/);
    const signin = await down.inject({
      method: "POST",
      url: "/signin",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "email=a%40example.jp&password=x",
    });
    assert.equal(signin.statusCode, 503);
    isPage(signin);
  });
});
