// Fastify adapter: `preHandler` hooks per route, the request's Mamori state, and an error handler that answers
// Mamori's refusals. Only Fastify's types are imported: the store brings Fastify.
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
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

const states = new WeakMap<FastifyRequest, MamoriRequestState>();

function view(req: FastifyRequest): RequestView {
  return {
    // the socket's peer, not req.ip: Fastify's own trustProxy must not decide what Mamori sees
    peer: req.raw.socket?.remoteAddress,
    header: (name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(", ") : v;
    },
  };
}

function send(reply: FastifyReply, r: Refusal): FastifyReply {
  return reply.code(r.status).headers(r.headers).send(r.body);
}

export interface MamoriFastify {
  guard: MamoriGuard;
  /** a preHandler: introspects the session (refusing with 401/503/…) and records the request's Mamori state */
  session(route?: SessionRouteOptions): (req: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined>;
  /** the request context for a route without a session (sign-in, sign-up) */
  context(req: FastifyRequest): RequestContext;
  /** an error handler: Mamori's refusals as answers, anything else to `fallback` (default: rethrown to Fastify) */
  errorHandler(
    fallback?: (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => unknown,
  ): (err: FastifyError, req: FastifyRequest, reply: FastifyReply) => unknown;
}

export function mamoriFastify(options: MamoriMiddlewareOptions): MamoriFastify {
  const guard = createMamoriGuard(options);
  return {
    guard,
    session(route) {
      return async (req, reply) => {
        const o = await guard.authenticate(view(req), route);
        if (!o.ok) return send(reply, o.refusal);
        states.set(req, o.state);
        return undefined;
      };
    },
    context: (req) => guard.context(view(req)),
    errorHandler(fallback) {
      return (err, req, reply) => {
        const r = mamoriRefusal(err);
        if (r) return send(reply, r);
        if (fallback) return fallback(err, req, reply);
        throw err;
      };
    },
  };
}

/** The request's Mamori state (context, token, session); throws when no `session()` hook ran for the route. */
export function mamoriOf(req: FastifyRequest): MamoriRequestState {
  const s = states.get(req);
  if (!s) throw new Error("mamoriOf: the route has no mamori session() preHandler");
  return s;
}
