import type { FastifyRequest } from "fastify";

declare module "fastify" {
  interface FastifyRequest {
    /**
     * When the route's first hook saw the request (`performance.now()`, ms; 0 before): where the request metrics and
     * the answer floors start their clocks (api/http.ts sets it).
     */
    receivedAt: number;
  }
}

/** Milliseconds since the request was received; 0 for a request no route's hooks saw. */
export function sinceReceived(req: FastifyRequest): number {
  return req.receivedAt > 0 ? performance.now() - req.receivedAt : 0;
}
