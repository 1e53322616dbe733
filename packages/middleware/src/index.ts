// @mamori/middleware: what every framework adapter (./fastify, ./express, ./hono) shares. An adapter only reads the
// framework's request (peer address, headers) and writes its answer; the decisions are here, once:
// - the request context Mamori's risk model needs (ip, userAgent, deviceId, channel), with the client IP taken from
//   X-Forwarded-For only when the immediate peer is a configured trusted proxy (anyone can send the header);
// - the Mamori session behind the request, introspected on each request; a short cache (off by default) is never
//   used on credential or money routes, so a revoked session is refused on the very next sensitive request;
// - Mamori's refusals as the framework's answers (401 inactive session, 423 account_frozen, 429 with Retry-After, …).
import { BlockList, isIP } from "node:net";
import { MamoriApiError, type MamoriClient, type operations } from "@mamori/client";

export type Channel = "web" | "app";

/** The request context Mamori's operations take as `context`. */
export interface RequestContext {
  ip: string;
  userAgent: string;
  deviceId?: string;
  channel: Channel;
}

/** introspectSession's answer for a live session. */
export type ActiveSession = operations["introspectSession"]["responses"][200]["content"]["application/json"] & {
  active: true;
  sessionId: string;
  accountId: string;
};

/**
 * What a route is: "credential" (sign-in, password, email, factors, recovery) and "money" (checkout, payouts, gift
 * cards) routes always ask Mamori, whatever the cache says; "normal" routes may use the cache when it is on.
 */
export type RouteKind = "normal" | "credential" | "money";

export interface SessionRouteOptions {
  /** default "normal" */
  kind?: RouteKind;
  /** let a request without a session through (its `session` is undefined); a token that is not live is still refused */
  optional?: boolean;
}

export interface MamoriMiddlewareOptions {
  /** a client from @mamori/client, with the store's API key */
  mamori: MamoriClient;
  /**
   * The proxies in front of the store (addresses or CIDR ranges, IPv4 or IPv6), e.g. ["10.0.0.0/8"]. Only when the
   * immediate peer is one of them is X-Forwarded-For read, right to left, skipping trusted hops; otherwise the socket
   * address is the client's. Default: none (X-Forwarded-For is ignored).
   */
  trustedProxies?: readonly string[];
  /** where the store keeps the end user's Mamori session token: a cookie, a request header, or both (cookie first) */
  session?: { cookie?: string; header?: string };
  /** the cookie with the store's device id for the browser (default "mamori_device"); absent: no deviceId */
  deviceCookie?: string;
  /** the channel the requests come from (default "web") */
  channel?: Channel;
  /**
   * Cache a live introspection this long on "normal" routes (default 0: off; at most 5,000 ms). An ended session can
   * pass a normal route for that long; credential and money routes never read the cache.
   */
  cacheMs?: number;
  /** the clock for the cache (tests) */
  now?: () => number;
}

/** What a request carries after the middleware ran: get it with the adapter's `mamoriOf(req)`. */
export interface MamoriRequestState {
  context: RequestContext;
  /** the end user's session token (forward it as `x-mamori-session` on their own calls) */
  token: string | undefined;
  /** the live session; undefined only on an `optional` route without a token */
  session: ActiveSession | undefined;
}

/** What an adapter reads from its framework's request. */
export interface RequestView {
  /** the socket's peer address (the proxy's when behind one) */
  peer: string | undefined;
  header(name: string): string | undefined;
}

/** An answer for the framework to send instead of running the route. */
export interface Refusal {
  status: number;
  headers: Record<string, string>;
  body: { error: { code: string; message: string; details?: Record<string, unknown> } };
}

export type Outcome = { ok: true; state: MamoriRequestState } | { ok: false; refusal: Refusal };

export const MAX_CACHE_MS = 5_000;
const MAX_CACHE_ENTRIES = 10_000;
export const DEFAULT_SESSION_COOKIE = "mamori_session";
export const DEFAULT_DEVICE_COOKIE = "mamori_device";

