import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RequestContext } from "../../src/shared/context.ts";
import { makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";
import { shopper } from "../commerce/helpers.ts";

/**
 * Issue 16: statuses the API really gives were missing from /openapi.json (signIn 423 account_frozen, redeemGiftCard
 * 409 redemption_held, …), so a generated client had no type for them. Each case here provokes the real error through
 * the API and checks that the document declares that status for the operation, with that code among its examples.
 */
describe("spec-declares-real-statuses", () => {
  let t: TestApp;
  let doc: { paths: Record<string, Record<string, Op>> };
  type Op = { operationId: string; responses: Record<string, { content?: Record<string, { examples?: object }> }> };
  const HOME: RequestContext = { ...TOKYO, ip: "153.150.10.21", deviceId: "declared-home-pc" };
  const PROXY: RequestContext = {
    ip: "126.10.44.6",
    userAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    deviceId: "declared-stranger-phone",
    channel: "web",
  };
  const suffix = Math.random().toString(36).slice(2, 8);

  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
    doc = (await t.app.http.inject({ method: "GET", url: "/openapi.json" })).json();
  });
  after(() => t.close());

  /** The answer is the error `code` with `status`, and the document declares both for `operationId`. */
  function declared(operationId: string, r: { statusCode: number; body: string }, status: number, code: string) {
    assert.equal(r.statusCode, status, `${operationId}: ${r.body}`);
    assert.equal(JSON.parse(r.body).error.code, code, operationId);
    const op = Object.values(doc.paths)
      .flatMap((m) => Object.values(m))
      .find((o) => o.operationId === operationId);
    assert.ok(op, `${operationId} is not in the document`);
    const response = op.responses[String(status)];
    assert.ok(response, `${operationId} does not declare ${status}`);
    const examples = Object.keys(response.content?.["application/json"]?.examples ?? {});
    assert.ok(examples.includes(code), `${operationId} ${status} does not name ${code} (names ${examples})`);
  }

  it("signIn: 401 invalid_credentials, then 423 account_frozen once support locked the account down", async () => {
    const email = `declared-${suffix}@example.jp`;
    const owner = await t.signUp(email, STRONG, HOME);
    t.clock.advance(86_400_000);
    declared(
      "signIn",
      await t.call("POST", "/v1/sign-in", { email, password: "wrong password entirely 11", context: HOME }),
      401,
      "invalid_credentials",
    );
    const admin = await t.adminToken();
    const lock = await t.call(
      "POST",
      `/v1/admin/accounts/${owner.accountId}/lockdown`,
      { reason: "owner phoned: not their order" },
      { auth: admin },
    );
    assert.equal(lock.statusCode, 200, lock.body);
    declared(
      "signIn",
      await t.call("POST", "/v1/sign-in", { email, password: STRONG, context: HOME }),
      423,
      "account_frozen",
    );
  });

  it("redeemGiftCard: 409 redemption_held for a stranger's account minutes after delivery", async () => {
    const friend = await shopper(t, `declared-friend-${suffix}@example.jp`);
    const recipient = `declared-recipient-${suffix}@example.jp`;
    await t.signUp(recipient, STRONG, HOME);
    t.clock.advance(86_400_000);
    const order = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [
          { category: "gift_card", sku: "gc", title: "Gift", quantity: 1, unitPrice: 5000, recipientEmail: recipient },
        ],
        payment: { method: "instrument", instrumentId: friend.instrumentId },
      },
      { session: friend.token },
    );
    assert.equal(order.statusCode, 201, order.body);
    const code = (await t.lastMail(recipient, "gift_card_delivered"))?.body.match(
      /[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/,
    )?.[0];
    assert.ok(code);
    t.clock.advance(5 * 60_000);
    const stranger = await t.signUp(`declared-stranger-${suffix}@example.net`, STRONG, PROXY);
    declared(
      "redeemGiftCard",
      await t.call("POST", "/v1/commerce/gift-cards/redeem", { code }, { session: stranger.token }),
      409,
      "redemption_held",
    );
  });

  it("getOrder 404 order_not_found, revokeSession 404 session_not_found, signOut 401 session_invalid", async () => {
    const u = await t.signUp(`declared-shopper-${suffix}@example.jp`, STRONG, HOME);
    declared(
      "getOrder",
      await t.call("GET", "/v1/commerce/orders/0193b6f2-7c4e-7a51-9d2e-3f8a6b1c2d40", undefined, { session: u.token }),
      404,
      "order_not_found",
    );
    declared(
      "revokeSession",
      await t.call("DELETE", "/v1/sessions/0193b6f2-7c4e-7a51-9d2e-3f8a6b1c2d40", undefined, { session: u.token }),
      404,
      "session_not_found",
    );
    declared(
      "signOut",
      await t.call("POST", "/v1/session/sign-out", undefined, { session: `mms_${"x".repeat(43)}` }),
      401,
      "session_invalid",
    );
  });

  it("createAccount 413 payload_too_large and signIn 415 unsupported_media_type, Fastify's own refusals", async () => {
    const auth = { authorization: `Bearer ${t.apiKey}` };
    declared(
      "createAccount",
      await t.app.http.inject({
        method: "POST",
        url: "/v1/accounts",
        headers: { ...auth, "content-type": "application/json" },
        payload: JSON.stringify({ pad: "a".repeat(100_000) }),
      }),
      413,
      "payload_too_large",
    );
    declared(
      "signIn",
      await t.app.http.inject({
        method: "POST",
        url: "/v1/sign-in",
        headers: { ...auth, "content-type": "application/xml" },
        payload: "<signin/>",
      }),
      415,
      "unsupported_media_type",
    );
  });
});
