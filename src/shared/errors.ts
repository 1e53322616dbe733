/** An error with a stable code from a module's catalog; the API maps it to HTTP with `httpStatus`. */
export class MamoriError extends Error {
  constructor(
    readonly code: string,
    readonly httpStatus: number,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    // Catalogued errors are expected outcomes (a wrong password, an ended session), not bugs: capturing a stack
    // trace for each would make refusing an attacker costlier than serving a user.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
    this.name = "MamoriError";
  }
}

export interface ErrorDef {
  status: number;
  message: string;
}

type Factories<T extends Record<string, ErrorDef>> = {
  [K in keyof T]: (details?: Record<string, unknown>, message?: string) => MamoriError;
};

const catalog = new Map<string, ErrorDef>();

/**
 * Declares a module's error codes. Codes are global and stable: the same code may not be defined twice
 * with a different status, so clients can rely on `code` alone.
 */
export function defineErrors<const T extends Record<string, ErrorDef>>(defs: T): Factories<T> {
  const out = {} as Factories<T>;
  for (const [code, def] of Object.entries(defs) as [keyof T & string, ErrorDef][]) {
    const known = catalog.get(code);
    if (known && known.status !== def.status) throw new Error(`error code ${code} defined twice`);
    catalog.set(code, def);
    out[code] = (details, message) => new MamoriError(code, def.status, message ?? def.message, details);
  }
  return out;
}

/** Every code any module has declared (for the README and tests). */
export function errorCatalog(): ReadonlyMap<string, ErrorDef> {
  return catalog;
}

/** Codes shared by every module. */
export const CommonErrors = defineErrors({
  invalid_request: { status: 400, message: "The request is malformed." },
  unauthorized: { status: 401, message: "Missing or invalid API credentials." },
  forbidden: { status: 403, message: "Not allowed." },
  not_found: { status: 404, message: "Not found." },
  conflict: { status: 409, message: "The request conflicts with the current state." },
  payload_too_large: { status: 413, message: "The request body is too large." },
  uri_too_long: { status: 414, message: "The URL or a part of it is too long (a path parameter over 100 characters)." },
  unsupported_media_type: { status: 415, message: "Send application/json." },
  rate_limited: { status: 429, message: "Too many attempts; try again later." },
  internal_error: { status: 500, message: "Internal error." },
  unavailable: { status: 503, message: "A dependency is unavailable." },
});
