import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";
import { FACTOR_CHANGED, SECURITY_WEBHOOKS } from "../../src/webhooks/security.ts";

// A store's developer reads what Mamori will POST to them from the spec: every security event type Mamori can send is
// named there (OpenAPI 3.1 `webhooks`), from the same mapping that sends them.
describe("spec-lists-webhook-types", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("the OpenAPI document's webhooks name every security type and the commerce actions", async () => {
    const doc = (await t.call("GET", "/openapi.json")).json();
    const types = (name: string): string[] =>
      doc.webhooks?.[name]?.post?.requestBody?.content?.["application/json"]?.schema?.properties?.type?.enum ?? [];
    for (const type of new Set([...Object.values(SECURITY_WEBHOOKS), FACTOR_CHANGED]))
      assert.ok(types("securityEvent").includes(type), type);
    for (const type of ["order.cancelled", "gift_card.voided", "listing.taken_down"]) {
      assert.ok(types("commerceAction").includes(type), type);
    }
  });
});
