import type { FastifyReply } from "fastify";
import type { VNode } from "preact";
import { renderToString } from "preact-render-to-string";

/**
 * What a page may load. Scripts: nothing at all (no script-src but 'none'), so an injected <script> or handler
 * attribute cannot run even if escaping ever failed; styles only the stylesheet from our own origin; images our own,
 * plus the store's logo by its exact URL; forms post only to our own origin; no framing.
 */
export function contentSecurityPolicy(
  opts: { imageUrls?: readonly string[]; ownScript?: boolean; connectSelf?: boolean } = {},
): string {
  const img = ["'self'", ...(opts.imageUrls ?? []).map(cspSource)].join(" ");
  return [
    "default-src 'none'",
    // A page that shows rules as you type loads Mamori's own script file; inline script and handlers stay refused.
    opts.ownScript ? "script-src 'self'" : "script-src 'none'",
    // The passkey pages' script asks Mamori's own origin for WebAuthn options and sends the answer back.
    ...(opts.connectSelf ? ["connect-src 'self'"] : []),
    "style-src 'self'",
    `img-src ${img}`,
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
  ].join("; ");
}

// A source expression may not carry ';' or ',' or spaces (they would start a new directive or source).
function cspSource(url: string): string {
  const u = new URL(url);
  return `${u.origin}${u.pathname}`.replace(/[;,\s]/g, encodeURIComponent);
}

export interface SendPageOptions {
  imageUrls?: readonly string[];
  /** the page loads a script from /assets/ (progressive enhancement only: it works without it) */
  ownScript?: boolean;
  /** the script may fetch from Mamori's own origin (the passkey pages: WebAuthn options and answers) */
  connectSelf?: boolean;
}

/**
 * Sends a server-rendered page. JSX text and attributes are escaped by preact-render-to-string, so no string built
 * here is ever HTML. Every page is no-store (they answer single-use links) and sends no Referer (the URL holds a token).
 */
export function sendPage(reply: FastifyReply, status: number, page: VNode, opts: SendPageOptions = {}) {
  return reply
    .status(status)
    .header("content-type", "text/html; charset=utf-8")
    .header("content-security-policy", contentSecurityPolicy(opts))
    .header("referrer-policy", "no-referrer")
    .header("cache-control", "no-store")
    .header("x-content-type-options", "nosniff")
    .header("x-frame-options", "DENY")
    .header("cross-origin-opener-policy", "same-origin")
    .send(`<!doctype html>${renderToString(page)}`);
}
