import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import { readCookie } from "./cookies.ts";

/**
 * Cross-site request forgery protection for forms that are not already protected by a single-use token in the link
 * (the /links/ pages are: their token is the credential). Two checks, both required:
 * - the browser says the post is same-origin (Sec-Fetch-Site, else Origin against our public origin);
 * - the form carries HMAC(key, cookie), where the cookie is random, HttpOnly and SameSite=Strict (signed double submit,
 *   OWASP CSRF cheat sheet), so a page on another site can neither read nor forge the pair.
 */
export function createCsrf(opts: { key: Buffer; publicUrl: string }) {
  const origin = new URL(opts.publicUrl).origin;
  const secure = origin.startsWith("https:");
  // __Host- makes the browser refuse the cookie unless Secure, Path=/ and no Domain: no subdomain can plant one.
  const cookieName = secure ? "__Host-mamori_csrf" : "mamori_csrf";
  const sign = (v: string) => createHmac("sha256", opts.key).update(`csrf:${v}`).digest("base64url");

  const cookieValue = (req: FastifyRequest) => readCookie(req, cookieName, /^[A-Za-z0-9_-]{16,64}$/);

  return {
    cookieName,
    /** The token for a form on this response; sets the cookie when the browser has none. */
    issue(req: FastifyRequest, reply: FastifyReply): string {
      let v = cookieValue(req);
      if (!v) {
        v = randomBytes(24).toString("base64url");
        void reply.header(
          "set-cookie",
          `${cookieName}=${v}; Path=/; HttpOnly; SameSite=Strict${secure ? "; Secure" : ""}`,
        );
      }
      return sign(v);
    },
    /** True when the post came from our own page in this browser. */
    check(req: FastifyRequest, formToken: unknown): boolean {
      const site = req.headers["sec-fetch-site"];
      if (typeof site === "string") {
        if (site !== "same-origin") return false;
      } else {
        const o = req.headers.origin;
        if (typeof o === "string" && o !== origin) return false;
      }
      const v = cookieValue(req);
      if (!v || typeof formToken !== "string") return false;
      const want = Buffer.from(sign(v));
      const got = Buffer.from(formToken);
      return want.length === got.length && timingSafeEqual(want, got);
    },
  };
}

export type Csrf = ReturnType<typeof createCsrf>;
