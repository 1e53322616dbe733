import { Type } from "@sinclair/typebox";
import { checkContext, userSession } from "../api/context.ts";
import { Context, Device, errors, Nullable, named, Ok } from "../api/schemas.ts";
import type { Http } from "../api/types.ts";
import type { RouteDeps } from "../route-deps.ts";

const SessionHeader = Type.Object({
  "x-mamori-session": Type.String({ description: "The end user's session token." }),
});

const SessionView = named(
  "ActiveSession",
  Type.Object({
    id: Type.String(),
    channel: Type.String(),
    current: Type.Boolean(),
    active: Type.Boolean(),
    createdAt: Type.String({ format: "date-time" }),
    lastSeenAt: Type.String({ format: "date-time" }),
    authTime: Type.String({ format: "date-time" }),
    expiresAt: Type.String({ format: "date-time" }),
    endedAt: Nullable(Type.String({ format: "date-time" })),
    endedReason: Nullable(Type.String()),
    factor: Type.String(),
    ip: Type.String(),
    country: Nullable(Type.String()),
    asn: Nullable(Type.Integer()),
    device: Device,
    appPasswordId: Nullable(Type.String()),
  }),
  "A live session of the account, with where it came from.",
);

export function registerSessionRoutes(app: Http, deps: RouteDeps) {
  const { sessions } = deps;

  app.post(
    "/v1/sessions/introspect",
    {
      schema: {
        operationId: "introspectSession",
        tags: ["sessions"],
        summary: "Is this session still valid? Authoritative: read from the store on every call.",
        body: Type.Object({ token: Type.String({ maxLength: 256 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({
            active: Type.Boolean(),
            sessionId: Type.Optional(Type.String()),
            accountId: Type.Optional(Type.String()),
            channel: Type.Optional(Type.String()),
            factor: Type.Optional(Type.String()),
            authTime: Type.Optional(Type.String({ format: "date-time" })),
            secondFactorAt: Type.Optional(Nullable(Type.String({ format: "date-time" }))),
            expiresAt: Type.Optional(Type.String({ format: "date-time" })),
          }),
          ...errors(),
        },
      },
    },
    // A kept row answers at once; otherwise the store is read.
    (req) => sessions.introspectKept(req.body.token) ?? sessions.introspect(req.body.token),
  );

  app.get(
    "/v1/sessions",
    {
      schema: {
        operationId: "listSessions",
        tags: ["sessions"],
        summary: "The user's sessions (active, and ended in the last 30 days).",
        headers: SessionHeader,
        response: {
          200: Type.Object({ sessions: Type.Array(SessionView) }),
          ...errors("rate_limited", "session_invalid"),
        },
      },
    },
    async (req) => ({ sessions: await sessions.list(await userSession(sessions, req)) }),
  );

  app.delete(
    "/v1/sessions/:sessionId",
    {
      schema: {
        operationId: "revokeSession",
        tags: ["sessions"],
        summary: "End one of the user's sessions.",
        headers: SessionHeader,
        params: Type.Object({ sessionId: Type.String({ maxLength: 64 }) }),
        response: {
          200: Ok,
          ...errors(
            "account_not_found",
            "rate_limited",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
            "session_not_found",
          ),
        },
      },
    },
    async (req) => {
      await sessions.revoke(await userSession(sessions, req), req.params.sessionId);
      return { ok: true as const };
    },
  );

  app.post(
    "/v1/session/sign-out",
    {
      schema: {
        operationId: "signOut",
        tags: ["sessions"],
        summary: "End the current session.",
        headers: SessionHeader,
        response: { 200: Ok, ...errors("session_invalid") },
      },
    },
    async (req) => {
      await sessions.signOut(await userSession(sessions, req));
      return { ok: true as const };
    },
  );

  app.post(
    "/v1/sessions/sign-out-everywhere",
    {
      schema: {
        operationId: "signOutEverywhere",
        tags: ["sessions"],
        summary: "End every other session and every app password; bumps the credential epoch.",
        headers: SessionHeader,
        body: Type.Object({ context: Type.Optional(Context) }, { additionalProperties: false }),
        response: {
          200: Ok,
          ...errors(
            "account_not_found",
            "invalid_request",
            "rate_limited",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
          ),
        },
      },
    },
    async (req) => {
      const ctx = checkContext(req.body.context);
      await sessions.signOutEverywhere(await userSession(sessions, req), ctx?.ip ?? null);
      return { ok: true as const };
    },
  );
}
