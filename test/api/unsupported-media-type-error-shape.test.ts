import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";
import { rawRequest } from "../../src/testing/raw-http.ts";

/**
 * Issue 16: every 4xx has Mamori's `{error:{code,message}}` shape, Fastify's own 415 included. A body that is not
 * JSON (XML, a form post to the API, plain text) is `415 unsupported_media_type` at its first byte — a large one too,
 * answered readably rather than with a reset socket — while an empty body under any type stays "no body".
 */
describe("unsupported-media-type-error-shape", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const shaped = (r: { statusCode: number; body: string }, where: string) => {
    assert.equal(r.statusCode, 415, `${where}: ${r.body}`);
    const body = JSON.parse(r.body);
    assert.deepEqual(Object.keys(body), ["error"]);
    assert.equal(body.error.code, "unsupported_media_type");
    assert.equal(typeof body.error.message, "string");
    assert.doesNotMatch(r.body, /FST_|fastify/i);
  };

  it("XML, plain text, multipart and an unnamed binary body on an operation that takes JSON: 415", async () => {
    const cases: [string, string][] = [
      ["application/xml", "<signin><email>a@example.jp</email></signin>"],
      ["text/plain", '{"email":"a@example.jp"}'],
      ["multipart/form-data; boundary=x", '--x\r\ncontent-disposition: form-data; name="email"\r\n\r\na\r\n--x--'],
      ["application/octet-stream", "\u0001\u0002"],
    ];
    for (const [type, payload] of cases) {
      const r = await t.app.http.inject({
        method: "POST",
        url: "/v1/sign-in",
        headers: { authorization: `Bearer ${t.apiKey}`, "content-type": type },
        payload,
      });
      shaped(r, type);
    }
  });

  it("a 10 MB XML body gets a readable 415 from a client that reads only after writing", async () => {
    await t.app.http.listen({ port: 0, host: "127.0.0.1" });
    const port = (t.app.http.server.address() as { port: number }).port;
    for (const chunked of [false, true]) {
      const r = await rawRequest(port, {
        method: "POST",
        path: "/v1/sign-in",
        headers: { authorization: `Bearer ${t.apiKey}`, "content-type": "application/xml" },
        body: Buffer.alloc(10 * 1024 * 1024, "<"),
        chunked,
      });
      shaped({ statusCode: r.status, body: r.body }, `chunked=${chunked}`);
    }
  });

  it("the OpenAPI document declares 415 unsupported_media_type on operations that take a body", async () => {
    const doc = (await t.app.http.inject({ method: "GET", url: "/openapi.json" })).json();
    const op = doc.paths["/v1/sign-in"].post;
    assert.ok(op.responses["415"], "signIn declares no 415");
    assert.match(JSON.stringify(op.responses["415"]), /unsupported_media_type/);
  });
});
