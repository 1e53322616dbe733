import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";
import { type RawAnswer, rawRequest } from "../../src/testing/raw-http.ts";

/**
 * Issue 16: a 10 MB body got a closed socket instead of an answer. Fastify refuses it at once and closes the
 * connection while the client is still sending; a client that reads only after writing its whole request (a blocking
 * client, `curl -T`) then meets a reset socket (EPIPE) and never sees the 413. Mamori reads and discards the rest of
 * the refused body, then answers `413 {error:{code:"payload_too_large",message}}`.
 */
describe("oversized-body-error-shape", () => {
  let t: TestApp;
  let port: number;
  before(async () => {
    t = await makeTestApp();
    await t.app.http.listen({ port: 0, host: "127.0.0.1" });
    port = (t.app.http.server.address() as { port: number }).port;
  });
  after(() => t.close());

  const TEN_MB = Buffer.alloc(10 * 1024 * 1024, "a");
  const shaped = (r: RawAnswer, status: number, code: string) => {
    assert.equal(r.status, status, r.body);
    const body = JSON.parse(r.body);
    assert.deepEqual(Object.keys(body), ["error"]);
    assert.equal(body.error.code, code);
    assert.equal(typeof body.error.message, "string");
    assert.doesNotMatch(r.body, /FST_|fastify/i);
  };

  it("a 10 MB JSON body, with a length or chunked, gets a readable 413 in Mamori's error shape", async () => {
    for (const chunked of [false, true]) {
      const r = await rawRequest(port, {
        method: "POST",
        path: "/v1/sign-in",
        headers: { authorization: `Bearer ${t.apiKey}`, "content-type": "application/json" },
        body: TEN_MB,
        chunked,
      });
      shaped(r, 413, "payload_too_large");
    }
  });

  it("a body just over 64 KiB gets the same answer, and the service keeps answering afterwards", async () => {
    const r = await rawRequest(port, {
      method: "POST",
      path: "/v1/accounts",
      headers: { authorization: `Bearer ${t.apiKey}`, "content-type": "application/json" },
      body: Buffer.from(JSON.stringify({ pad: "a".repeat(64 * 1024) })),
    });
    shaped(r, 413, "payload_too_large");
    const health = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(health.status, 200);
  });

  it("the OpenAPI document declares 413 payload_too_large on operations that take a body", async () => {
    const doc = (await t.app.http.inject({ method: "GET", url: "/openapi.json" })).json();
    const op = doc.paths["/v1/sign-in"].post;
    assert.ok(op.responses["413"], "signIn declares no 413");
    assert.match(JSON.stringify(op.responses["413"]), /payload_too_large/);
  });
});
