import { Type } from "@sinclair/typebox";
import { checkContext } from "../api/context.ts";
import { Code, Context, errors, Nullable, Ok, Password } from "../api/schemas.ts";
import type { Http } from "../api/types.ts";
import { CreationOptions, PasskeyName, PasskeyView, RegistrationResponse } from "../identity/factors/passkey/routes.ts";
import type { RouteDeps } from "../route-deps.ts";
import { CommonErrors } from "../shared/errors.ts";

const AdminHeader = Type.Object({ authorization: Type.String({ description: "Bearer <admin session token>" }) });
const strict = { additionalProperties: false } as const;
const Json = Type.Unknown();
const CaseId = Type.Object({ caseId: Type.String({ maxLength: 64 }) });

const CaseSummary = Type.Object({
  id: Type.String(),
  accountId: Type.String(),
  status: Type.String(),
  reason: Type.String(),
  openedBy: Type.String(),
  since: Nullable(Type.String({ format: "date-time" })),
  sinceSource: Nullable(Type.String()),
  windowBasis: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  createdAt: Type.String({ format: "date-time" }),
  lockedDownAt: Nullable(Type.String({ format: "date-time" })),
  recoveredAt: Nullable(Type.String({ format: "date-time" })),
});

const CaseReport = Type.Composite([
  CaseSummary,
  Type.Object({
    steps: Type.Array(
      Type.Object({
        step: Type.String(),
        status: Type.String(),
        attempts: Type.Integer(),
        doneAt: Nullable(Type.String({ format: "date-time" })),
        result: Json,
      }),
    ),
    sessions: Type.Array(Type.Object({ sessionId: Type.String(), role: Type.String() })),
    objects: Type.Array(
      Type.Object({
        objectType: Type.String(),
        objectId: Type.String(),
        step: Type.String(),
        action: Type.String(),
        before: Json,
        after: Json,
        note: Nullable(Type.String()),
        at: Nullable(Type.String({ format: "date-time" })),
        webhookId: Nullable(Type.String()),
        storeConfirmation: Type.String({
          description:
            "mamori_only | never_told (the store had no webhook endpoint) | pending | delivered | confirmed | failed",
        }),
        flagged: Type.Boolean({ description: "The store has not confirmed this action on its record." }),
      }),
    ),
    flagged: Type.Integer(),
    notes: Type.Array(Type.Object({ id: Type.String(), author: Type.String(), body: Type.String(), at: Json })),
  }),
]);

const Devices = Type.Object({
  caseId: Type.String(),
  since: Type.String({ format: "date-time" }),
  totpEnabled: Type.Boolean(),
  devices: Type.Array(
    Type.Object({
      sessionId: Type.String(),
      createdAt: Type.String({ format: "date-time" }),
      ip: Type.String(),
      country: Nullable(Type.String()),
      device: Type.String(),
      channel: Type.String(),
      role: Type.String({ description: "attacker | owner | before_window" }),
    }),
  ),
});

const parseTime = (s: string, field: string): number => {
  const t = Date.parse(s);
  if (!Number.isFinite(t)) throw CommonErrors.invalid_request({ field }, `${field} is not a date-time`);
  return t;
};

