import { Type } from "@sinclair/typebox";
import { answerFloor } from "../api/answer-floor.ts";
import { errors, Nullable, named } from "../api/schemas.ts";
import type { Http } from "../api/types.ts";
import {
  AuthenticationResponse,
  CreationOptions,
  PasskeyName,
  RegistrationResponse,
  RequestOptions,
} from "../identity/factors/passkey/routes.ts";
import { AccountFields, AccountView, LoginAttemptView } from "../identity/routes.ts";
import type { RouteDeps } from "../route-deps.ts";
import { AdminErrors } from "./errors.ts";

const AdminHeader = Type.Object({ authorization: Type.String({ description: "Bearer <admin session token>" }) });

const EventView = named(
  "AccountEvent",
  Type.Object({
    seq: Type.Integer(),
    type: Type.String(),
    at: Type.String({ format: "date-time" }),
    actor: Type.String(),
    ip: Nullable(Type.String()),
    data: Type.Record(Type.String(), Type.Unknown()),
    hash: Type.String(),
  }),
  "An event on the account's hash-chained log.",
);

const ContactHistory = Type.Object({
  kind: Type.String(),
  value: Type.String(),
  verified: Type.Boolean(),
  addedAt: Type.String({ format: "date-time" }),
  addedBy: Nullable(Type.String()),
  removedAt: Nullable(Type.String({ format: "date-time" })),
  removedBy: Nullable(Type.String()),
  recoveryUntil: Nullable(Type.String({ format: "date-time" })),
});

// Staff passkeys (admin/passkeys.ts): Mamori's own host is their relying party, the console their page.
const StaffPasskey = named(
  "StaffPasskey",
  Type.Object({
    id: Type.String(),
    name: Type.String(),
    createdAt: Type.String({ format: "date-time" }),
    lastUsedAt: Nullable(Type.String({ format: "date-time" })),
  }),
  "A passkey of a staff member, for signing in to the console.",
);

