// The same small store backend written three times, with Fastify, Express and Hono, on @mamori/middleware, against an
// in-process Mamori over HTTP: the middleware tests run one story against each.
//   POST /login      no session: Mamori sign-in with the request's context; sets the session cookie
//   GET  /me         a "normal" route: what the middleware saw (context, account)
//   POST /checkout   a "money" route
//   GET  /refuse     throws the Mamori refusal described by its query (?status&code&retry), as a route calling Mamori would
import type { AddressInfo } from "node:net";
import { createMamoriClient, MamoriApiError, type MamoriClient, unwrap } from "@mamori/client";
import express from "express";
import Fastify from "fastify";
import { Hono } from "hono";
import { makeTestApp, type TestApp } from "../../../src/testing/app.ts";
import { mamoriOf as expressState, mamoriExpress } from "../src/express.ts";
import { mamoriOf as fastifyState, mamoriFastify } from "../src/fastify.ts";
import { mamoriOf as honoState, mamoriHono } from "../src/hono.ts";
import type { MamoriMiddlewareOptions, MamoriRequestState, RequestContext } from "../src/index.ts";

// biome-ignore lint/suspicious/noExplicitAny: the tests read answers loosely, as JSON
export type Loose = Record<string, any>;

export interface Answer {
  status: number;
  header(name: string): string | null;
  json: Loose;
}

export interface StoreBackend {
  /** a request from the peer 127.0.0.1 (a real socket for Express; injected for Fastify and Hono) */
  request(
    method: "GET" | "POST",
    path: string,
    opts?: { headers?: Record<string, string>; body?: unknown },
  ): Promise<Answer>;
  close(): Promise<void>;
}

export type Options = Omit<MamoriMiddlewareOptions, "mamori">;
export type Framework = { name: string; build(mamori: MamoriClient, options: Options): Promise<StoreBackend> };

export const PEER = "127.0.0.1";

const view = (s: MamoriRequestState) => ({
  context: s.context,
  accountId: s.session?.accountId ?? null,
  sessionId: s.session?.sessionId ?? null,
});

async function login(mamori: MamoriClient, body: unknown, context: RequestContext) {
  const { email, password } = body as { email: string; password: string };
  const r = await unwrap(mamori.POST("/v1/sign-in", { body: { email, password, context } }));
  if (r.status !== "signed_in") return { status: r.status, token: null };
  return { status: r.status, token: r.session.token };
}

function refusal(q: Record<string, string | undefined>): MamoriApiError {
  const details = q.retry ? { retryAfterSeconds: Number(q.retry) } : undefined;
  return new MamoriApiError(Number(q.status), { error: { code: q.code, message: `refused: ${q.code}`, details } });
}

const fastify: Framework = {
  name: "Fastify",
  async build(mamori, options) {
    const app = Fastify();
    const m = mamoriFastify({ mamori, ...options });
    app.setErrorHandler(m.errorHandler());
    app.post("/login", async (req, reply) => {
      const r = await login(mamori, req.body, m.context(req));
      if (r.token) void reply.header("set-cookie", `mamori_session=${r.token}; HttpOnly; Secure; SameSite=Lax`);
      return r;
    });
    app.get("/me", { preHandler: m.session() }, async (req) => view(fastifyState(req)));
    app.post("/checkout", { preHandler: m.session({ kind: "money" }) }, async (req) => view(fastifyState(req)));
    app.get("/refuse", async (req) => {
      throw refusal(req.query as Record<string, string>);
    });
    await app.ready();
    return {
      async request(method, path, opts = {}) {
        const r = await app.inject({
          method,
          url: path,
          remoteAddress: PEER,
          headers: opts.headers ?? {},
          ...(opts.body === undefined ? {} : { payload: opts.body as Record<string, unknown> }),
        });
        const header = (name: string) => {
          const v = r.headers[name];
          return v === undefined ? null : String(v);
        };
        return { status: r.statusCode, header, json: r.json() };
      },
      close: () => app.close(),
    };
  },
};

const expressStore: Framework = {
  name: "Express",
  async build(mamori, options) {
    const app = express();
    const m = mamoriExpress({ mamori, ...options });
    app.use(express.json());
    app.post("/login", (req, res, next) => {
      login(mamori, req.body, m.context(req)).then((r) => {
        if (r.token) res.cookie("mamori_session", r.token, { httpOnly: true, secure: true, sameSite: "lax" });
        res.json(r);
      }, next);
    });
    app.get("/me", m.session(), (req, res) => {
      res.json(view(expressState(req)));
    });
    app.post("/checkout", m.session({ kind: "money" }), (req, res) => {
      res.json(view(expressState(req)));
    });
    app.get("/refuse", (req) => {
      throw refusal(req.query as Record<string, string>);
    });
    app.use(m.errors());
    const server = app.listen(0, PEER);
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    const base = `http://${PEER}:${(server.address() as AddressInfo).port}`;
    return {
      async request(method, path, opts = {}) {
        const r = await fetch(base + path, {
          method,
          headers: { ...(opts.body === undefined ? {} : { "content-type": "application/json" }), ...opts.headers },
          ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
        });
        return { status: r.status, header: (n) => r.headers.get(n), json: (await r.json()) as Loose };
      },
      async close() {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server.close(() => resolve()));
      },
    };
  },
};

const hono: Framework = {
  name: "Hono",
  async build(mamori, options) {
    const app = new Hono();
    const m = mamoriHono({ mamori, ...options });
    app.onError((err, c) => m.errorResponse(err) ?? c.json({ error: { code: "internal", message: "" } }, 500));
    app.post("/login", async (c) => {
      const r = await login(mamori, await c.req.json(), m.context(c));
      if (r.token) c.header("set-cookie", `mamori_session=${r.token}; HttpOnly; Secure; SameSite=Lax`);
      return c.json(r);
    });
    app.get("/me", m.session(), (c) => c.json(view(honoState(c))));
    app.post("/checkout", m.session({ kind: "money" }), (c) => c.json(view(honoState(c))));
    app.get("/refuse", (c) => {
      throw refusal(c.req.query());
    });
    return {
      async request(method, path, opts = {}) {
        const req = new Request(`http://store.test${path}`, {
          method,
          headers: { ...(opts.body === undefined ? {} : { "content-type": "application/json" }), ...opts.headers },
          ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
        });
        // what @hono/node-server passes as c.env
        const r = await app.fetch(req, { incoming: { socket: { remoteAddress: PEER } } });
        return { status: r.status, header: (n) => r.headers.get(n), json: (await r.json()) as Loose };
      },
      close: async () => {},
    };
  },
};

export const FRAMEWORKS: Framework[] = [fastify, expressStore, hono];

/** An in-process Mamori listening on 127.0.0.1, and a client for it with the store's key. */
export async function startMamori(): Promise<{ t: TestApp; mamori: MamoriClient; baseUrl: string }> {
  const t = await makeTestApp(undefined, undefined, { now: Date.now() });
  await t.app.http.listen({ port: 0, host: "127.0.0.1" });
  const { port } = t.app.http.server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;
  return { t, mamori: createMamoriClient({ baseUrl, apiKey: t.apiKey }), baseUrl };
}

export const unique = (prefix: string) =>
  `${prefix}-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
