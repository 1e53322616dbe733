import type { FastifyRequest } from "fastify";

/** The value of one cookie of the request, if it is there and matches `pattern` (a token's shape); else undefined. */
export function readCookie(req: FastifyRequest, name: string, pattern: RegExp): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const v = part.slice(eq + 1).trim();
      return pattern.test(v) ? v : undefined;
    }
  }
  return undefined;
}
