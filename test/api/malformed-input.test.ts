import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { makeTestApp, type TestApp } from "../../src/testing/app.ts";

/** Every operation of the API, from the OpenAPI document itself, so a new route is fuzzed without edits here. */
async function routes(t: TestApp): Promise<{ method: string; path: string; op: any }[]> {
  const doc = (await t.app.http.inject({ method: "GET", url: "/openapi.json" })).json();
  components = doc.components?.schemas ?? {};
  const out = [];
  for (const [path, methods] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
    for (const [method, op] of Object.entries(methods)) out.push({ method: method.toUpperCase(), path, op });
  }
  return out;
}

/** The document's named schemas, which operations point at with `$ref` (RequestContext, …). */
let components: Record<string, any> = {};

/** A value shaped roughly like a JSON schema, or deliberately wrong. */
function arb(schema: any, depth = 0): fc.Arbitrary<unknown> {
  if (typeof schema?.$ref === "string") schema = components[schema.$ref.replace("#/components/schemas/", "")];
  const wrong = fc.oneof(
    fc.constant(null),
    fc.integer(),
    fc.string({ maxLength: 20 }),
    fc.boolean(),
    fc.array(fc.integer(), { maxLength: 3 }),
  );
  if (!schema || depth > 4) return wrong;
  if (schema.anyOf || schema.oneOf)
    return fc.oneof(...(schema.anyOf ?? schema.oneOf).map((s: any) => arb(s, depth + 1)), wrong);
  if (schema.const !== undefined) return fc.oneof(fc.constant(schema.const), wrong);
  if (schema.enum) return fc.oneof(fc.constantFrom(...schema.enum), wrong);
  switch (schema.type) {
    case "string":
      return fc.oneof(
        fc.string({ maxLength: (schema.maxLength ?? 40) + 5 }),
        fc.constantFrom(
          "",
          "a@b.co",
          "x".repeat(300),
          "1.2.3.4",
          "::1",
          "+81901234567",
          "../../etc/passwd",
          "\u0000",
          "😀",
          "' or 1=1 --",
          `mms_${"A".repeat(43)}`,
        ),
        wrong,
      );
    case "integer":
    case "number":
      return fc.oneof(fc.integer(), fc.double(), wrong);
    case "boolean":
      return fc.oneof(fc.boolean(), wrong);
    case "array":
      return fc.oneof(fc.array(arb(schema.items, depth + 1), { maxLength: 3 }), wrong);
    case "object": {
      const props = Object.entries(schema.properties ?? {}).map(
        ([k, v]) => [k, fc.option(arb(v, depth + 1), { nil: undefined })] as const,
      );
      return fc.oneof(
        fc
          .record(Object.fromEntries(props))
          .map((o) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined))),
        fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 4 }),
        wrong,
      );
    }
    default:
      return fc.jsonValue();
  }
}

describe("malformed input never gets a 5xx", () => {
  let t: TestApp;
  let session: string;
  before(async () => {
    t = await makeTestApp();
    session = (await t.signUp("fuzz@example.jp")).token;
  });
  after(() => t.close());

  it("every operation answers a missing or broken body with 400 and a code", async () => {
    for (const r of await routes(t)) {
      if (r.method === "GET" || !r.op.requestBody) continue;
      const url = r.path.replace(/\{[^}]+\}/g, "x");
      for (const payload of ["{not json", "[]", '"str"', "null"]) {
        const res = await t.app.http.inject({
          method: r.method as "POST",
          url,
          headers: {
            authorization: `Bearer ${t.apiKey}`,
            "x-mamori-session": session,
            "content-type": "application/json",
          },
          payload,
        });
        assert.ok(
          res.statusCode >= 400 && res.statusCode < 500,
          `${r.method} ${url} ${payload} → ${res.statusCode} ${res.body}`,
        );
        const body = res.json();
        assert.equal(typeof body.error?.code, "string", `${r.method} ${url}: ${res.body}`);
      }
    }
  });

  it("a NUL character (which PostgreSQL cannot store) is refused with 400 everywhere", async () => {
    const cases = [
      { method: "POST" as const, url: "/v1/admin/sign-in", payload: { username: "\u0000", password: "x" } },
      {
        method: "POST" as const,
        url: "/v1/sign-in",
        payload: { email: "a\u0000@b.co", password: "x", context: { ip: "1.1.1.1", userAgent: "x", channel: "web" } },
      },
      { method: "GET" as const, url: "/v1/admin/accounts?q=ab%00cd" },
    ];
    for (const c of cases) {
      const res = await t.app.http.inject({ ...c, headers: { authorization: `Bearer ${t.apiKey}` } });
      assert.equal(res.statusCode, 400, `${c.url}: ${res.body}`);
      assert.equal(res.json().error.code, "invalid_request");
    }
    const form = await t.app.http.inject({
      method: "POST",
      url: "/links/not-me",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      payload: "t=a%00b",
    });
    assert.equal(form.statusCode, 400);
  });

  it("a __proto__ key is refused with 400, written plainly or with \\u escapes; so are empty and invalid JSON", async () => {
    const assess = (payload: string) =>
      t.app.http.inject({
        method: "POST",
        url: "/v1/risk/assess",
        headers: { authorization: `Bearer ${t.apiKey}`, "content-type": "application/json" },
        payload,
      });
    const ctx = '"context":{"ip":"1.1.1.1","userAgent":"x","channel":"web"}';
    // `data` takes any key of this shape with a scalar value, so only the parser's poisoning check stops these.
    for (const key of ["__proto__", "\\u005f_proto__", "__pr\\u006fto__"]) {
      const res = await assess(`{"type":"login","data":{"${key}":1},${ctx}}`);
      assert.equal(res.statusCode, 400, `${key}: ${res.body}`);
      assert.equal(res.json().error.code, "invalid_request", key);
    }
    for (const payload of ["", '{"type":"login",', "\ufeff{"]) {
      const res = await assess(payload);
      assert.equal(res.statusCode, 400, `${JSON.stringify(payload)}: ${res.body}`);
      assert.equal(typeof res.json().error?.code, "string");
    }
    // The same words inside a value are data, not keys.
    const ok = await assess(
      '{"type":"login","data":{"note":"constructor __proto__"},"context":{"ip":"1.1.1.1","userAgent":"x","channel":"web"}}',
    );
    assert.equal(ok.statusCode, 200, ok.body);
  });

  it("property: random bodies on every operation give no 5xx", async () => {
    const all = await routes(t);
    for (const r of all) {
      const schema = r.op.requestBody?.content?.["application/json"]?.schema;
      const url = r.path.replace(/\{[^}]+\}/g, "abc");
      await fc.assert(
        fc.asyncProperty(
          arb(schema ?? { type: "object" }),
          fc.boolean(),
          fc.string({ maxLength: 30 }),
          async (body, withSession, q) => {
            const res = await t.app.http.inject({
              method: r.method as "POST",
              url:
                r.method === "GET"
                  ? `${url}?q=${encodeURIComponent(q)}&limit=${encodeURIComponent(q)}&t=${encodeURIComponent(q)}`
                  : url,
              headers: {
                authorization: `Bearer ${t.apiKey}`,
                ...(withSession ? { "x-mamori-session": session } : {}),
              },
              ...(r.method === "GET" ? {} : { payload: body as object }),
            });
            if (res.statusCode >= 500)
              throw new Error(`${r.method} ${url} ${JSON.stringify(body)} → ${res.statusCode} ${res.body}`);
          },
        ),
        { numRuns: 40 },
      );
    }
  });
});