export function registerAdminRoutes(app: Http, deps: RouteDeps) {
  const { admin, identity, events } = deps;

  const staffOf = (req: { staff?: { adminId: string; username: string; sessionId: string } }) => {
    if (!req.staff) throw AdminErrors.admin_unauthorized();
    return req.staff;
  };
  const SignInAnswer = Type.Union([
    Type.Object({
      status: Type.Literal("signed_in"),
      token: Type.String(),
      expiresAt: Type.String({ format: "date-time" }),
    }),
    Type.Object({
      status: Type.Literal("setup_required"),
      token: Type.String({ description: "A setup session: only the password change and TOTP enrolment accept it." }),
      expiresAt: Type.String({ format: "date-time" }),
      required: Type.Array(Type.Union([Type.Literal("password_change"), Type.Literal("totp_enrolment")])),
    }),
    Type.Object({
      status: Type.Literal("totp_required"),
      challengeId: Type.String(),
      expiresAt: Type.String({ format: "date-time" }),
    }),
  ]);

  app.post(
    "/v1/admin/sign-in",
    {
      // A wrong password and an unknown or disabled name do the same argon2 work but not the same writes; held to
      // the common floor (MAMORI_ANSWER_FLOOR_MS) they leave at the same moment.
      onSend: answerFloor(deps.answerFloorMs),
      config: { auth: "public" },
      schema: {
        operationId: "adminSignIn",
        tags: ["admin"],
        summary:
          "Support staff sign-in, step 1 (username and password). Enrolled staff get a challenge for their TOTP code; " +
          "staff who still owe a password change or TOTP enrolment get a setup session. A wrong password and an " +
          "unknown username both answer 401 invalid_credentials; too many failures 429 rate_limited.",
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 100 }),
            password: Type.String({ minLength: 1, maxLength: 1024 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: SignInAnswer, ...errors("code_invalid", "invalid_credentials", "rate_limited") },
      },
    },
    (req) => admin.adminSignIn(req.body.username, req.body.password, req.ip),
  );

  app.post(
    "/v1/admin/sign-in/verify",
    {
      config: { auth: "public" },
      schema: {
        operationId: "adminSignInVerify",
        tags: ["admin"],
        summary: "Support staff sign-in, step 2: the code from the staff member's authenticator (5 tries, 5 minutes).",
        body: Type.Object(
          {
            challengeId: Type.String({ minLength: 1, maxLength: 200 }),
            code: Type.String({ minLength: 1, maxLength: 32 }),
          },
          { additionalProperties: false },
        ),
        response: { 200: SignInAnswer, ...errors("invalid_code", "rate_limited", "staff_challenge_invalid") },
      },
    },
    (req) => admin.adminSignInVerify(req.body.challengeId, req.body.code, req.ip),
  );

  app.post(
    "/v1/admin/sign-in/passkey/options",
    {
      config: { auth: "public" },
      schema: {
        operationId: "startStaffPasskeySignIn",
        tags: ["admin"],
        summary: "Options for a staff sign-in with a passkey (usernameless; user verification required).",
        response: { 200: RequestOptions },
      },
    },
    () => admin.startStaffPasskeySignIn(),
  );

  app.post(
    "/v1/admin/sign-in/passkey",
    {
      config: { auth: "public" },
      schema: {
        operationId: "staffPasskeySignIn",
        tags: ["admin"],
        summary:
          "Staff sign-in with a passkey, no password: its possession and user verification are the two factors, so " +
          "the answer is a session (or a setup session, when something is still owed), never a TOTP challenge.",
        body: Type.Object({ response: AuthenticationResponse }, { additionalProperties: false }),
        response: {
          200: SignInAnswer,
          ...errors(
            "invalid_credentials",
            "invalid_request",
            "passkey_challenge_invalid",
            "passkey_clone_suspected",
            "passkey_invalid",
          ),
        },
      },
    },
    (req) => admin.staffPasskeySignIn(req.body.response as never, req.ip),
  );

  app.post(
    "/v1/admin/passkeys/registration",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "startStaffPasskeyRegistration",
        tags: ["admin"],
        summary: "Options to add a passkey for the signed-in staff member; the sign-in must be under 10 minutes old.",
        headers: AdminHeader,
        response: {
          200: CreationOptions,
          ...errors("admin_unauthorized", "passkey_limit", "reauthentication_required"),
        },
      },
    },
    (req) => admin.startStaffPasskeyRegistration(staffOf(req)),
  );

  app.post(
    "/v1/admin/passkeys",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "addStaffPasskey",
        tags: ["admin"],
        summary: "Verify the browser's answer and add the passkey (recorded in the staff log).",
        headers: AdminHeader,
        body: Type.Object(
          { response: RegistrationResponse, name: Type.Optional(PasskeyName) },
          { additionalProperties: false },
        ),
        response: {
          201: StaffPasskey,
          ...errors(
            "admin_unauthorized",
            "invalid_request",
            "passkey_already_registered",
            "passkey_challenge_invalid",
            "passkey_invalid",
            "passkey_limit",
            "reauthentication_required",
          ),
        },
      },
    },
    async (req, reply) =>
      reply
        .status(201)
        .send(
          await admin.finishStaffPasskeyRegistration(
            staffOf(req),
            { response: req.body.response as never, name: req.body.name },
            req.ip,
          ),
        ),
  );

  app.get(
    "/v1/admin/passkeys",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "listStaffPasskeys",
        tags: ["admin"],
        summary: "The signed-in staff member's passkeys.",
        headers: AdminHeader,
        response: { 200: Type.Object({ passkeys: Type.Array(StaffPasskey) }), ...errors("admin_unauthorized") },
      },
    },
    async (req) => ({ passkeys: await admin.listStaffPasskeys(staffOf(req)) }),
  );

  app.delete(
    "/v1/admin/passkeys/:passkeyId",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "removeStaffPasskey",
        tags: ["admin"],
        summary: "Remove one of the signed-in staff member's passkeys (recorded in the staff log).",
        headers: AdminHeader,
        params: Type.Object({ passkeyId: Type.String({ maxLength: 64 }) }),
        response: {
          200: Type.Object({ ok: Type.Literal(true) }),
          ...errors("admin_unauthorized", "passkey_not_found"),
        },
      },
    },
    async (req) => {
      await admin.removeStaffPasskey(staffOf(req), req.params.passkeyId, req.ip);
      return { ok: true as const };
    },
  );

  app.get(
    "/v1/admin/me",
    {
      config: { auth: "admin-setup" },
      schema: {
        operationId: "getStaffStatus",
        tags: ["admin"],
        summary: "The signed-in staff member and what they still owe (a password change, TOTP enrolment).",
        headers: AdminHeader,
        response: {
          200: Type.Object({
            username: Type.String(),
            required: Type.Array(Type.String()),
            totpEnrolled: Type.Boolean(),
          }),
          ...errors("admin_unauthorized"),
        },
      },
    },
    (req) => admin.staffStatus(staffOf(req).adminId),
  );

  app.post(
    "/v1/admin/password",
    {
      config: { auth: "admin-setup" },
      schema: {
        operationId: "changeStaffPassword",
        tags: ["admin"],
        summary:
          "A staff member changes their own password: the current one, and the TOTP code once enrolled. The new " +
          "one meets the password policy. Ends the staff member's other sessions.",
        headers: AdminHeader,
        body: Type.Object(
          {
            currentPassword: Type.String({ minLength: 1, maxLength: 1024 }),
            newPassword: Type.String({ minLength: 1, maxLength: 1024 }),
            code: Type.Optional(Type.String({ minLength: 1, maxLength: 32 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ ok: Type.Literal(true) }),
          ...errors(
            "admin_unauthorized",
            "code_invalid",
            "invalid_code",
            "invalid_credentials",
            "password_breached",
            "password_contains_context",
            "password_too_weak",
            "rate_limited",
            "staff_code_required",
            "staff_password_unchanged",
          ),
        },
      },
    },
    async (req) => {
      await admin.changeStaffPassword(staffOf(req), req.body, req.ip);
      return { ok: true as const };
    },
  );

  app.post(
    "/v1/admin/totp/setup",
    {
      config: { auth: "admin-setup" },
      schema: {
        operationId: "setupStaffTotp",
        tags: ["admin"],
        summary: "Starts TOTP enrolment: a new secret and its otpauth:// URI (for a QR code). Confirm with a code.",
        headers: AdminHeader,
        body: Type.Optional(Type.Object({}, { additionalProperties: false })),
        response: {
          200: Type.Object({ secret: Type.String(), uri: Type.String() }),
          ...errors("admin_unauthorized", "staff_totp_enrolled"),
        },
      },
    },
    (req) => admin.setupStaffTotp(staffOf(req)),
  );

  app.post(
    "/v1/admin/totp/confirm",
    {
      config: { auth: "admin-setup" },
      schema: {
        operationId: "confirmStaffTotp",
        tags: ["admin"],
        summary: "Finishes TOTP enrolment with a code from the new authenticator.",
        headers: AdminHeader,
        body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 32 }) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ ok: Type.Literal(true) }),
          ...errors(
            "admin_unauthorized",
            "invalid_code",
            "rate_limited",
            "staff_totp_enrolled",
            "staff_totp_not_started",
          ),
        },
      },
    },
    async (req) => {
      await admin.confirmStaffTotp(staffOf(req), req.body.code, req.ip);
      return { ok: true as const };
    },
  );

  app.post(
    "/v1/admin/sign-out",
    {
      config: { auth: "admin-setup" },
      schema: {
        operationId: "adminSignOut",
        tags: ["admin"],
        summary: "Ends the caller's staff session.",
        headers: AdminHeader,
        response: { 200: Type.Object({ ok: Type.Literal(true) }), ...errors("admin_unauthorized", "rate_limited") },
      },
    },
    async (req) => {
      await admin.adminSignOut(staffOf(req), req.ip);
      return { ok: true as const };
    },
  );

  app.get(
    "/v1/admin/staff-log",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "getStaffLog",
        tags: ["admin"],
        summary: "The staff audit log (hash-chained; newest first): sign-ins, failures, throttling, changes.",
        headers: AdminHeader,
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          beforeSeq: Type.Optional(Type.Integer({ minimum: 1 })),
        }),
        response: {
          200: Type.Object({
            events: Type.Array(
              Type.Object({
                seq: Type.Integer(),
                type: Type.String(),
                at: Type.String({ format: "date-time" }),
                staffId: Nullable(Type.String()),
                username: Nullable(Type.String()),
                actor: Type.String(),
                ip: Nullable(Type.String()),
                data: Type.Record(Type.String(), Type.Unknown()),
                hash: Type.String(),
              }),
            ),
          }),
          ...errors("rate_limited"),
        },
      },
    },
    async (req) => ({
      events: (await admin.audit.list({ limit: req.query.limit ?? 100, beforeSeq: req.query.beforeSeq })).map((e) => ({
        seq: e.seq,
        type: e.type,
        at: new Date(e.at).toISOString(),
        staffId: e.staffId,
        username: e.username,
        actor: e.actor,
        ip: e.ip,
        data: e.data,
        hash: e.hash,
      })),
    }),
  );

  app.post(
    "/v1/admin/accounts/:accountId/sessions/end",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "endAccountSessions",
        tags: ["admin"],
        summary:
          "Support ends every session and app password of an account without a lockdown (nothing frozen or rolled " +
          "back). The reason is required; the account's event log and the staff log record it, and the owner is told.",
        headers: AdminHeader,
        params: Type.Object({ accountId: Type.String({ maxLength: 64 }) }),
        body: Type.Object({ reason: Type.Optional(Type.String({ maxLength: 500 })) }, { additionalProperties: false }),
        response: {
          200: Type.Object({ sessionsEnded: Type.Integer(), appPasswordsRevoked: Type.Integer() }),
          ...errors("account_not_found", "admin_unauthorized", "rate_limited", "reason_required"),
        },
      },
    },
    (req) => admin.endUserSessions(staffOf(req), req.params.accountId, req.body?.reason ?? "", req.ip),
  );

  app.get(
    "/v1/admin/accounts",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "findAccounts",
        tags: ["admin"],
        summary:
          "Find accounts by any email or phone ever attached to them, by account id, by order id (buyer and seller) " +
          "or by gift card code (purchaser, recipient and the account it was redeemed into).",
        headers: AdminHeader,
        querystring: Type.Object({ q: Type.String({ minLength: 3, maxLength: 254 }) }),
        response: {
          200: Type.Object({
            accounts: Type.Array(
              Type.Composite([
                AccountFields,
                Type.Object({
                  matched: Type.Array(
                    Type.Object({
                      kind: Type.String(),
                      value: Type.String(),
                      current: Type.Boolean(),
                      addedAt: Type.String({ format: "date-time" }),
                      removedAt: Nullable(Type.String({ format: "date-time" })),
                    }),
                  ),
                }),
              ]),
            ),
          }),
          ...errors("account_not_found", "invalid_phone", "rate_limited"),
        },
      },
    },
    async (req) => ({
      accounts: await identity.findAccounts(req.query.q, await deps.findByOrderOrGiftCard(req.query.q)),
    }),
  );

  app.get(
    "/v1/admin/accounts/:accountId/timeline",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "getAccountTimeline",
        tags: ["admin"],
        summary: "The account's hash-chained event log (newest first), address history and sign-in attempts.",
        headers: AdminHeader,
        params: Type.Object({ accountId: Type.String({ maxLength: 64 }) }),
        querystring: Type.Object({
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
          beforeSeq: Type.Optional(Type.Integer({ minimum: 1 })),
        }),
        response: {
          200: Type.Object({
            account: AccountView,
            contacts: Type.Array(ContactHistory),
            events: Type.Array(EventView),
            loginAttempts: Type.Array(LoginAttemptView),
          }),
          ...errors("account_not_found", "rate_limited"),
        },
      },
    },
    async (req) => {
      const id = req.params.accountId;
      const account = await identity.getAccount(id);
      const list = await events.list(id, { limit: req.query.limit ?? 200, beforeSeq: req.query.beforeSeq });
      return {
        account,
        contacts: await identity.contactHistory(id),
        events: list.map((e) => ({
          seq: e.seq,
          type: e.type,
          at: new Date(e.at).toISOString(),
          actor: e.actor,
          ip: e.ip,
          data: e.data,
          hash: e.hash,
        })),
        loginAttempts: await identity.listLoginHistory(id, 100),
      };
    },
  );
}