export function registerResponseRoutes(app: Http, deps: RouteDeps) {
  const { response, recovery } = deps;
  const agent = (req: { adminId?: string }) => `admin:${req.adminId ?? "unknown"}`;

  app.post(
    "/v1/admin/accounts/:accountId/lockdown",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "lockdownAccount",
        tags: ["response"],
        summary:
          "Freeze the account, end every session, fix the compromise window, cancel what attacker sessions bought, " +
          "roll back every change in the window, recover gift card balances, take down listings, and tell the owner. " +
          "Recorded first and resumed after a crash; answers when every step is done.",
        headers: AdminHeader,
        params: Type.Object({ accountId: Type.String({ maxLength: 64 }) }),
        body: Type.Object(
          {
            reason: Type.String({ minLength: 1, maxLength: 500 }),
            since: Type.Optional(
              Type.String({ format: "date-time", description: "Window start; computed when omitted." }),
            ),
          },
          strict,
        ),
        response: { 200: CaseReport, ...errors("case_not_found", "invalid_request", "window_invalid") },
      },
    },
    async (req) => {
      const since = req.body.since ? parseTime(req.body.since, "since") : null;
      const { caseId } = await response.lockdownAccount({
        accountId: req.params.accountId,
        reason: req.body.reason,
        openedBy: agent(req),
        since,
      });
      return response.getCase(caseId);
    },
  );

  app.post(
    "/v1/admin/accounts/:accountId/cases",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "openCase",
        tags: ["response"],
        summary:
          "Open a case on an account without acting yet (answers the account's open case if it has one); a later " +
          "lockdown joins it.",
        headers: AdminHeader,
        params: Type.Object({ accountId: Type.String({ maxLength: 64 }) }),
        body: Type.Object({ reason: Type.String({ minLength: 1, maxLength: 500 }) }, strict),
        response: { 200: CaseReport, ...errors("case_not_found") },
      },
    },
    async (req) => {
      const { caseId } = await response.openCase({
        accountId: req.params.accountId,
        reason: req.body.reason,
        openedBy: agent(req),
      });
      return response.getCase(caseId);
    },
  );

  app.get(
    "/v1/admin/cases",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "listCases",
        tags: ["response"],
        summary: "Lockdown cases, newest first, by account and status (support).",
        headers: AdminHeader,
        querystring: Type.Object({
          accountId: Type.Optional(Type.String({ maxLength: 64 })),
          status: Type.Optional(Type.String({ maxLength: 20 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200 })),
        }),
        response: { 200: Type.Object({ cases: Type.Array(CaseSummary) }), ...errors("rate_limited") },
      },
    },
    async (req) => ({ cases: await response.listCases(req.query) }),
  );

  app.get(
    "/v1/admin/cases/:caseId",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "getCase",
        tags: ["response"],
        summary:
          "The verification report: every object touched, its state before, the action, its final state, and whether " +
          "the store confirmed it (unconfirmed actions on store objects are flagged).",
        headers: AdminHeader,
        params: CaseId,
        response: { 200: CaseReport, ...errors("case_not_found") },
      },
    },
    (req) => response.getCase(req.params.caseId),
  );

  app.post(
    "/v1/admin/cases/:caseId/window",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "adjustCaseWindow",
        tags: ["response"],
        summary: "Move the window start; the window-dependent steps run again (nothing is done twice).",
        headers: AdminHeader,
        params: CaseId,
        body: Type.Object({ since: Type.String({ format: "date-time" }) }, strict),
        response: { 200: CaseReport, ...errors("case_closed", "case_not_found", "invalid_request", "window_invalid") },
      },
    },
    async (req) => {
      await response.adjustWindow(req.params.caseId, parseTime(req.body.since, "since"), agent(req));
      return response.getCase(req.params.caseId);
    },
  );

  app.post(
    "/v1/admin/cases/:caseId/notes",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "addCaseNote",
        tags: ["response"],
        summary: "Add a support note to a case's record.",
        headers: AdminHeader,
        params: CaseId,
        body: Type.Object({ body: Type.String({ minLength: 1, maxLength: 4000 }) }, strict),
        response: { 200: Type.Object({ id: Type.String() }), ...errors("case_not_found") },
      },
    },
    (req) => response.addNote(req.params.caseId, req.body.body, agent(req)),
  );

  const RecoveryToken = Type.String({ minLength: 1, maxLength: 200 });

  app.post(
    "/v1/recovery/start",
    {
      config: { auth: "store" },
      schema: {
        operationId: "startRecovery",
        tags: ["recovery"],
        summary:
          "Send a recovery code to an email or phone that a locked-down account had, verified, before the compromise " +
          "window. Answers the same whether or not one was sent.",
        body: Type.Object(
          { identifier: Type.String({ minLength: 3, maxLength: 254 }), context: Type.Optional(Context) },
          strict,
        ),
        response: {
          202: Type.Object({ recoveryId: Type.String() }),
          ...errors("invalid_email", "invalid_phone", "invalid_request", "rate_limited"),
        },
      },
    },
    async (req, reply) => {
      const ctx = checkContext(req.body.context);
      const r = await recovery.start({ identifier: req.body.identifier, ip: ctx?.ip ?? null });
      return reply.status(202).send(r);
    },
  );

  app.post(
    "/v1/recovery/verify",
    {
      config: { auth: "store" },
      schema: {
        operationId: "verifyRecovery",
        tags: ["recovery"],
        summary: "Prove control of the address with the code; answers with a recovery token and the devices to review.",
        body: Type.Object(
          { recoveryId: Type.String({ minLength: 1, maxLength: 64 }), code: Code, context: Type.Optional(Context) },
          strict,
        ),
        response: {
          200: Type.Composite([Type.Object({ recoveryToken: Type.String() }), Devices]),
          ...errors("code_invalid", "invalid_request", "rate_limited", "recovery_invalid"),
        },
      },
    },
    (req) =>
      recovery.verify({
        recoveryId: req.body.recoveryId,
        code: req.body.code,
        ip: checkContext(req.body.context)?.ip ?? null,
      }),
  );

  app.post(
    "/v1/recovery/password",
    {
      config: { auth: "store" },
      schema: {
        operationId: "setRecoveryPassword",
        tags: ["recovery"],
        summary: "Set a new password: not one of the last 5, and not one in use during the compromise window.",
        body: Type.Object(
          { recoveryToken: RecoveryToken, newPassword: Password, context: Type.Optional(Context) },
          strict,
        ),
        response: {
          200: Ok,
          ...errors(
            "code_invalid",
            "invalid_request",
            "password_breached",
            "password_contains_context",
            "password_reused",
            "password_too_weak",
            "password_used_in_window",
            "rate_limited",
            "recovery_invalid",
          ),
        },
      },
    },
    async (req) => {
      await recovery.setPassword({
        recoveryToken: req.body.recoveryToken,
        newPassword: req.body.newPassword,
        ip: checkContext(req.body.context)?.ip ?? null,
      });
      return { ok: true as const };
    },
  );

  app.post(
    "/v1/recovery/devices",
    {
      config: { auth: "store" },
      schema: {
        operationId: "reviewRecoveryDevices",
        tags: ["recovery"],
        summary: "The owner names the sessions in the window that were theirs; the rest stay attacker sessions.",
        body: Type.Object(
          {
            recoveryToken: RecoveryToken,
            claimed: Type.Array(Type.String({ maxLength: 64 }), { maxItems: 100 }),
            context: Type.Optional(Context),
          },
          strict,
        ),
        response: { 200: Ok, ...errors("invalid_request", "recovery_invalid") },
      },
    },
    async (req) => {
      await recovery.reviewDevices({
        recoveryToken: req.body.recoveryToken,
        claimed: req.body.claimed,
        ip: checkContext(req.body.context)?.ip ?? null,
      });
      return { ok: true as const };
    },
  );

  app.post(
    "/v1/recovery/passkey/options",
    {
      config: { auth: "store" },
      schema: {
        operationId: "offerRecoveryPasskey",
        tags: ["recovery"],
        summary:
          "Offer a passkey before the account is unfrozen (before the authenticator app): options for " +
          "navigator.credentials.create(), bound to this recovery. After the new password.",
        body: Type.Object({ recoveryToken: RecoveryToken }, strict),
        response: {
          200: CreationOptions,
          ...errors("account_not_found", "passkey_limit", "recovery_invalid", "recovery_step_missing"),
        },
      },
    },
    (req) => recovery.offerPasskey({ recoveryToken: req.body.recoveryToken }),
  );

  app.post(
    "/v1/recovery/passkey",
    {
      config: { auth: "store" },
      schema: {
        operationId: "addRecoveryPasskey",
        tags: ["recovery"],
        summary:
          "Verify the browser's answer to offerRecoveryPasskey and add the passkey; the owner's addresses are told.",
        body: Type.Object(
          {
            recoveryToken: RecoveryToken,
            response: RegistrationResponse,
            name: Type.Optional(PasskeyName),
            context: Type.Optional(Context),
          },
          strict,
        ),
        response: {
          201: PasskeyView,
          ...errors(
            "invalid_request",
            "passkey_already_registered",
            "passkey_challenge_invalid",
            "passkey_invalid",
            "passkey_limit",
            "recovery_invalid",
            "recovery_step_missing",
          ),
        },
      },
    },
    async (req, reply) => {
      const view = await recovery.addPasskey({
        recoveryToken: req.body.recoveryToken,
        response: req.body.response as never,
        name: req.body.name,
        ip: checkContext(req.body.context)?.ip ?? null,
      });
      return reply.status(201).send(view);
    },
  );

  app.post(
    "/v1/recovery/totp",
    {
      config: { auth: "store" },
      schema: {
        operationId: "offerRecoveryTotp",
        tags: ["recovery"],
        summary:
          "Offer an authenticator app before the account is unfrozen: a secret and otpauth URI to scan " +
          "({offered:false} when one is already enrolled).",
        body: Type.Object({ recoveryToken: RecoveryToken }, strict),
        response: {
          200: Type.Object({
            offered: Type.Boolean(),
            secret: Type.Optional(Type.String()),
            uri: Type.Optional(Type.String()),
          }),
          ...errors("account_not_found", "recovery_invalid"),
        },
      },
    },
    (req) => recovery.offerTotp({ recoveryToken: req.body.recoveryToken }),
  );

  app.post(
    "/v1/recovery/totp/confirm",
    {
      config: { auth: "store" },
      schema: {
        operationId: "confirmRecoveryTotp",
        tags: ["recovery"],
        summary: "Confirm the offered authenticator with a code from it; answers 10 recovery codes (shown once).",
        body: Type.Object({ recoveryToken: RecoveryToken, code: Code, context: Type.Optional(Context) }, strict),
        response: {
          200: Type.Object({ recoveryCodes: Type.Array(Type.String()) }),
          ...errors(
            "account_not_found",
            "code_invalid",
            "invalid_request",
            "rate_limited",
            "recovery_invalid",
            "totp_already_enrolled",
            "totp_enrollment_not_started",
          ),
        },
      },
    },
    (req) =>
      recovery.confirmTotp({
        recoveryToken: req.body.recoveryToken,
        code: req.body.code,
        ip: checkContext(req.body.context)?.ip ?? null,
      }),
  );

  app.post(
    "/v1/recovery/complete",
    {
      config: { auth: "store" },
      schema: {
        operationId: "completeRecovery",
        tags: ["recovery"],
        summary: "Unfreeze the account once the password is new and the devices were reviewed.",
        body: Type.Object({ recoveryToken: RecoveryToken, context: Type.Optional(Context) }, strict),
        response: {
          200: Type.Object({ accountId: Type.String() }),
          ...errors("invalid_request", "recovery_invalid", "recovery_step_missing"),
        },
      },
    },
    (req) =>
      recovery.complete({ recoveryToken: req.body.recoveryToken, ip: checkContext(req.body.context)?.ip ?? null }),
  );
}
