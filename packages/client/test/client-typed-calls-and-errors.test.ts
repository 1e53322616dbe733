import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { makeTestApp, STRONG, type TestApp, TOKYO } from "../../../src/testing/app.ts";
import {
  createMamoriClient,
  ERRORS,
  type ErrorBody,
  type ErrorCode,
  isMamoriError,
  MamoriApiError,
  type MamoriClient,
  unwrap,
} from "../src/index.ts";

// The codes the client types (from the error catalog) are exactly the ones the API document's Error schema lists:
// this line does not compile when the two differ.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const codesMatchTheSpec: Same<ErrorCode, ErrorBody["error"]["code"]> = true;

// A store's backend on @mamori/client against a real Mamori over HTTP: the calls and answers are the API's own types,
// a refusal is a MamoriApiError whose code is one of the catalog's, and a session signed out through the client is
// refused at once by introspection (a stolen token stops working the moment its owner signs out).
describe("@mamori/client against a running Mamori", () => {
  let t: TestApp;
  let mamori: MamoriClient;
  let baseUrl = "";
  before(async () => {
    t = await makeTestApp();
    await t.app.http.listen({ port: 0, host: "127.0.0.1" });
    const { port } = t.app.http.server.address() as AddressInfo;
    baseUrl = `http://127.0.0.1:${port}/`;
    mamori = createMamoriClient({ baseUrl, apiKey: t.apiKey });
  });
  after(() => t.close());

  it("signs in, introspects, signs out: a signed-out token is inactive at once", async () => {
    const email = `sdk-${Date.now().toString(36)}@example.jp`;
    await t.signUp(email);
    const signedIn = await unwrap(mamori.POST("/v1/sign-in", { body: { email, password: STRONG, context: TOKYO } }));
    assert.equal(signedIn.status, "signed_in");
    if (signedIn.status !== "signed_in") return;
    const token = signedIn.session.token;

    const live = await unwrap(mamori.POST("/v1/sessions/introspect", { body: { token } }));
    assert.equal(live.active, true);
    assert.equal(live.accountId, signedIn.accountId);

    const sessions = await unwrap(mamori.GET("/v1/sessions", { params: { header: { "x-mamori-session": token } } }));
    assert.ok(Array.isArray(sessions.sessions) && sessions.sessions.length >= 1);

    await unwrap(mamori.POST("/v1/session/sign-out", { params: { header: { "x-mamori-session": token } } }));
    const ended = await unwrap(mamori.POST("/v1/sessions/introspect", { body: { token } }));
    assert.equal(ended.active, false);
  });

  it("a refusal is a MamoriApiError with the catalog's code and status", async () => {
    const email = `sdk-wrong-${Date.now().toString(36)}@example.jp`;
    await t.signUp(email);
    const answer = await mamori.POST("/v1/sign-in", {
      body: { email, password: "not the password at all 123", context: TOKYO },
    });
    assert.equal(answer.response.status, 401);
    assert.equal(answer.error?.error.code, "invalid_credentials");
    assert.ok(codesMatchTheSpec);

    const thrown = await unwrap(
      mamori.POST("/v1/sign-in", { body: { email, password: "still not the password 456", context: TOKYO } }),
    ).then(
      () => assert.fail("a wrong password signed in"),
      (e: unknown) => e,
    );
    assert.ok(thrown instanceof MamoriApiError);
    assert.ok(isMamoriError(thrown, "invalid_credentials"));
    assert.equal(thrown.status, ERRORS.invalid_credentials.status);
    assert.equal(isMamoriError(thrown, "account_frozen"), false);

    const noKey = createMamoriClient({ baseUrl, retries: 0 });
    const refused = await unwrap(noKey.GET("/v1/webhooks/endpoints")).catch((e: unknown) => e);
    assert.ok(isMamoriError(refused));
    assert.equal(refused.status, 401);
  });
});
