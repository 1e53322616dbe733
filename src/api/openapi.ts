import { errorCatalog } from "../shared/errors.ts";
import type { AuthKind } from "./types.ts";

/**
 * The OpenAPI document as a client generator needs it: every error status an operation can give, with the codes
 * behind it, and an example for every request and response body.
 *
 * Routes declare the codes their own code paths raise (`errors(…)` in schemas.ts); the statuses every operation of a
 * kind can give — 400 for a malformed request, 401 for missing credentials, 413/415 for a body too large or not JSON,
 * 500, and 503 `unavailable` when the store or Redis is away (api/errors.ts, dependencyDown) — are added here from the
 * route's auth and whether it takes a body, so no route repeats them.
 */

/** The extension key carrying an error response's codes from the route schema to the finished document. */
export const CODES_KEY = "x-mamori-codes";

type Schema = Record<string, unknown>;

/** The codes any operation of this kind can give, by status, before its own code runs. */
export function commonErrorCodes(auth: AuthKind, hasBody: boolean, hasParams: boolean): Map<number, string[]> {
  const out = new Map<number, string[]>([[400, ["invalid_request"]]]);
  if (auth === "store") out.set(401, ["unauthorized"]);
  if (auth === "admin" || auth === "admin-setup") out.set(401, ["admin_unauthorized"]);
  // An admin session that still owes its setup may call only the setup routes.
  if (auth === "admin") out.set(403, ["staff_password_change_required", "staff_second_factor_required"]);
  // The router refuses a path parameter over 100 characters before the route runs.
  if (hasParams) out.set(414, ["uri_too_long"]);
  if (hasBody) {
    out.set(413, ["payload_too_large"]);
    out.set(415, ["unsupported_media_type"]);
  }
  out.set(500, ["internal_error"]);
  out.set(503, ["unavailable"]);
  return out;
}

/** An error response's schema: the Error component, described by its codes and carrying them for the examples. */
export function errorResponse(codes: readonly string[]): Schema {
  const catalog = errorCatalog();
  const sorted = [...new Set(codes)].sort();
  for (const c of sorted) if (!catalog.has(c)) throw new Error(`unknown error code ${c}`);
  return {
    $ref: "Error",
    description: sorted.map((c) => `\`${c}\`: ${catalog.get(c)?.message}`).join(" "),
    [CODES_KEY]: sorted,
  };
}

/** The codes an error response schema declares (none for a schema not built by errorResponse). */
export function codesOf(schema: unknown): string[] {
  const c = (schema as Schema | undefined)?.[CODES_KEY];
  return Array.isArray(c) ? (c as string[]) : [];
}

/**
 * Adds the statuses every operation of the route's kind can give to its declared responses (merging codes with any
 * the route declares for the same status). Runs in onRoute, before Fastify compiles the route's serializers.
 */
export function addCommonErrors(
  schema: { response?: Record<string, unknown>; body?: unknown; params?: unknown },
  auth: AuthKind,
): void {
  if (!schema.response) return;
  for (const [status, codes] of commonErrorCodes(auth, schema.body !== undefined, schema.params !== undefined)) {
    const declared = schema.response[status];
    // A route that answers this status with a body of its own (the health check's 503) keeps it.
    if (declared !== undefined && !codesOf(declared).length) continue;
    schema.response[status] = errorResponse([...codes, ...codesOf(declared)]);
  }
}

const SUCCESS: Record<string, string> = {
  "200": "OK.",
  "201": "Created.",
  "202": "Accepted: the answer is the same whatever the outcome, or the work goes on after it.",
  "204": "No content.",
};

/**
 * The finishing pass over the generated document: error responses get one example per code, success responses a description in place of "Default Response", and every request and response body an
 * example built from its schema unless it has one.
 */
export function finishDocument<T extends Schema>(doc: T): T {
  const components = ((doc.components as Schema | undefined)?.schemas ?? {}) as Record<string, Schema>;
  const catalog = errorCatalog();
  const paths = (doc.paths ?? {}) as Record<string, Record<string, Schema>>;
  for (const methods of Object.values(paths)) {
    for (const op of Object.values(methods)) {
      const body = (op.requestBody as Schema | undefined)?.content as Record<string, Schema> | undefined;
      for (const media of Object.values(body ?? {})) addExample(media, components);
      for (const [status, response] of Object.entries((op.responses ?? {}) as Record<string, Schema>)) {
        const content = response.content as Record<string, Schema> | undefined;
        // fastify-swagger keeps no extension keys on a response schema; the codes come back from the description
        // errorResponse wrote ("`code`: message …").
        const codes = Number(status) >= 400 ? codesInDescription(String(response.description ?? "")) : [];
        for (const media of Object.values(content ?? {})) {
          if (codes.length) {
            media.examples = Object.fromEntries(
              codes.map((code) => [
                code,
                { summary: code, value: { error: { code, message: catalog.get(code)?.message ?? code } } },
              ]),
            );
          } else addExample(media, components);
        }
        if (response.description === "Default Response") response.description = SUCCESS[status] ?? `Status ${status}.`;
      }
    }
  }
  return doc;
}

