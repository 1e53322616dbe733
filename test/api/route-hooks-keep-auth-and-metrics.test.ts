import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, requestCount, type TestApp } from "../../src/testing/app.ts";

/**
 * The store-key check, `cache-control: no-store` on the API and the request metrics are each route's own hooks, built
 * when the route is added (api/http.ts), and the not-found handler's are separate. A route left without them would
 * answer without the key; one given them twice (the HEAD twin of a GET) would count its requests twice.
 */
describe("route-hooks-keep-auth-and-metrics", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  const count = (operation: string, status: number) => requestCount(t, operation, status);

  it("introspection refuses a missing or wrong key, answers with the key, never cached, and each is counted once", async () => {
    const { token } = await t.signUp("route-hooks@example.jp");
    const [ok0, refused0] = [await count("introspectSession", 200), await count("introspectSession", 401)];
    const none = await t.call("POST", "/v1/sessions/introspect", { token }, { auth: null });
    assert.equal(none.statusCode, 401, none.body);
    assert.equal(none.json().error.code, "unauthorized");
    const wrong = await t.call("POST", "/v1/sessions/introspect", { token }, { auth: "mk_not-a-key" });
    assert.equal(wrong.statusCode, 401, wrong.body);
    const r = await t.call("POST", "/v1/sessions/introspect", { token });
    assert.equal(r.statusCode, 200, r.body);
    assert.equal(r.json().active, true);
    assert.equal(r.headers["cache-control"], "no-store");
    assert.equal(await count("introspectSession", 200), ok0 + 1);
    assert.equal(await count("introspectSession", 401), refused0 + 2);
  });

  it("an unknown API path: 404 not_found, not cached, counted as other; with a NUL escape, 400 invalid_request", async () => {
    const before404 = await count("other", 404);
    const r = await t.app.http.inject({ method: "GET", url: "/v1/no-such-operation" });
    assert.equal(r.statusCode, 404, r.body);
    assert.equal(r.json().error.code, "not_found");
    assert.equal(r.headers["cache-control"], "no-store");
    assert.equal(await count("other", 404), before404 + 1);
    const nul = await t.app.http.inject({ method: "GET", url: "/v1/no-such%00operation" });
    assert.equal(nul.statusCode, 400, nul.body);
    assert.equal(nul.json().error.code, "invalid_request");
  });

  it("a public GET and its HEAD twin: no key asked, not marked no-store off the API, one count each", async () => {
    const before = await count("health", 200);
    const get = await t.app.http.inject({ method: "GET", url: "/health" });
    assert.equal(get.statusCode, 200, get.body);
    assert.equal(get.headers["cache-control"], undefined);
    const head = await t.app.http.inject({ method: "HEAD", url: "/health" });
    assert.equal(head.statusCode, 200);
    assert.equal(await count("health", 200), before + 2);
  });
});
