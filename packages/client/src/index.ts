// @mamori/client: a typed client for Mamori's HTTP API. The request and answer types are generated from Mamori's
// /openapi.json (generated/schema.ts), the error codes from its error catalog (generated/errors.ts); openapi-fetch does
// the calls. What this file adds: the store key on every call, typed errors, and retries only where repeating a
// request cannot do a thing twice.
import createClient, { type Client } from "openapi-fetch";
import { ERRORS, type ErrorCode } from "./generated/errors.js";
import type { components, operations, paths } from "./generated/schema.js";

export type { components, ErrorCode, operations, paths };
export { ERRORS };

/** Mamori's error body: `{error: {code, message, details?}}`. */
export type ErrorBody = components["schemas"]["Error"];

export interface MamoriClientOptions {
  /** Mamori's base URL, e.g. http://127.0.0.1:7300 */
  baseUrl: string;
  /** the store API key (mk_…), sent as `Authorization: Bearer`; admin calls pass their admin session's instead */
  apiKey?: string;
  /** retries of an idempotent operation after a network error or a 502/503/504 (default 2; 0 turns them off) */
  retries?: number;
  /** delay before retry n (1, 2, …) in ms when the answer gives no Retry-After (default 100 · 2^(n−1), ±50 %) */
  retryDelayMs?: (attempt: number) => number;
  /** the longest wait honoured from a Retry-After header before giving up instead (default 5,000 ms) */
  maxRetryAfterMs?: number;
  /** the fetch to use (default globalThis.fetch) */
  fetch?: (request: Request) => Promise<Response>;
}

export type MamoriClient = Client<paths>;

/** Mamori refused the call: `code` is one of ERRORS' keys (or, from a newer Mamori, a code this client predates). */
export class MamoriApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode | (string & {});
  readonly details: Record<string, unknown> | undefined;
  constructor(status: number, body: unknown) {
    const e = (body as Partial<ErrorBody> | undefined)?.error;
    super(e?.message ?? `Mamori answered ${status}`);
    this.name = "MamoriApiError";
    this.status = status;
    this.code = typeof e?.code === "string" ? e.code : `http_${status}`;
    this.details = e?.details as Record<string, unknown> | undefined;
  }
}

/** True when `e` is Mamori's refusal with one of `codes` (any code when none given); narrows `e.code`. */
export function isMamoriError<C extends ErrorCode>(e: unknown, ...codes: C[]): e is MamoriApiError & { code: C } {
  return e instanceof MamoriApiError && (codes.length === 0 || (codes as string[]).includes(e.code));
}

/**
 * An openapi-fetch answer's data, or a thrown MamoriApiError: `const s = await unwrap(mamori.POST("/v1/sign-in", …))`.
 */
export async function unwrap<T>(
  call: Promise<{ data?: T; error?: unknown; response: Response }>,
): Promise<Exclude<T, undefined>> {
  const { data, error, response } = await call;
  if (!response.ok || error !== undefined) throw new MamoriApiError(response.status, error);
  return data as Exclude<T, undefined>;
}

/**
 * Operations a retry cannot repeat: HTTP's idempotent methods (RFC 9110 §9.2.2: GET, HEAD, OPTIONS, PUT, DELETE)
 * and the one read-only POST, introspectSession. Every other POST may have acted before its answer was lost (an order
 * placed, a code sent, a sign-in attempt counted against the account): those are never retried, the caller decides.
 */
export function isIdempotent(method: string, pathname: string): boolean {
  const m = method.toUpperCase();
  if (m === "GET" || m === "HEAD" || m === "OPTIONS" || m === "PUT" || m === "DELETE") return true;
  return m === "POST" && pathname.endsWith("/v1/sessions/introspect");
}

const RETRY_STATUSES = new Set([502, 503, 504]);

function retryAfterMs(r: Response): number | undefined {
  const h = r.headers.get("retry-after");
  if (h === null) return undefined;
  const s = Number(h);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(h);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

function retryingFetch(options: MamoriClientOptions): (request: Request) => Promise<Response> {
  const base = options.fetch ?? ((r: Request) => globalThis.fetch(r));
  const retries = Math.max(0, options.retries ?? 2);
  const delay = options.retryDelayMs ?? ((n: number) => 100 * 2 ** (n - 1) * (0.5 + Math.random()));
  const maxRetryAfter = options.maxRetryAfterMs ?? 5_000;
  return async (request) => {
    if (retries === 0 || !isIdempotent(request.method, new URL(request.url).pathname)) return base(request);
    for (let attempt = 0; ; attempt++) {
      // a body can be read once: each attempt sends a copy
      const copy = attempt < retries ? request.clone() : request;
      let wait: number;
      try {
        const response = await base(copy);
        if (!RETRY_STATUSES.has(response.status) || attempt >= retries) return response;
        const after = retryAfterMs(response);
        if (after !== undefined && after > maxRetryAfter) return response;
        wait = after ?? delay(attempt + 1);
        await response.body?.cancel();
      } catch (e) {
        // a network error (fetch's TypeError); an abort is the caller's decision, not a fault to retry
        if (attempt >= retries || (e as Error).name === "AbortError") throw e;
        wait = delay(attempt + 1);
      }
      await new Promise((r) => setTimeout(r, wait));
    }
  };
}

/**
 * A typed client: `mamori.POST("/v1/sign-in", { body: { email, password, context } })` answers
 * `{ data, error, response }` with both typed from the API description; wrap a call in `unwrap` to get the data or a
 * thrown MamoriApiError. Calls for an end user pass `params: { header: { "x-mamori-session": token } }`.
 */
export function createMamoriClient(options: MamoriClientOptions): MamoriClient {
  return createClient<paths>({
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    fetch: retryingFetch(options),
    ...(options.apiKey ? { headers: { authorization: `Bearer ${options.apiKey}` } } : {}),
  });
}