function codesInDescription(description: string): string[] {
  return [...description.matchAll(/`([a-z0-9_]+)`:/g)].map((m) => m[1] as string);
}

function addExample(media: Schema, components: Record<string, Schema>): void {
  if (media.example !== undefined || media.examples !== undefined || !media.schema) return;
  media.example = exampleOf(media.schema as Schema, components, "", 0);
}

const BY_NAME: [RegExp, unknown][] = [
  [/^(email|recipientEmail|identifier)$/i, "hanako@example.jp"],
  [/^ip$/i, "133.0.0.10"],
  [/^userAgent$/, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0"],
  [/^deviceId$/, "dev-7f3a9c"],
  [/password$/i, "amber lantern drifts past quiet harbors 47"],
  [/^(code|recoveryCode)$/i, "493817"],
  [/country$/i, "JP"],
  [/^currency$/i, "JPY"],
  [/phone/i, "+819012345678"],
  [/url$/i, "https://shop.example.jp/hooks/mamori"],
  [/token$/i, "mms_Zk3v9QpL2xR8tYw4nB6cD1eF5gH7jK0mN2pQ4rS6tU8"],
  [/(^id|Id)$/, "0193b6f2-7c4e-7a51-9d2e-3f8a6b1c2d40"],
  [/name$/i, "山田 花子"],
  [/reason|note|body|description|message/i, "Owner phoned: the order is not theirs."],
];

/** A value that fits the schema, from its own example, its constraints and the property's name. */
export function exampleOf(schema: Schema, components: Record<string, Schema>, name: string, depth: number): unknown {
  if (schema.example !== undefined) return schema.example;
  if (Array.isArray(schema.examples) && schema.examples.length) return schema.examples[0];
  if (typeof schema.$ref === "string") {
    const target = components[schema.$ref.replace("#/components/schemas/", "")];
    return target && depth < 8 ? exampleOf(target, components, name, depth + 1) : {};
  }
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) return schema.enum[0];
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (alternatives?.length) {
    const pick = alternatives.find((a) => a.type !== "null") ?? alternatives[0];
    return pick ? exampleOf(pick, components, name, depth + 1) : null;
  }
  if (Array.isArray(schema.allOf) && schema.allOf.length)
    return Object.assign({}, ...(schema.allOf as Schema[]).map((s) => exampleOf(s, components, name, depth + 1)));
  const type = Array.isArray(schema.type) ? (schema.type.find((t) => t !== "null") ?? "null") : schema.type;
  switch (type) {
    case "string":
      return stringExample(schema, name);
    case "integer":
    case "number": {
      const min = typeof schema.minimum === "number" ? schema.minimum : undefined;
      const max = typeof schema.maximum === "number" ? schema.maximum : undefined;
      const wanted = /amount|price|total|balance/i.test(name) ? 2500 : /limit/i.test(name) ? 20 : 1;
      return Math.min(max ?? Number.MAX_SAFE_INTEGER, Math.max(min ?? 0, wanted));
    }
    case "boolean":
      return true;
    case "null":
      return null;
    case "array": {
      const items = schema.items as Schema | undefined;
      const n = typeof schema.minItems === "number" ? Math.max(1, schema.minItems) : 1;
      if (!items || depth > 6) return [];
      return Array.from({ length: n }, () => exampleOf(items, components, singular(name), depth + 1));
    }
    case "object": {
      const props = (schema.properties ?? {}) as Record<string, Schema>;
      const out: Record<string, unknown> = {};
      if (depth > 6) return out;
      for (const [k, v] of Object.entries(props)) out[k] = exampleOf(v, components, k, depth + 1);
      return out;
    }
    default:
      return {};
  }
}

const singular = (name: string) => name.replace(/ies$/, "y").replace(/s$/, "");

function stringExample(schema: Schema, name: string): string {
  const fits = (v: string) =>
    v.length >= ((schema.minLength as number | undefined) ?? 0) &&
    v.length <= ((schema.maxLength as number | undefined) ?? Number.POSITIVE_INFINITY) &&
    (typeof schema.pattern !== "string" || new RegExp(schema.pattern).test(v));
  if (schema.format === "date-time") return "2026-11-01T09:00:00.000Z";
  if (schema.format === "date") return "2026-11-01";
  if (schema.format === "email") return "hanako@example.jp";
  if (schema.format === "uri" || schema.format === "url") return "https://shop.example.jp/hooks/mamori";
  for (const [re, v] of BY_NAME) if (re.test(name) && typeof v === "string" && fits(v)) return v;
  for (const v of ["example", "JP", "JPY", "a", "1"]) if (fits(v)) return v;
  return "x".repeat(Math.max(1, (schema.minLength as number | undefined) ?? 1));
}
