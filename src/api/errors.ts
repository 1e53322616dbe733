import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { MamoriError } from "../shared/errors.ts";

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
  return { status: 500, body: { error: { code: "internal_error", message: "Internal error." } } };
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply) {
  const { status, body } = toHttpError(err);
  if (status >= 500) req.log.error({ err }, "request failed");
  if (status === 429) {
    const s = body.error.details?.retryAfterSeconds;
    if (typeof s === "number") void reply.header("retry-after", String(Math.max(1, s)));
  }
  return reply.status(status).send(body);
}