export interface MamoriGuard {
  /** the request context for Mamori's `context` field */
  context(req: RequestView): RequestContext;
  /** the session token the request carries, if any */
  token(req: RequestView): string | undefined;
  /** context + introspection, or the refusal to send */
  authenticate(req: RequestView, route?: SessionRouteOptions): Promise<Outcome>;
  /** forget a cached introspection (after the store signs the user out) */
  forget(token: string): void;
}

export function createMamoriGuard(options: MamoriMiddlewareOptions): MamoriGuard {
  const trusted = proxyList(options.trustedProxies ?? []);
  const sessionCookie = options.session?.cookie ?? (options.session?.header ? undefined : DEFAULT_SESSION_COOKIE);
  const sessionHeader = options.session?.header?.toLowerCase();
  const deviceCookie = options.deviceCookie ?? DEFAULT_DEVICE_COOKIE;
  const channel = options.channel ?? "web";
  const cacheMs = Math.min(Math.max(0, options.cacheMs ?? 0), MAX_CACHE_MS);
  const now = options.now ?? Date.now;
  const cache = new Map<string, { until: number; session: ActiveSession }>();

  const guard: MamoriGuard = {
    context(req) {
      const deviceId = cookie(req.header("cookie"), deviceCookie);
      return {
        ip: clientIp(req.peer, req.header("x-forwarded-for"), trusted),
        userAgent: (req.header("user-agent") ?? "").slice(0, 512),
        ...(deviceId ? { deviceId: deviceId.slice(0, 128) } : {}),
        channel,
      };
    },
    token(req) {
      const fromCookie = sessionCookie ? cookie(req.header("cookie"), sessionCookie) : undefined;
      const t = fromCookie ?? (sessionHeader ? req.header(sessionHeader)?.trim() : undefined);
      return t ? t : undefined;
    },
    async authenticate(req, route = {}) {
      const context = guard.context(req);
      const token = guard.token(req);
      if (!token) {
        return route.optional
          ? { ok: true, state: { context, token: undefined, session: undefined } }
          : { ok: false, refusal: inactive() };
      }
      const sensitive = route.kind === "credential" || route.kind === "money";
      if (cacheMs > 0 && !sensitive) {
        const hit = cache.get(token);
        if (hit && hit.until > now()) return { ok: true, state: { context, token, session: hit.session } };
      }
      let answer: Awaited<ReturnType<MamoriClient["POST"]>>;
      try {
        answer = await options.mamori.POST("/v1/sessions/introspect", { body: { token } });
      } catch {
        // Mamori unreachable: fail closed, a session nobody can check is not a session
        return { ok: false, refusal: unavailable() };
      }
      const data = answer.data as ActiveSession | { active: false } | undefined;
      if (!answer.response.ok || !data) {
        // the store's key refused, or Mamori failing: the store's fault, not the user's (no 401 that signs them out)
        if (answer.response.status === 429)
          return { ok: false, refusal: refusalFor(answer.response.status, answer.error, answer.response) };
        return { ok: false, refusal: unavailable() };
      }
      if (!data.active) {
        cache.delete(token);
        return { ok: false, refusal: inactive() };
      }
      if (cacheMs > 0) {
        if (cache.size >= MAX_CACHE_ENTRIES) cache.delete(cache.keys().next().value as string);
        cache.set(token, { until: now() + cacheMs, session: data });
      }
      return { ok: true, state: { context, token, session: data } };
    },
    forget(token) {
      cache.delete(token);
    },
  };
  return guard;
}

function inactive(): Refusal {
  return {
    status: 401,
    headers: {},
    body: { error: { code: "session_invalid", message: "Please sign in again." } },
  };
}

function unavailable(): Refusal {
  return {
    status: 503,
    headers: { "retry-after": "5" },
    body: { error: { code: "mamori_unavailable", message: "The session could not be checked; try again shortly." } },
  };
}

/** Mamori codes that describe the store's own credentials, not the end user: never passed on as the user's 401. */
const STORE_FAULTS = new Set(["unauthorized", "api_key_not_found", "admin_unauthorized"]);

