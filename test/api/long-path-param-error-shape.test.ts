import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

/**
 * Issue 16: a path parameter over the router's limit (100 characters) was answered by Fastify's default body,
 * `{"error":"Bad Request","code":"FST_ERR_MAX_PARAM_LENGTH",…}` — another shape than every other error, and one that
 * named the framework. Every 4xx is `{error:{code,message}}`: 413, 414 and 415 included.
 */
describe("long-path-param-error-shape", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const shaped = (r: { statusCode: number; body: string }, status: number, code: string) => {
    assert.equal(r.statusCode, status, r.body);
    const body = JSON.parse(r.body);
    assert.deepEqual(Object.keys(body), ["error"]);
    assert.equal(body.error.code, code);
    assert.equal(typeof body.error.message, "string");
    assert.doesNotMatch(r.body, /FST_|fastify/i);
  };
  const auth = () => ({ authorization: `Bearer ${t.apiKey}` });

  it("a 101-character and a 10,000-character path parameter: 414 uri_too_long", async () => {
    for (const n of [101, 10_000]) {
      const r = await t.app.http.inject({ method: "DELETE", url: `/v1/sessions/${"a".repeat(n)}`, headers: auth() });
      shaped(r, 414, "uri_too_long");
    }
  });

  it("a link page with a long path parameter gets a page, not JSON", async () => {
    const r = await t.app.http.inject({
      method: "GET",
      url: `/links/${"a".repeat(500)}`,
      headers: { accept: "text/html" },
    });
    assert.ok(r.statusCode >= 400 && r.statusCode < 500, String(r.statusCode));
    assert.match(String(r.headers["content-type"]), /text\/html/);
  });

  it("413 for a body over the limit, 415 for a type that is not JSON", async () => {
    const big = await t.app.http.inject({
      method: "POST",
      url: "/v1/sign-in",
      headers: { ...auth(), "content-type": "application/json" },
      payload: JSON.stringify({ pad: "a".repeat(100_000) }),
    });
    shaped(big, 413, "payload_too_large");
    const xml = await t.app.http.inject({
      method: "POST",
      url: "/v1/sign-in",
      headers: { ...auth(), "content-type": "application/xml" },
      payload: "<signin/>",
    });
    shaped(xml, 415, "unsupported_media_type");
  });
});
