import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createMamoriClient, isIdempotent } from "../src/index.ts";

// A retried "place order" whose first answer was lost places a second order (a retried sign-in counts twice against
// the account's lockout): the client retries only operations a repeat cannot change — GET/HEAD/PUT/DELETE and the
// read-only introspectSession — and only after a network error or a 502/503/504.
describe("@mamori/client retries", () => {
  // a Mamori whose first `failures` answers are `fail` (a status, or "network" for a refused connection)
  function flaky(failures: number, fail: number | "network", retryAfter?: string) {
    const seen: string[] = [];
    const fetch = async (r: Request) => {
      seen.push(`${r.method} ${new URL(r.url).pathname} ${r.method === "GET" ? "" : await r.text()}`.trim());
      if (seen.length <= failures) {
        if (fail === "network") throw new TypeError("fetch failed");
        return new Response(JSON.stringify({ error: { code: "unavailable", message: "down" } }), {
          status: fail,
          headers: { "content-type": "application/json", ...(retryAfter ? { "retry-after": retryAfter } : {}) },
        });
      }
      return Response.json({ active: true, sessions: [], orders: [] });
    };
    const client = createMamoriClient({
      baseUrl: "http://mamori.test",
      apiKey: "mk_test",
      fetch,
      retryDelayMs: () => 1,
    });
    return { client, seen };
  }
  const order = {
    items: [{ category: "digital" as const, sku: "e", title: "E-book", quantity: 1, unitPrice: 900 }],
  };
  const session = { header: { "x-mamori-session": "s" } };

  it("never retries placeOrder, on a 503 or a network error: one request, the failure to the caller", async () => {
    const a = flaky(1, 503);
    const r = await a.client.POST("/v1/commerce/orders", { params: session, body: order } as never);
    assert.equal(r.response.status, 503);
    assert.equal(a.seen.length, 1);

    const b = flaky(1, "network");
    await assert.rejects(b.client.POST("/v1/commerce/orders", { params: session, body: order } as never), TypeError);
    assert.equal(b.seen.length, 1);
  });

  it("retries a read (GET) and introspectSession, sending the same body again", async () => {
    const a = flaky(2, 503);
    const r = await a.client.GET("/v1/sessions", { params: session });
    assert.equal(r.response.status, 200);
    assert.equal(a.seen.length, 3);

    const b = flaky(1, "network");
    const i = await b.client.POST("/v1/sessions/introspect", { body: { token: "t1" } });
    assert.equal(i.data?.active, true);
    assert.deepEqual(b.seen, [
      'POST /v1/sessions/introspect {"token":"t1"}',
      'POST /v1/sessions/introspect {"token":"t1"}',
    ]);
  });

  it("gives up after the retries, on a client error at once, and on a Retry-After longer than allowed", async () => {
    const a = flaky(5, 502);
    assert.equal((await a.client.GET("/v1/sessions", { params: session })).response.status, 502);
    assert.equal(a.seen.length, 3); // the first try and 2 retries

    const b = flaky(5, 429);
    assert.equal((await b.client.GET("/v1/sessions", { params: session })).response.status, 429);
    assert.equal(b.seen.length, 1);

    const c = flaky(5, 503, "3600");
    assert.equal((await c.client.GET("/v1/sessions", { params: session })).response.status, 503);
    assert.equal(c.seen.length, 1);
  });

  it("classifies by method and path", () => {
    assert.equal(isIdempotent("GET", "/v1/commerce/orders"), true);
    assert.equal(isIdempotent("DELETE", "/v1/sessions/abc"), true);
    assert.equal(isIdempotent("POST", "/v1/sessions/introspect"), true);
    for (const p of ["/v1/sign-in", "/v1/commerce/orders", "/v1/commerce/gift-cards/redeem", "/v1/risk/assess"])
      assert.equal(isIdempotent("POST", p), false, p);
  });
});