function refusalFor(status: number, error: unknown, response?: Response): Refusal {
  const e = (error as { error?: { code?: unknown; message?: unknown; details?: unknown } } | undefined)?.error;
  const code = typeof e?.code === "string" ? e.code : `http_${status}`;
  const message = typeof e?.message === "string" ? e.message : `Mamori answered ${status}`;
  const details = (e?.details ?? undefined) as Record<string, unknown> | undefined;
  return mapped(status, code, message, details, response?.headers.get("retry-after") ?? undefined);
}

function mapped(
  status: number,
  code: string,
  message: string,
  details: Record<string, unknown> | undefined,
  retryAfterHeader?: string,
): Refusal {
  if (status >= 500 || STORE_FAULTS.has(code)) return unavailable();
  const headers: Record<string, string> = {};
  if (status === 429) {
    const s = details?.retryAfterSeconds;
    headers["retry-after"] = typeof s === "number" ? String(Math.max(1, Math.ceil(s))) : (retryAfterHeader ?? "60");
  }
  return { status, headers, body: { error: { code, message, ...(details ? { details } : {}) } } };
}

/**
 * Mamori's refusal (a MamoriApiError from @mamori/client's `unwrap`) as the answer for the end user: its status and
 * `{error:{code,message,details}}` (401 invalid_credentials, 423 account_frozen, 409 redemption_held, 429 with
 * Retry-After, …); Mamori failing or refusing the store's own key becomes 503. Undefined for any other error.
 */
export function mamoriRefusal(err: unknown): Refusal | undefined {
  if (!(err instanceof MamoriApiError)) return undefined;
  return mapped(err.status, err.code, err.message, err.details);
}

// --- request context ------------------------------------------------------------------------------------------------

function proxyList(entries: readonly string[]): BlockList | undefined {
  if (entries.length === 0) return undefined;
  const list = new BlockList();
  for (const raw of entries) {
    const [addr = "", bits] = raw.trim().split("/");
    const a = normalizeIp(addr);
    const family = isIP(a);
    if (family === 0) throw new Error(`trustedProxies: not an address or CIDR range: ${raw}`);
    const type = family === 4 ? "ipv4" : "ipv6";
    if (bits === undefined) list.addAddress(a, type);
    else list.addSubnet(a, Number(bits), type);
  }
  return list;
}

function normalizeIp(ip: string): string {
  let a = ip.trim();
  if (a.startsWith("[") && a.includes("]")) a = a.slice(1, a.indexOf("]"));
  // IPv4 seen through a dual-stack socket
  if (/^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(a)) a = a.slice(7);
  return a;
}

function isTrusted(list: BlockList, ip: string): boolean {
  const family = isIP(ip);
  return family !== 0 && list.check(ip, family === 4 ? "ipv4" : "ipv6");
}

/**
 * The client's address: the socket's peer, unless that peer is a trusted proxy; then X-Forwarded-For is walked from
 * the right (each proxy appends the address it saw) past trusted hops, and the first untrusted address is the client.
 * A malformed entry stops the walk at the last address a trusted proxy vouched for.
 */
export function clientIp(peer: string | undefined, forwardedFor: string | undefined, trusted: BlockList | undefined) {
  let ip = normalizeIp(peer ?? "");
  if (!trusted || !forwardedFor || !isTrusted(trusted, ip)) return ip;
  const hops = forwardedFor.split(",");
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = normalizeIp(hops[i] ?? "");
    if (isIP(hop) === 0) return ip;
    ip = hop;
    if (!isTrusted(trusted, hop)) return hop;
  }
  return ip;
}

/** One cookie's value from a Cookie header (RFC 6265 §5.4; percent-decoded when it decodes). */
export function cookie(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue;
    let v = part.slice(eq + 1).trim();
    if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1);
    try {
      return decodeURIComponent(v);
    } catch {
      return v;
    }
  }
  return undefined;
}
