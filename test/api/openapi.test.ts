import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { errorCatalog } from "../../src/shared/errors.ts";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

export const REQUIRED_OPERATIONS = [
  "createAccount",
  "signIn",
  "completeSignInChallenge",
  "signOut",
  "introspectSession",
  "listSessions",
  "revokeSession",
  "signOutEverywhere",
  "changePassword",
  "requestPasswordReset",
  "resetPassword",
  "requestEmailChange",
  "confirmEmailChange",
  "revertEmailChange",
  "enrollTotp",
  "confirmTotp",
  "disableTotp",
  "regenerateRecoveryCodes",
  "createAppPassword",
  "listAppPasswords",
  "revokeAppPassword",
  "signInWithAppPassword",
  "listLoginHistory",
  "findAccounts",
  "getAccountTimeline",
  "reportNotMe",
  "health",
];

describe("openapi.json", () => {
  let t: TestApp;
  before(async () => {
    t = await makeTestApp();
  });
  after(() => t.close());

  it("is OpenAPI 3.1 and lists every required operation with its request and response schemas", async () => {
    const r = await t.app.http.inject({ method: "GET", url: "/openapi.json" });
    assert.equal(r.statusCode, 200);
    const doc = r.json();
    assert.equal(doc.openapi, "3.1.0");
    const ops = new Map<string, { requestBody?: unknown; responses: Record<string, { content?: unknown }> }>();
    for (const methods of Object.values(doc.paths as Record<string, Record<string, { operationId?: string }>>)) {
      for (const op of Object.values(methods)) if (op.operationId) ops.set(op.operationId, op as never);
    }
    for (const id of REQUIRED_OPERATIONS) {
      const op = ops.get(id);
      assert.ok(op, `operation ${id} missing`);
      const ok = Object.entries(op.responses).find(([s]) => s.startsWith("2"));
      assert.ok(ok?.[1].content, `${id} has no success response schema`);
      if (id !== "health") assert.ok(op.responses["400"], `${id} documents no 400`);
    }
    for (const id of ["signIn", "createAccount", "resetPassword", "completeSignInChallenge"]) {
      assert.ok(ops.get(id)?.requestBody, `${id} has no request body schema`);
    }
    assert.ok(doc.components.schemas.Error, "the error body schema is a component");
  });

  it("every body has an example, every response a description of its own, every 4xx the Error shape with its codes", async () => {
    const doc = (await t.app.http.inject({ method: "GET", url: "/openapi.json" })).json();
    const problems: string[] = [];
    type Media = { schema?: { $ref?: string }; example?: unknown; examples?: Record<string, unknown> };
    type Op = {
      operationId: string;
      requestBody?: { content: Record<string, Media> };
      responses: Record<string, { description: string; content?: Record<string, Media> }>;
    };
    for (const methods of Object.values(doc.paths as Record<string, Record<string, Op>>)) {
      for (const op of Object.values(methods)) {
        for (const m of Object.values(op.requestBody?.content ?? {}))
          if (m.example === undefined && !m.examples) problems.push(`${op.operationId}: request body without example`);
        for (const [status, r] of Object.entries(op.responses)) {
          if (r.description === "Default Response") problems.push(`${op.operationId} ${status}: "Default Response"`);
          for (const m of Object.values(r.content ?? {})) {
            if (m.example === undefined && !m.examples) problems.push(`${op.operationId} ${status}: no example`);
            if (status.startsWith("4")) {
              if (m.schema?.$ref !== "#/components/schemas/Error")
                problems.push(`${op.operationId} ${status}: not Error`);
              if (!Object.keys(m.examples ?? {}).length) problems.push(`${op.operationId} ${status}: no codes`);
            }
          }
        }
      }
    }
    assert.deepEqual(problems, []);
    const codes = doc.components.schemas.Error.properties.error.properties.code.enum as string[];
    assert.deepEqual(codes, [...errorCatalog().keys()].sort(), "Error.code is an enum of the catalog");
  });

  it("health answers without credentials", async () => {
    const r = await t.call("GET", "/health", undefined, { auth: null });
    assert.equal(r.statusCode, 200);
    assert.equal(r.json().status, "ok");
  });

  it("store endpoints refuse calls without a valid API key", async () => {
    for (const auth of [null, "mk_wrong"]) {
      const r = await t.call("POST", "/v1/sessions/introspect", { token: "x".repeat(20) }, { auth });
      assert.equal(r.statusCode, 401);
      assert.equal(r.json().error.code, "unauthorized");
    }
  });

  it("admin endpoints refuse a store key", async () => {
    const r = await t.call("GET", "/v1/admin/accounts?q=abc@example.com");
    assert.equal(r.statusCode, 401);
    assert.equal(r.json().error.code, "admin_unauthorized");
  });

  it("metrics are exposed", async () => {
    const r = await t.app.http.inject({ method: "GET", url: "/metrics" });
    assert.match(r.body, /mamori_http_requests_total/);
  });

  it("the README's API table and error catalog list every operation and every error code (docs match the code)", async () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const doc = (await t.call("GET", "/openapi.json")).json();
    const ops: string[] = [];
    for (const m of Object.values(doc.paths as Record<string, Record<string, { operationId?: string }>>)) {
      for (const op of Object.values(m)) if (op.operationId) ops.push(op.operationId);
    }
    assert.deepEqual(
      ops.filter((o) => !readme.includes(`| \`${o}\` |`)),
      [],
      "operations missing from the README",
    );
    assert.deepEqual(
      [...errorCatalog().keys()].filter((c) => !readme.includes(`| \`${c}\` |`)),
      [],
      "error codes missing from the README's catalog",
    );
  });
});
