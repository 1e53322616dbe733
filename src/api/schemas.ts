import { type Static, type TSchema, Type } from "@sinclair/typebox";
import { errorCatalog } from "../shared/errors.ts";
import { errorResponse } from "./openapi.ts";

/**
 * Schemas named in the OpenAPI document (components.schemas) rather than inlined into every operation: a generated
 * client gets one `RequestContext` type, not fifty anonymous copies. http.ts registers each with Fastify (document,
 * serializers) and both validators; routes use `ref(…)` to point at one.
 */
const components: TSchema[] = [];

export function component<T extends TSchema>(schema: T): T {
  if (typeof schema.$id !== "string") throw new Error("a component schema needs an $id");
  components.push(schema);
  return schema;
}

export function componentSchemas(): readonly TSchema[] {
  return components;
}

/**
 * A reference to a named schema, typed as the schema itself: the route type provider (TypeBox 1's Static) reads a
 * plain `$ref` as `unknown`, so the request and reply types would be lost otherwise.
 */
export const ref = <T extends TSchema>(schema: T, options?: { description?: string }): T =>
  Type.Ref(schema.$id as string, options) as unknown as T;

/**
 * A named schema: registered under `id` (a copy, so the original can still be spread into a Type.Composite) and
 * referenced wherever it is used.
 */
export function named<T extends TSchema>(id: string, schema: T, description?: string): T {
  return ref(component({ ...schema, $id: id, ...(description ? { description } : {}) } as T));
}

export const RequestContext = component(
  Type.Object(
    {
      ip: Type.String({ minLength: 2, maxLength: 64, description: "The end user's IP address as the store saw it." }),
      userAgent: Type.String({ maxLength: 1024 }),
      deviceId: Type.Optional(
        Type.String({ minLength: 1, maxLength: 128, description: "The store's long-lived device cookie." }),
      ),
      channel: Type.Union([Type.Literal("web"), Type.Literal("app"), Type.Literal("app-password")]),
    },
    { additionalProperties: false, $id: "RequestContext" },
  ),
);
export const Context = ref(RequestContext);

export const ErrorBody = component(
  Type.Object(
    {
      error: Type.Object({
        // The enum is filled in by http.ts once every module has declared its codes (errorCodeEnum).
        code: Type.String({ description: "Stable machine-readable code; see the README's error catalog." }),
        message: Type.String(),
        details: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      }),
    },
    { $id: "Error" },
  ),
);

export const Ok = named("Ok", Type.Object({ ok: Type.Literal(true) }));

export const SessionRef = named(
  "Session",
  Type.Object({
    id: Type.String(),
    token: Type.String({ description: "Opaque 256-bit session token; shown once. Send it as X-Mamori-Session." }),
    expiresAt: Type.String({ format: "date-time" }),
  }),
  "A new session for the end user.",
);

export const Email = Type.String({ minLength: 3, maxLength: 254 });
export const Password = Type.String({ minLength: 1, maxLength: 1024 });
export const Code = Type.String({ minLength: 1, maxLength: 64 });
export const LinkToken = Type.String({ minLength: 1, maxLength: 256 });
export const Language = Type.Union([Type.Literal("ja"), Type.Literal("en")]);

export const Device = named(
  "Device",
  Type.Object({
    browser: Type.Union([Type.String(), Type.Null()]),
    os: Type.Union([Type.String(), Type.Null()]),
    type: Type.Union([Type.String(), Type.Null()]),
    id: Type.Union([Type.String(), Type.Null()]),
  }),
  "The device a session or sign-in came from, as read from its user agent and device cookie.",
);

/**
 * A nullable primitive as `type: [T, "null"]` (JSON Schema 2020-12 / OpenAPI 3.1) rather than anyOf: the response
 * serializer then writes it directly instead of validating each alternative per response.
 */
export const Nullable = <T extends TSchema & { type: string }>(t: T) =>
  Type.Unsafe<Static<T> | null>({ ...t, type: [t.type, "null"] });

/**
 * The error responses of an operation's own code paths, by code: each code's status comes from the module catalogs.
 * The statuses every operation of its kind gives (400, 401, 413, 415, 500) are added by http.ts (api/openapi.ts).
 */
export function errors(...codes: string[]): Record<number, unknown> {
  const byStatus = new Map<number, string[]>();
  for (const code of codes) {
    const def = errorCatalog().get(code);
    if (!def) throw new Error(`unknown error code ${code}`);
    byStatus.set(def.status, [...(byStatus.get(def.status) ?? []), code]);
  }
  return Object.fromEntries([...byStatus].map(([status, cs]) => [status, errorResponse(cs)]));
}

export function catalogMarkdown(): string {
  return [...errorCatalog().entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([code, d]) => `| \`${code}\` | ${d.status} | ${d.message} |`)
    .join("\n");
}

/** Makes the Error schema's `code` an enum of every catalogued code (call once every module's catalog is loaded). */
export function errorCodeEnum(): void {
  const code = ErrorBody.properties.error.properties.code as unknown as { enum?: string[] };
  code.enum = [...errorCatalog().keys()].sort();
}
