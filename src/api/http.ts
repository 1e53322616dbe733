import v8 from "node:v8";
import vm from "node:vm";
import swagger from "@fastify/swagger";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { Ajv } from "ajv";
import * as ajvFormats from "ajv-formats";
import Fastify, { type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from "fastify";
import client from "prom-client";
import { CommonErrors } from "../shared/errors.ts";
import { PASSWORD_SCRIPT, STYLESHEET } from "../web/assets.ts";
import { sendErrorPage } from "../web/error-page.tsx";
import { PASSKEY_JS, WEBAUTHN_JS } from "../web/passkey-assets.ts";
import type { Site } from "../web/site.ts";
import { errorHandler, toHttpError } from "./errors.ts";
import { addCommonErrors, finishDocument } from "./openapi.ts";
import { sinceReceived } from "./received.ts";
import { registerRequestMetrics } from "./request-metrics.ts";
import { componentSchemas, errorCodeEnum } from "./schemas.ts";
import type { AuthKind, Http } from "./types.ts";

/** Who is calling, answered by the admin module (its keys and staff sessions) through this port. */
export interface HttpAuth {
  /** a store API key verified recently, from memory: the hot path, no promise */
  cachedApiKey(token: string | undefined): boolean;
  /** a store API key checked against the store; falsy when it is not one */
  verifyApiKey(token: string | undefined): Promise<unknown>;
  /**
   * A staff session for this route (setup-only routes, the route's role): records who on the request
   * (`req.adminId`), or throws the refusal with its code.
   */
  requireStaff(token: string | undefined, req: FastifyRequest, opts: { setup: boolean }): Promise<void>;
}

/** What the HTTP kit is given: it names no module; app.ts passes every module's routes in `routes`. */
export interface HttpKit {
  /** the store the pages are for (error pages) */
  site: Site;
  /** MAMORI_PUBLIC_URL: the OpenAPI document's server */
  publicUrl: string;
  auth: HttpAuth;
  /** the OpenAPI 3.1 `webhooks`: what Mamori sends to the store */
  webhookDocs: Record<string, unknown>;
  /** registers every module's routes and pages on the instance */
  routes: (app: Http) => void;
}

export interface HttpOptions {
  /** a pino logger, or false for none */
  logger: FastifyBaseLogger | false;
  health: () => Promise<{ store: string; ok: boolean }>;
  version: string;
}

/** The operations' groups, in the order a store meets them. */
const TAGS = [
  { name: "accounts", description: 'Sign-up, the account and its contacts, sign-in countries, "not me".' },
  { name: "sign-in", description: "Password, challenge and app-password sign-in; step-up; second-factor reset." },
  { name: "sessions", description: "Introspection, the account's sessions and sign-in history, signing out." },
  { name: "credentials", description: "Password change and reset, email, phone, TOTP, recovery codes, app passwords." },
  { name: "commerce", description: "Addresses, cards, listings, orders and gift cards, judged by the risk engine." },
  { name: "risk", description: "Risk assessment of a store's own events." },
  { name: "response", description: "Lockdowns and their cases (support)." },
  { name: "recovery", description: "The owner's way back into an account after a lockdown." },
  { name: "webhooks", description: "The store's webhook endpoints and deliveries." },
  {
    name: "admin",
    description: "Support staff: sign-in, account search and timelines, ending sessions, risk policies.",
  },
  { name: "security-center", description: "The end user's own security pages, opened from the store." },
  { name: "service", description: "Liveness." },
];

/** Paths served as pages to people, not JSON to programs: every answer there, errors included, is a page. */
const PAGE_PREFIXES = ["/links/", "/assets/", "/recover/"];

/**
 * Whether an error or a 404 gets a page: always under the page prefixes, never under /v1/ (the API), and elsewhere
 * when the client asks for HTML (a browser opening `/` or a mistyped link) rather than JSON.
 */
export function wantsPage(url: string, accept: string | undefined): boolean {
  if (url.startsWith("/v1/")) return false;
  if (PAGE_PREFIXES.some((p) => url.startsWith(p))) return true;
  // The support console is pages only: a bad form or a stale link there gets a page whatever the client asked for.
  if (url === "/console" || url.startsWith("/console/") || url.startsWith("/console?")) return true;
  return typeof accept === "string" && accept.includes("text/html");
}

// A CommonJS module: its default export is the plugin function itself.
const addFormats = ajvFormats.default as unknown as (ajv: Ajv) => Ajv;

function newAjv(coerce: boolean): Ajv {
  const ajv = new Ajv({
    coerceTypes: coerce,
    removeAdditional: false,
    allErrors: false,
    useDefaults: true,
    strict: false,
  });
  addFormats(ajv);
  return ajv;
}

/**
 * One full garbage collection, once the routes are compiled. Compiling every route's schemas (Ajv, fast-json-stringify,
 * the OpenAPI document) leaves thousands of short-lived objects whose first property names differ, and V8 records
 * each as a transition of the plain object's root map, up to its limit (1,536). Past it, every `{}` given a property
 * gets a map of its own: Fastify's reply headers, Node's nextTick entries, on every request, and every site reading
 * them turns megamorphic. Only a full collection drops the dead transitions, and under steady load only young ones
 * run, so the server stayed that way. (test/api/object-shapes-after-startup.test.ts; docs/benchmarks.md 2026-12-04.)
 */
function collectStartupGarbage(): void {
  v8.setFlagsFromString("--expose-gc");
  const gc = vm.runInNewContext("gc") as () => void;
  v8.setFlagsFromString("--no-expose-gc");
  gc();
  forgetStartupFeedback(process.nextTick);
}

/**
 * The collection above gives `{}` its shared shapes back, but a call site that met the one-shape-per-object objects
 * while they lasted stays megamorphic: V8 keeps a site's feedback for good. Node's `process.nextTick`, called during
 * startup, is one: its entry (an object literal with symbol keys) was built through the runtime on every call, four
 * or five a request, ~2 µs of a session check's CPU against ~0.4 on the bare route (CPU profiles, docs/benchmarks.md
 * 2026-12-05). Its feedback is cleared (and any code optimized on it dropped) so it learns the shapes it sees from now
 * on; nothing else about the function changes. An intrinsic a later V8 lacks leaves it as it was.
 */
function forgetStartupFeedback(f: (...args: never[]) => unknown): void {
  v8.setFlagsFromString("--allow-natives-syntax");
  try {
    (new Function("f", "%ClearFunctionFeedback(f); %DeoptimizeFunction(f);") as (fn: unknown) => void)(f);
  } catch {
    // a V8 without these intrinsics: the function keeps its feedback
  } finally {
    v8.setFlagsFromString("--no-allow-natives-syntax");
  }
}

export async function buildHttp(deps: HttpKit, opts: HttpOptions): Promise<Http> {
  // Failures are logged here, on the server's logger, not through Fastify's: given a logger, Fastify makes a child
  // logger for every request and listens for every response's end, ~2–3 µs a request on routes that log nothing, and
  // the benchmarks, started without a logger, did not pay it while `npm start` did. No request is logged one per line
  // (it would dominate the log and the CPU at introspection rates); errors are.
  const log = opts.logger || null;
  const onError = (err: unknown, req: FastifyRequest, reply: FastifyReply) => {
    if (!wantsPage(req.url, req.headers.accept)) return errorHandler(err, req, reply, log);
    const { status } = toHttpError(err);
    if (status >= 500) log?.error({ err, reqId: req.id }, "request failed");
    return sendErrorPage(req, reply, status, deps.site);
  };
  const app = Fastify({
    // The router's own refusals (a path parameter over 100 characters: 414, a malformed URL) get the same shape as
    // every other error, not Fastify's default body.
    frameworkErrors: onError,
    logger: false,
    bodyLimit: 64 * 1024,
    return503OnClosing: true,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as Http;
  // Declared, so every request object has the field from the start (one shape).
  app.decorateRequest("receivedAt", 0);

  // Bodies are strict JSON: "5" is not 5. Querystrings and path parameters are text by nature, so `?limit=5` is
  // coerced to the integer its schema asks for.
  const strictAjv = newAjv(false);
  const coercingAjv = newAjv(true);
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === "querystring" || httpPart === "params" ? coercingAjv : strictAjv).compile(schema),
  );

  // NUL cannot be stored in a PostgreSQL text column; refuse it at the door on both stores, so input that is valid on
  // one store is valid on the other. (Raw NUL is invalid JSON; only the \u0000 escape can carry it.)
  const defaultJson = app.getDefaultJsonParser("error", "error");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    const text = body as string;
    // An operation without a body, called by a client that always sends `content-type: application/json`: nothing
    // to parse. Operations that need a body still refuse the missing one (schema validation, 400 invalid_request).
    if (text === "") {
      done(null, undefined);
      return;
    }
    // Fast path: with no \u escape in the text, a "__proto__" or "constructor" key can only appear literally, so
    // when neither word occurs, the poisoning check (two regular expressions over the body) cannot match and plain
    // JSON.parse gives what the default parser would. Anything else, including invalid JSON and an empty body, takes
    // the default parser and its errors. (A small saving: in the assess route's profile the parse itself is most of
    // the parser's time.)
    if (
      text.length > 0 &&
      !text.includes("\\u") &&
      !text.includes("__proto__") &&
      !text.includes("constructor") &&
      text.charCodeAt(0) !== 0xfeff
    ) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        void defaultJson(req, text, done);
        return;
      }
      done(null, parsed);
      return;
    }
    if (text.includes("\\u0000")) {
      done(CommonErrors.invalid_request({}, "NUL characters are not accepted"), undefined);
      return;
    }
    void defaultJson(req, text, done);
  });

  // Fastify's own text/plain parser would hand a string to routes that take JSON objects (400 at validation); text
  // is not JSON, so it gets the 415 below like every other type.
  app.removeContentTypeParser("text/plain");

  // Any other content type: an empty body is no body (a bodyless operation called by a client that labels every
  // request); anything else is not JSON, 415 — at the first byte, whatever the body's size (the error handler reads
  // and discards the rest before answering).
  app.addContentTypeParser("*", (req, payload, done) => {
    const length = req.headers["content-length"];
    const notJson = () => Object.assign(new Error("Send application/json."), { statusCode: 415 });
    if (length !== undefined && length !== "0") return done(notJson(), undefined);
    if (length === "0" || req.headers["transfer-encoding"] === undefined) return done(null, undefined);
    let answered = false;
    const answer = (e: Error | null) => {
      if (answered) return;
      answered = true;
      payload.off("data", onData).off("end", onEnd).off("error", answer);
      done(e, undefined);
    };
    const onData = (chunk: Buffer) => {
      if (chunk.length > 0) answer(notJson());
    };
    const onEnd = () => answer(null);
    payload.on("data", onData).on("end", onEnd).on("error", answer);
  });

  // Link pages post plain HTML forms.
  app.addContentTypeParser(
    "application/x-www-form-urlencoded",
    { parseAs: "string", bodyLimit: 8 * 1024 },
    (_req, body, done) => {
      if ((body as string).includes("%00")) {
        done(CommonErrors.invalid_request({}, "NUL characters are not accepted"), undefined);
        return;
      }
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    },
  );

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Mamori",
        version: opts.version,
        summary: "Account-takeover defense for online stores: sign-in, sessions, recorded changes, lockdown.",
        description:
          "Account-takeover defense beside a store's backend. The store authenticates with its API key (Authorization: Bearer mk_…) and acts for its end users, forwarding their request context and, for signed-in actions, their session token in X-Mamori-Session. Every error is `{error:{code,message}}` with a stable `code` (the Error schema lists them all).",
        license: { name: "Apache-2.0", identifier: "Apache-2.0" },
      },
      // This instance's public origin (MAMORI_PUBLIC_URL), where the API is served.
      servers: [{ url: deps.publicUrl.replace(/\/+$/, ""), description: "This Mamori instance" }],
      tags: TAGS,
      components: {
        securitySchemes: {
          storeKey: { type: "http", scheme: "bearer", description: "Store API key (mk_…)" },
          adminSession: { type: "http", scheme: "bearer", description: "Admin session token (mad_…)" },
        },
      },
      security: [{ storeKey: [] }],
      // What Mamori sends to the store (OpenAPI 3.1 webhooks): the event types are part of the contract.
      webhooks: deps.webhookDocs,
    } as never,
    transformObject: (d) =>
      finishDocument((d as unknown as { openapiObject: Record<string, unknown> }).openapiObject) as never,
    refResolver: {
      buildLocalReference: (json, _base, _frag, i) => (typeof json.$id === "string" ? json.$id : `def-${i}`),
    },
  });
  errorCodeEnum();
  for (const schema of componentSchemas()) {
    app.addSchema(schema);
    strictAjv.addSchema(schema);
    coercingAjv.addSchema(schema);
  }

  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const requestMetrics = registerRequestMetrics(registry, {
    requests: "mamori_http_requests_total",
    duration: "mamori_http_request_duration_seconds",
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
  });

  app.addHook("onRoute", (route) => {
    // Routes say who may call them; /v1 defaults to the store key, everything else to public.
    route.config = {
      ...(route.config ?? {}),
      auth: route.config?.auth ?? (route.url.startsWith("/v1/") ? "store" : "public"),
    };
    // The statuses every operation of its kind can give, with their codes, beside the route's own (api/openapi.ts).
    if (route.schema && !route.schema.hide) addCommonErrors(route.schema as never, route.config.auth ?? "public");
    if (route.schema && route.config.auth === "public" && route.url.startsWith("/v1/")) route.schema.security = [];
    if (route.schema && (route.config.auth === "admin" || route.config.auth === "admin-setup")) {
      route.schema.security = [{ adminSession: [] }];
    }
  });

  // Callback-style hooks: no promise per request on the hot path. Each route gets its own, built in onRoute with its
  // auth and operation: read per request through `req.routeOptions`, Fastify built a 13-field object on each access.
  const gate =
    (auth: AuthKind, v1: boolean) => (req: FastifyRequest, reply: FastifyReply, done: (e?: Error) => void) => {
      req.receivedAt = performance.now();
      if (req.url.includes("%00")) return done(CommonErrors.invalid_request({}, "NUL characters are not accepted"));
      if (v1) void reply.header("cache-control", "no-store");
      if (auth === "public") return done();
      const h = req.headers.authorization;
      const token = typeof h === "string" && h.startsWith("Bearer ") ? h.slice(7).trim() : undefined;
      if (auth === "store") {
        if (deps.auth.cachedApiKey(token)) return done();
        deps.auth.verifyApiKey(token).then(
          (id) => done(id ? undefined : CommonErrors.unauthorized()),
          (e: Error) => done(e),
        );
        return;
      }
      deps.auth.requireStaff(token, req, { setup: auth === "admin-setup" }).then(
        () => done(),
        (e: Error) => done(e),
      );
    };
  // Counted as the answer goes out (the last onSend hook, after any answer floor), from the gate's `receivedAt`: an
  // onResponse hook makes Fastify listen for every response's end ('finish' and 'error', then remove both), ~1.5 µs
  // a request in the session check's profile. A request the gate never saw (the router's own refusals) is not counted,
  // as before.
  type DoneWith = (err: Error | null, payload?: unknown) => void;
  const count = (operation: string) => (req: FastifyRequest, reply: FastifyReply, payload: unknown, done: DoneWith) => {
    requestMetrics.observe(operation, reply.statusCode, sinceReceived(req) / 1000);
    done(null, payload);
  };
  // Fastify calls onRoute again for the HEAD twin of a GET route, with the options as they were before this hook.
  const asList = <T>(h: T | T[] | undefined): T[] => (h === undefined ? [] : Array.isArray(h) ? h : [h]);
  app.addHook("onRoute", (route) => {
    const url = route.url ?? route.path;
    route.onRequest = [gate(route.config?.auth ?? "public", url.startsWith("/v1/")), ...asList(route.onRequest)];
    const op = (route.schema as { operationId?: string } | undefined)?.operationId ?? "other";
    route.onSend = [...asList(route.onSend), count(op)];
  });
  // What no route answers (the not-found handler) gets the public gate and counts as "other", as before: as the
  // handler's own hooks (below), not instance-wide ones that every route would run too, only to find it is not a 404.
  const notFoundV1 = gate("public", true);
  const notFoundOther = gate("public", false);
  const notFoundHooks = {
    onRequest: (req: FastifyRequest, reply: FastifyReply, done: (e?: Error) => void) =>
      (req.url.startsWith("/v1/") ? notFoundV1 : notFoundOther)(req, reply, done),
    onSend: count("other"),
  };

  app.addHook("onReady", (done) => {
    collectStartupGarbage();
    done();
  });

  app.setErrorHandler(onError);
  // Fastify takes every lifecycle hook here (four-oh-four.js), though its types list only two.
  app.setNotFoundHandler(notFoundHooks as { preHandler?: never }, (req, reply) =>
    wantsPage(req.url, req.headers.accept)
      ? sendErrorPage(req, reply, 404, deps.site)
      : reply.status(404).send({ error: { code: "not_found", message: "Not found." } }),
  );

  // The pages' one stylesheet, named by its hash: cached for a year.
  app.get(STYLESHEET.path, { config: { auth: "public" }, schema: { hide: true } }, (_req, reply) =>
    reply
      .header("content-type", "text/css; charset=utf-8")
      .header("cache-control", STYLESHEET.cacheControl)
      .header("x-content-type-options", "nosniff")
      .send(STYLESHEET.body),
  );

  // The hosted recovery's one script (the password rules as you type), named by its hash like the stylesheet.
  app.get(PASSWORD_SCRIPT.path, { config: { auth: "public" }, schema: { hide: true } }, (_req, reply) =>
    reply
      .header("content-type", "text/javascript; charset=utf-8")
      .header("cache-control", PASSWORD_SCRIPT.cacheControl)
      .header("x-content-type-options", "nosniff")
      .send(PASSWORD_SCRIPT.body),
  );

  // The passkey pages' two scripts (web/passkey-assets.ts): the security center's, recovery's and the console's.
  for (const a of [WEBAUTHN_JS, PASSKEY_JS]) {
    app.get(a.path, { config: { auth: "public" }, schema: { hide: true } }, (_req, reply) =>
      reply
        .header("content-type", "text/javascript; charset=utf-8")
        .header("cache-control", a.cacheControl)
        .header("x-content-type-options", "nosniff")
        .send(a.body),
    );
  }

  deps.routes(app);

  app.get(
    "/health",
    {
      config: { auth: "public" },
      schema: {
        operationId: "health",
        tags: ["service"],
        summary: "Liveness and store reachability.",
        security: [],
        response: {
          200: Type.Object(
            { status: Type.Literal("ok"), store: Type.String(), version: Type.String() },
            { description: "Serving, and the store answers." },
          ),
          503: Type.Object(
            { status: Type.Literal("unavailable"), store: Type.String(), version: Type.String() },
            { description: "The store does not answer." },
          ),
        },
      },
    },
    async (_req, reply) => {
      const h = await opts.health().catch(() => ({ store: "unknown", ok: false }));
      return h.ok
        ? { status: "ok" as const, store: h.store, version: opts.version }
        : reply.status(503).send({ status: "unavailable" as const, store: h.store, version: opts.version });
    },
  );

  app.get("/openapi.json", { config: { auth: "public" }, schema: { hide: true } }, () => app.swagger());
  app.get("/metrics", { config: { auth: "public" }, schema: { hide: true } }, async (_req, reply) =>
    reply.header("content-type", registry.contentType).send(await registry.metrics()),
  );

  return app;
}
