// Hono adapter: route middleware, the request's Mamori state, and an onError helper that answers Mamori's refusals.
// Only Hono's types are imported: the store brings Hono. Hono has no socket of its own: the peer address comes from
// the runtime adapter (`peer` option; default @hono/node-server's `c.env.incoming.socket.remoteAddress`).
import type { Context, MiddlewareHandler } from "hono";
import {
  createMamoriGuard,
  type MamoriGuard,
  type MamoriMiddlewareOptions,
  type MamoriRequestState,
  mamoriRefusal,
  type Refusal,
  type RequestContext,
  type RequestView,
  type SessionRouteOptions,
} from "./index.js";

export * from "./index.js";

const states = new WeakMap<Request, MamoriRequestState>();

export interface MamoriHonoOptions extends MamoriMiddlewareOptions {
  /** the socket's peer address for a request (Bun: `server.requestIP(c.req.raw)?.address`, Deno: `info.remoteAddr`) */
  peer?: (c: Context) => string | undefined;
}

function nodePeer(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  return env?.incoming?.socket?.remoteAddress;
}

function send(r: Refusal): Response {
  return new Response(JSON.stringify(r.body), {
    status: r.status,
    headers: { "content-type": "application/json; charset=utf-8", ...r.headers },
  });
}

export interface MamoriHono {
  guard: MamoriGuard;
  /** route middleware: introspects the session (refusing with 401/503/…) and records the request's Mamori state */
  session(route?: SessionRouteOptions): MiddlewareHandler;
  /** the request context for a route without a session (sign-in, sign-up) */
  context(c: Context): RequestContext;
  /** for app.onError: Mamori's refusal as a Response, or undefined for any other error */
  errorResponse(err: unknown): Response | undefined;
}

export function mamoriHono(options: MamoriHonoOptions): MamoriHono {
  const guard = createMamoriGuard(options);
  const peer = options.peer ?? nodePeer;
  const view = (c: Context): RequestView => ({ peer: peer(c), header: (name) => c.req.header(name) });
  return {
    guard,
    session(route) {
      return async (c, next) => {
        const o = await guard.authenticate(view(c), route);
        if (!o.ok) return send(o.refusal);
        states.set(c.req.raw, o.state);
        await next();
        return undefined;
      };
    },
    context: (c) => guard.context(view(c)),
    errorResponse(err) {
      const r = mamoriRefusal(err);
      return r ? send(r) : undefined;
    },
  };
}

/** The request's Mamori state (context, token, session); throws when no `session()` middleware ran for the route. */
export function mamoriOf(c: Context): MamoriRequestState {
  const s = states.get(c.req.raw);
  if (!s) throw new Error("mamoriOf: the route has no mamori session() middleware");
  return s;
}
