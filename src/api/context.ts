import { isIP } from "node:net";
import type { FastifyRequest } from "fastify";
import type { RequestContext } from "../shared/context.ts";
import { CommonErrors } from "../shared/errors.ts";

/** The forwarded end-user context, with the IP checked (the schema only bounds its length). */
export function checkContext<T extends RequestContext | undefined>(ctx: T): T {
  if (ctx && isIP(ctx.ip) === 0)
    throw CommonErrors.invalid_request({ field: "context.ip" }, "context.ip is not an IP address");
  return ctx;
}

export const SESSION_HEADER = "x-mamori-session";

/** The end user's session from X-Mamori-Session, checked against the store (never a cache) by the sessions module. */
export function userSession<S>(
  sessions: { require(token: string | undefined): Promise<S> },
  req: FastifyRequest,
): Promise<S> {
  const h = req.headers[SESSION_HEADER];
  return sessions.require(typeof h === "string" ? h : undefined);
}
