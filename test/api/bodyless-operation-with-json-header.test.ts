import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

/**
 * Issue 16: generated clients (and fetch wrappers) send `content-type: application/json` on every call. An operation
 * that takes no body answered them `400 Body cannot be empty when content-type is set to 'application/json'`, so a
 * store's "sign out" silently failed. An empty body is no body, whatever the content type says.
 */
describe("bodyless-operation-with-json-header", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("signOut with a JSON content type and no body ends the session", async () => {
    const { token } = await t.signUp("bodyless@example.jp");
    const out = await t.app.http.inject({
      method: "POST",
      url: "/v1/session/sign-out",
      headers: { authorization: `Bearer ${t.apiKey}`, "x-mamori-session": token, "content-type": "application/json" },
    });
    assert.equal(out.statusCode, 200, out.body);
    const check = await t.call("POST", "/v1/sessions/introspect", { token });
    assert.equal(check.json().active, false);
  });

  it("every operation without a request body accepts an empty body under any content type", async () => {
    const doc = (await t.app.http.inject({ method: "GET", url: "/openapi.json" })).json();
    const { token } = await t.signUp("bodyless-all@example.jp");
    let checked = 0;
    for (const [path, methods] of Object.entries(
      doc.paths as Record<string, Record<string, { requestBody?: unknown }>>,
    )) {
      for (const [method, op] of Object.entries(methods)) {
        if (op.requestBody || method === "get") continue;
        for (const type of ["application/json", "text/plain", "application/octet-stream"]) {
          const r = await t.app.http.inject({
            method: method.toUpperCase() as "POST",
            url: path.replace(/\{[^}]+\}/g, "x"),
            headers: { authorization: `Bearer ${t.apiKey}`, "x-mamori-session": token, "content-type": type },
          });
          const where = `${method.toUpperCase()} ${path} (${type}): ${r.statusCode} ${r.body}`;
          assert.notEqual(r.statusCode, 415, where);
          assert.ok(r.statusCode < 500, where);
          assert.doesNotMatch(r.body, /[Bb]ody/, where);
          checked++;
        }
      }
    }
    assert.ok(checked >= 9, `only ${checked} calls: the OpenAPI document lost its bodyless operations?`);
  });
});
