// Express adapter: route middleware, the request's Mamori state, and an error middleware that answers Mamori's
// refusals. Only Express's types are imported: the store brings Express.
import type { ErrorRequestHandler, Request, RequestHandler, Response } from "express";
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

function view(req: Request): RequestView {
  return {
    // the socket's peer, not req.ip: Express's own "trust proxy" must not decide what Mamori sees
    peer: req.socket?.remoteAddress,
    header: (name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(", ") : v;
    },
  };
}

function send(res: Response, r: Refusal): void {
  res.status(r.status).set(r.headers).json(r.body);
}

export interface MamoriExpress {
  guard: MamoriGuard;
  /** route middleware: introspects the session (refusing with 401/503/…) and records the request's Mamori state */
  session(route?: SessionRouteOptions): RequestHandler;
  /** the request context for a route without a session (sign-in, sign-up) */
  context(req: Request): RequestContext;
  /** error middleware (register last): Mamori's refusals as answers, anything else to the next error handler */
  errors(): ErrorRequestHandler;
}

export function mamoriExpress(options: MamoriMiddlewareOptions): MamoriExpress {
  const guard = createMamoriGuard(options);
  return {
    guard,
    session(route) {
      return (req, res, next) => {
        guard.authenticate(view(req), route).then((o) => {
          if (!o.ok) return send(res, o.refusal);
          states.set(req, o.state);
          next();
        }, next);
      };
    },
    context: (req) => guard.context(view(req)),
    errors() {
      return (err, _req, res, next) => {
        const r = mamoriRefusal(err);
        if (r && !res.headersSent) send(res, r);
        else next(err);
      };
    },
  };
}

/** The request's Mamori state (context, token, session); throws when no `session()` middleware ran for the route. */
export function mamoriOf(req: Request): MamoriRequestState {
  const s = states.get(req);
  if (!s) throw new Error("mamoriOf: the route has no mamori session() middleware");
  return s;
}
