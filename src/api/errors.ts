import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { MamoriError } from "../shared/errors.ts";

/** Socket errors of a connection to the store or Redis that is refused, reset or cut. */
const DOWN_SYSCALL = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH"]);
/**
 * PostgreSQL refusing for its own state, not for the statement: class 08 (connection exception), 57P01–57P03
 * (terminated by a shutdown or restart, starting up, cannot connect now), 53300 (too many connections).
 */
const DOWN_SQLSTATE = /^(08...|57P0[1-3]|53300)$/;
/** What the pg and ioredis clients throw, without a code, when a connection dies or none can be had. */
const DOWN_MESSAGE =
  /^(Connection terminated|Client has encountered a connection error|timeout exceeded when trying to connect|Connection is closed|Reached the max retries per request limit|Stream isn't writeable)/;

/**
 * Whether an error means a dependency (the store, Redis) is away rather than that the request or the code is wrong.
 * Such a request was refused without its work being done: the client may retry it, so it is a 503 `unavailable`,
 * not a 500. Looks through `cause` and an AggregateError's `errors` (Node's connect over several addresses).
 */
export function dependencyDown(err: unknown, depth = 0): boolean {
  if (!err || typeof err !== "object" || depth > 4) return false;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown; errors?: unknown };
  if (typeof e.code === "string" && (DOWN_SYSCALL.has(e.code) || DOWN_SQLSTATE.test(e.code))) return true;
  if (e.name === "MaxRetriesPerRequestError") return true;
  if (typeof e.message === "string" && DOWN_MESSAGE.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((x) => dependencyDown(x, depth + 1))) return true;
  return dependencyDown(e.cause, depth + 1);
}

/** The one place errors become HTTP. 5xx bodies never carry internals; they are logged instead. */
export function toHttpError(err: unknown): {
  status: number;
  body: { error: { code: string; message: string; details?: Record<string, unknown> } };
} {
  if (err instanceof MamoriError) {
    return {
      status: err.httpStatus,
      body: { error: { code: err.code, message: err.message, ...(err.details ? { details: err.details } : {}) } },
    };
  }
  const fe = err as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string };
  if (fe.validation) {
    const first = (fe.validation as { instancePath?: string; message?: string }[])[0];
    return {
      status: 400,
      body: {
        error: {
          code: "invalid_request",
          message:
            `${fe.validationContext ?? "request"}${first?.instancePath ?? ""} ${first?.message ?? "is invalid"}`.trim(),
        },
      },
    };
  }
  const status = typeof fe.statusCode === "number" ? fe.statusCode : 500;
  if (status === 413)
    return { status, body: { error: { code: "payload_too_large", message: "The request body is too large." } } };
  if (status === 415)
    return { status, body: { error: { code: "unsupported_media_type", message: "Send application/json." } } };
  if (status === 414)
    return { status, body: { error: { code: "uri_too_long", message: "The URL or a part of it is too long." } } };
  if (status === 404) return { status, body: { error: { code: "not_found", message: "Not found." } } };
  if (status === 405)
    return { status, body: { error: { code: "method_not_allowed", message: "Method not allowed." } } };
  if (status >= 400 && status < 500) {
    return {
      status: 400,
      body: { error: { code: "invalid_request", message: fe.message ?? "The request is malformed." } },
    };
  }
  if (dependencyDown(err)) {
    return { status: 503, body: { error: { code: "unavailable", message: "A dependency is unavailable." } } };
  }
  return { status: 500, body: { error: { code: "internal_error", message: "Internal error." } } };
}

/** How long a client should wait after a 503 `unavailable` (a restart or failover of the store or Redis). */
export const UNAVAILABLE_RETRY_AFTER_SECONDS = 2;

/** How much of a refused body is read and discarded, and for how long, before the answer goes anyway. */
const DRAIN_BYTES = 32 * 1024 * 1024;
const DRAIN_MS = 10_000;

/**
 * A body refused while the client is still sending it (413 too large, 415 not JSON): Fastify closes the connection
 * after the answer, and a client still writing then meets a reset socket and never reads the answer. Read and discard
 * the rest first (up to DRAIN_BYTES or DRAIN_MS, the way a web server lingers on close), then answer.
 */
export function whenBodyRead(req: FastifyRequest, send: () => void): void {
  const raw = req.raw;
  if (raw.complete || raw.readableEnded || raw.destroyed) {
    send();
    return;
  }
  let seen = 0;
  let sent = false;
  const finish = () => {
    if (sent) return;
    sent = true;
    clearTimeout(timer);
    raw.off("data", onData).off("end", finish).off("error", finish).off("close", finish);
    send();
  };
  const onData = (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > DRAIN_BYTES) finish();
  };
  const timer = setTimeout(finish, DRAIN_MS);
  timer.unref();
  raw.on("data", onData).on("end", finish).on("error", finish).on("close", finish);
  raw.resume();
}

/** `log`: where a 5xx is logged with its cause (the server's logger; api/http.ts), never in the answer. */
export function errorHandler(
  err: unknown,
  req: FastifyRequest,
  reply: FastifyReply,
  log: Pick<FastifyBaseLogger, "error"> | null = req.log,
) {
  const { status, body } = toHttpError(err);
  if (status >= 500) log?.error({ err, reqId: req.id }, "request failed");
  if (status === 429) {
    const s = body.error.details?.retryAfterSeconds;
    if (typeof s === "number") void reply.header("retry-after", String(Math.max(1, s)));
  }
  // A store or Redis failover takes seconds: say when to come back so clients and proxies retry instead of failing
  // the request for good, and don't all retry at once (RFC 9110 §10.2.3 allows it on 503).
  if (status === 503) void reply.header("retry-after", String(UNAVAILABLE_RETRY_AFTER_SECONDS));
  if (status === 413 || status === 415) {
    whenBodyRead(req, () => {
      if (!reply.sent) void reply.status(status).send(body);
    });
    return reply;
  }
  return reply.status(status).send(body);
}
