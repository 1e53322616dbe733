import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

// Querystrings are text: `?limit=5` must reach the handler as 5. Bodies are JSON: "5" is not a number.
describe("querystring-coercion", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("coerces query parameters to their schema, refuses what does not fit, never coerces bodies", async () => {
    const admin = await t.adminToken();
    const a = await t.signUp("query@example.jp");
    const ok = await t.call("GET", `/v1/admin/accounts/${a.accountId}/timeline?limit=1`, undefined, { auth: admin });
    assert.equal(ok.statusCode, 200, ok.body);
    assert.equal(ok.json().events.length, 1);
    const bad = await t.call("GET", `/v1/admin/accounts/${a.accountId}/timeline?limit=abc`, undefined, {
      auth: admin,
    });
    assert.equal(bad.statusCode, 400);
    assert.equal(bad.json().error.code, "invalid_request");
    assert.equal((await t.call("GET", "/v1/admin/cases?limit=2", undefined, { auth: admin })).statusCode, 200);
    const body = await t.call(
      "POST",
      "/v1/commerce/orders",
      { items: [{ category: "digital", sku: "x", title: "x", quantity: "1", unitPrice: 100 }] },
      { session: a.token },
    );
    assert.equal(body.statusCode, 400);
    assert.equal(body.json().error.code, "invalid_request");
  });
});
