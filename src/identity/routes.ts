import { Type } from "@sinclair/typebox";
import { answerFloor, signedIn } from "../api/answer-floor.ts";
import { checkContext, userSession } from "../api/context.ts";
import {
  Code,
  Context,
  Device,
  Email,
  errors,
  Language,
  LinkToken,
  Nullable,
  named,
  Ok,
  Password,
  SessionRef,
} from "../api/schemas.ts";
import type { Http } from "../api/types.ts";
import type { RouteDeps } from "../route-deps.ts";
import { AuthenticationResponse } from "./factors/passkey/routes.ts";

const SessionHeader = Type.Object({
  "x-mamori-session": Type.String({ description: "The end user's session token." }),
});
const OptCtx = Type.Optional(Context);
// A registered factor's kind (identity/factors/registry.ts): the built-in ones, or one a deployment plugged in.
const Factor = Type.String({
  pattern: "^[a-z][a-z0-9_]{0,31}$",
  description: "A second factor's kind: totp, recovery_code, email_code, passkey, or another registered factor's.",
  examples: ["totp"],
});

const SignInResult = named(
  "SignInResult",
  Type.Union([
    Type.Object({ status: Type.Literal("signed_in"), accountId: Type.String(), session: SessionRef }),
    Type.Object({
      status: Type.Literal("challenge"),
      challengeToken: Type.String(),
      factors: Type.Array(Factor),
      expiresAt: Type.String({ format: "date-time" }),
    }),
  ]),
  "A session, or a second-factor challenge to complete.",
);

const ContactView = named(
  "Contact",
  Type.Object({
    value: Type.String(),
    verified: Type.Boolean(),
    primary: Type.Boolean(),
    addedAt: Type.String({ format: "date-time" }),
  }),
  "An email address or phone number on the account.",
);
export const AccountFields = Type.Object({
  id: Type.String(),
  status: Type.String(),
  language: Language,
  createdAt: Type.String({ format: "date-time" }),
  passwordChangedAt: Nullable(Type.String({ format: "date-time" })),
  passwordResetRequired: Type.Boolean(),
  emails: Type.Array(ContactView),
  phones: Type.Array(ContactView),
  totpEnabled: Type.Boolean(),
  recoveryCodesLeft: Type.Integer(),
});
export const AccountView = named("Account", AccountFields, "The account as its owner sees it.");

const AppPasswordView = named(
  "AppPassword",
  Type.Object({
    id: Type.String(),
    name: Type.String(),
    createdAt: Type.String({ format: "date-time" }),
    active: Type.Boolean(),
    revokedAt: Nullable(Type.String({ format: "date-time" })),
    revokedReason: Nullable(Type.String()),
    lastUsedAt: Nullable(Type.String({ format: "date-time" })),
    lastUsedIp: Nullable(Type.String()),
    lastUsedCountry: Nullable(Type.String()),
  }),
  "A password for one app, usable only with the app-password channel.",
);

export const LoginAttemptView = named(
  "LoginAttempt",
  Type.Object({
    id: Type.String(),
    at: Type.String({ format: "date-time" }),
    outcome: Type.String(),
    reason: Nullable(Type.String()),
    channel: Type.String(),
    ip: Type.String(),
    country: Nullable(Type.String()),
    asn: Nullable(Type.Integer()),
    device: Device,
    sessionId: Nullable(Type.String()),
  }),
  "One sign-in attempt, with where and what it came from.",
);

const RecoveryCodes = named(
  "RecoveryCodes",
  Type.Object({
    recoveryCodes: Type.Array(Type.String(), { description: "Shown once." }),
    session: SessionRef,
  }),
  "One-time recovery codes (shown once) and the session that replaces the current one.",
);
const strict = { additionalProperties: false } as const;

export function registerIdentityRoutes(app: Http, deps: RouteDeps) {
  const { identity, sessions } = deps;
  const me = (req: Parameters<typeof userSession>[1]) => userSession(sessions, req);
  const ok = { ok: true as const };
  const tag = (t: string) => ({ tags: [t] });
  // Answers whose timing must not tell a right password from a wrong one, or a known address from an unknown one.
  const floored = { onSend: answerFloor(deps.answerFloorMs) };
  const flooredUnlessSignedIn = { onSend: answerFloor(deps.answerFloorMs, signedIn) };

  app.post(
    "/v1/accounts",
    {
      ...floored,
      schema: {
        operationId: "createAccount",
        ...tag("accounts"),
        summary:
          "Start a sign-up: a code goes to the email (or, if the address has an account, a note saying so). Always 202.",
        body: Type.Object(
          { email: Email, password: Password, language: Type.Optional(Language), context: Context },
          strict,
        ),
        response: {
          202: Type.Object({ signupId: Type.String(), expiresAt: Type.String({ format: "date-time" }) }),
          ...errors(
            "code_invalid",
            "invalid_email",
            "invalid_request",
            "password_breached",
            "password_contains_context",
            "password_reused",
            "password_too_weak",
            "rate_limited",
          ),
        },
      },
    },
    async (req, reply) => {
      checkContext(req.body.context);
      return reply.status(202).send(await identity.createAccount(req.body));
    },
  );

  app.post(
    "/v1/accounts/confirm",
    {
      schema: {
        operationId: "confirmSignUp",
        ...tag("accounts"),
        summary: "Finish a sign-up with the emailed code: creates the account (address verified) and signs it in.",
        body: Type.Object(
          { signupId: Type.String({ minLength: 1, maxLength: 64 }), code: Code, context: Context },
          strict,
        ),
        response: {
          201: Type.Object({ accountId: Type.String(), session: SessionRef }),
          ...errors(
            "account_not_found",
            "code_expired",
            "code_invalid",
            "email_taken",
            "invalid_request",
            "rate_limited",
          ),
        },
      },
    },
    async (req, reply) => {
      checkContext(req.body.context);
      return reply.status(201).send(await identity.confirmSignUp(req.body));
    },
  );

  app.get(
    "/v1/account",
    {
      schema: {
        operationId: "getAccount",
        ...tag("accounts"),
        summary: "The signed-in user's account.",
        headers: SessionHeader,
        response: { 200: AccountView, ...errors("account_not_found", "session_invalid") },
      },
    },
    async (req) => identity.getAccount((await me(req)).account_id),
  );

  const ContactKind = Type.Union([Type.Literal("email"), Type.Literal("phone")]);
  app.post(
    "/v1/contacts/verification",
    {
      schema: {
        operationId: "requestContactVerification",
        ...tag("accounts"),
        summary: "Send a verification code to one of the account's unverified addresses.",
        headers: SessionHeader,
        body: Type.Object({ kind: ContactKind, value: Type.String({ minLength: 3, maxLength: 254 }) }, strict),
        response: {
          200: Ok,
          ...errors(
            "account_not_found",
            "contact_already_verified",
            "contact_not_found",
            "invalid_email",
            "invalid_phone",
            "session_invalid",
          ),
        },
      },
    },
    async (req) => {
      await identity.requestContactVerification(await me(req), req.body);
      return ok;
    },
  );

  app.post(
    "/v1/contacts/verification/confirm",
    {
      schema: {
        operationId: "confirmContactVerification",
        ...tag("accounts"),
        summary: "Confirm an address with the code sent to it.",
        headers: SessionHeader,
        body: Type.Object({ kind: ContactKind, code: Code, context: OptCtx }, strict),
        response: {
          200: Ok,
          ...errors(
            "code_expired",
            "code_invalid",
            "code_replayed",
            "contact_not_found",
            "invalid_request",
            "rate_limited",
            "session_invalid",
          ),
        },
      },
    },
    async (req) => {
      const ctx = checkContext(req.body.context);
      await identity.confirmContactVerification(await me(req), req.body, ctx?.ip ?? null);
      return ok;
    },
  );

  app.post(
    "/v1/sign-in",
    {
      ...flooredUnlessSignedIn,
      schema: {
        operationId: "signIn",
        ...tag("sign-in"),
        summary:
          "Password sign-in: a session, or a second-factor challenge. In a risky context the answer is a challenge whether or not the password was right.",
        body: Type.Object({ email: Email, password: Password, context: Context }, strict),
        response: {
          200: SignInResult,
          ...errors(
            "account_frozen",
            "account_locked",
            "account_not_found",
            "code_invalid",
            "invalid_credentials",
            "invalid_email",
            "invalid_request",
            "password_reset_required",
            "rate_limited",
            "unavailable",
          ),
        },
      },
    },
    async (req) => {
      checkContext(req.body.context);
      return identity.signIn(req.body);
    },
  );

  app.post(
    "/v1/sign-in/challenge/code",
    {
      ...floored,
      schema: {
        operationId: "sendSignInChallengeCode",
        ...tag("sign-in"),
        summary: "Email a one-time sign-in code for a pending challenge (fallback factor).",
        body: Type.Object({ challengeToken: LinkToken }, strict),
        response: {
          200: Type.Object({ sentTo: Type.Integer() }),
          ...errors("account_not_found", "challenge_invalid", "factor_unavailable", "rate_limited"),
        },
      },
    },
    (req) => identity.sendSignInChallengeCode(req.body),
  );

  app.post(
    "/v1/sign-in/challenge",
    {
      ...flooredUnlessSignedIn,
      schema: {
        operationId: "completeSignInChallenge",
        ...tag("sign-in"),
        summary:
          "Complete a sign-in with a TOTP code, a recovery code or an emailed code (code), or a passkey (passkey: the answer to startPasskeySignIn's second_factor options).",
        body: Type.Object(
          {
            challengeToken: LinkToken,
            factor: Factor,
            code: Type.Optional(Code),
            passkey: Type.Optional(AuthenticationResponse),
            context: OptCtx,
          },
          strict,
        ),
        response: {
          200: SignInResult,
          ...errors(
            "account_frozen",
            "account_locked",
            "account_not_found",
            "challenge_failed",
            "challenge_invalid",
            "code_expired",
            "code_invalid",
            "code_replayed",
            "factor_unavailable",
            "invalid_request",
            "password_reset_required",
            "rate_limited",
          ),
        },
      },
    },
    async (req) => {
      checkContext(req.body.context);
      return identity.completeSignInChallenge(req.body as never);
    },
  );

  app.post(
    "/v1/sign-in/challenge/factor-reset",
    {
      ...floored,
      schema: {
        operationId: "requestFactorReset",
        ...tag("sign-in"),
        summary:
          "Lost the authenticator and its recovery codes: remove it after a waiting period (72 h), told at once to every verified address with a cancel link.",
        body: Type.Object({ challengeToken: LinkToken, context: OptCtx }, strict),
        response: {
          202: Type.Object({ dueAt: Type.String({ format: "date-time" }) }),
          ...errors("account_not_found", "challenge_invalid", "invalid_request", "rate_limited", "totp_not_enrolled"),
        },
      },
    },
    async (req, reply) => {
      checkContext(req.body.context);
      return reply.status(202).send(await identity.requestFactorReset(req.body));
    },
  );

  app.post(
    "/v1/factor-reset/cancel",
    {
      config: { auth: "public" },
      schema: {
        operationId: "cancelFactorReset",
        ...tag("sign-in"),
        summary: "The one-click cancel link of a pending authenticator removal.",
        body: Type.Object({ token: LinkToken, context: OptCtx }, strict),
        response: { 200: Ok, ...errors("invalid_request", "link_invalid") },
      },
    },
    async (req) => {
      checkContext(req.body.context);
      await identity.cancelFactorReset(req.body);
      return ok;
    },
  );

  app.post(
    "/v1/sign-in/app-password",
    {
      ...flooredUnlessSignedIn,
      schema: {
        operationId: "signInWithAppPassword",
        ...tag("sign-in"),
        summary: "Sign a mail or legacy client in with an app password; answers with a short session.",
        body: Type.Object(
          { email: Email, appPassword: Type.String({ minLength: 1, maxLength: 128 }), context: Context },
          strict,
        ),
        response: {
          200: SignInResult,
          ...errors(
            "account_not_found",
            "invalid_credentials",
            "invalid_email",
            "invalid_request",
            "rate_limited",
            "unavailable",
          ),
        },
      },
    },
    async (req) => {
      checkContext(req.body.context);
      return identity.signInWithAppPassword(req.body);
    },
  );

  app.post(
    "/v1/session/reauthenticate",
    {
      schema: {
        operationId: "reauthenticate",
        ...tag("sign-in"),
        summary:
          "Refresh the session's authentication (and second factor) before a sensitive change: the password and a second factor, or a passkey (a step_up challenge from startPasskeySignIn) alone. Answers a new session token: the old one stops working.",
        headers: SessionHeader,
        body: Type.Object(
          {
            password: Type.Optional(Password),
            passkey: Type.Optional(AuthenticationResponse),
            totpCode: Type.Optional(Code),
            recoveryCode: Type.Optional(Code),
            emailCode: Type.Optional(Code),
          },
          strict,
        ),
        response: {
          200: Type.Object({ secondFactor: Type.Boolean(), session: SessionRef }),
          ...errors(
            "account_not_found",
            "code_expired",
            "code_invalid",
            "code_replayed",
            "factor_unavailable",
            "invalid_credentials",
            "passkey_challenge_invalid",
            "passkey_clone_suspected",
            "passkey_invalid",
            "rate_limited",
            "session_invalid",
          ),
        },
      },
    },
    async (req) => identity.reauthenticate(await me(req), req.body as never),
  );

  app.post(
    "/v1/session/reauthenticate/code",
    {
      schema: {
        operationId: "requestStepUpCode",
        ...tag("sign-in"),
        summary:
          "Email a code for re-authentication (accounts without an authenticator); send it as emailCode to reauthenticate.",
        headers: SessionHeader,
        body: Type.Object({}, strict),
        response: {
          200: Type.Object({ sentTo: Type.Integer() }),
          ...errors(
            "account_not_found",
            "factor_unavailable",
            "invalid_credentials",
            "rate_limited",
            "session_invalid",
          ),
        },
      },
    },
    async (req) => identity.requestStepUpCode(await me(req)),
  );

  app.post(
    "/v1/password",
    {
      schema: {
        operationId: "changePassword",
        ...tag("credentials"),
        summary:
          "Change the password (fresh sign-in required); ends every other session and gives this one a new token.",
        headers: SessionHeader,
        body: Type.Object({ currentPassword: Password, newPassword: Password, context: OptCtx }, strict),
        response: {
          200: Type.Object({ ok: Type.Literal(true), session: SessionRef }),
          ...errors(
            "account_frozen",
            "account_not_found",
            "code_invalid",
            "current_password_wrong",
            "invalid_request",
            "password_breached",
            "password_contains_context",
            "password_reused",
            "password_too_weak",
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
      const r = await identity.changePassword(await me(req), req.body, ctx?.ip ?? null);
      return { ok: true as const, session: r.session };
    },
  );

  app.post(
    "/v1/password/reset-request",
    {
      ...floored,
      schema: {
        operationId: "requestPasswordReset",
        ...tag("credentials"),
        summary: "Email a reset link (30 min, single use). Always 202, known address or not.",
        body: Type.Object({ email: Email, context: Context }, strict),
        response: { 202: Ok, ...errors("account_not_found", "invalid_email", "invalid_request", "rate_limited") },
      },
    },
    async (req, reply) => {
      checkContext(req.body.context);
      await identity.requestPasswordReset(req.body);
      return reply.status(202).send(ok);
    },
  );

  app.post(
    "/v1/password/reset",
    {
      config: { auth: "public" },
      schema: {
        operationId: "resetPassword",
        ...tag("credentials"),
        summary: "Set a new password with a reset token; ends every session.",
        body: Type.Object({ token: LinkToken, newPassword: Password, context: OptCtx }, strict),
        response: {
          200: Ok,
          ...errors(
            "account_frozen",
            "account_not_found",
            "code_invalid",
            "invalid_request",
            "password_breached",
            "password_contains_context",
            "password_reused",
            "password_too_weak",
            "rate_limited",
            "reset_token_invalid",
          ),
        },
      },
    },
    async (req) => {
      checkContext(req.body.context);
      await identity.resetPassword(req.body);
      return ok;
    },
  );

  app.post(
    "/v1/email/change",
    {
      schema: {
        operationId: "requestEmailChange",
        ...tag("credentials"),
        summary: "Send a confirmation code to the new address (fresh sign-in required).",
        headers: SessionHeader,
        body: Type.Object({ newEmail: Email }, strict),
        response: {
          200: Ok,
          ...errors(
            "account_frozen",
            "account_not_found",
            "email_taken",
            "invalid_email",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
          ),
        },
      },
    },
    async (req) => {
      await identity.requestEmailChange(await me(req), req.body);
      return ok;
    },
  );

  app.post(
    "/v1/email/change/confirm",
    {
      schema: {
        operationId: "confirmEmailChange",
        ...tag("credentials"),
        summary: "Confirm the new address; the old one is told at once with a 30-day revert link.",
        headers: SessionHeader,
        body: Type.Object({ code: Code, context: OptCtx }, strict),
        response: {
          200: Ok,
          ...errors(
            "account_frozen",
            "account_not_found",
            "code_expired",
            "code_invalid",
            "code_replayed",
            "email_taken",
            "invalid_request",
            "no_pending_email_change",
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
      await identity.confirmEmailChange(await me(req), req.body, ctx?.ip ?? null);
      return ok;
    },
  );

  app.post(
    "/v1/email/change/revert",
    {
      config: { auth: "public" },
      schema: {
        operationId: "revertEmailChange",
        ...tag("credentials"),
        summary: "The old address's link: restore it, end every session, lock until password reset.",
        body: Type.Object({ token: LinkToken, context: OptCtx }, strict),
        response: { 200: Ok, ...errors("account_not_found", "conflict", "invalid_request", "link_invalid") },
      },
    },
    async (req) => {
      checkContext(req.body.context);
      await identity.revertEmailChange(req.body);
      return ok;
    },
  );

  app.post(
    "/v1/phones",
    {
      schema: {
        operationId: "addPhone",
        ...tag("credentials"),
        summary: "Add a phone number (fresh sign-in required); a code is texted to it.",
        headers: SessionHeader,
        body: Type.Object({ phone: Type.String({ minLength: 7, maxLength: 32 }) }, strict),
        response: {
          200: Ok,
          ...errors(
            "account_frozen",
            "account_not_found",
            "invalid_phone",
            "phone_taken",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
          ),
        },
      },
    },
    async (req) => {
      await identity.addPhone(await me(req), req.body);
      return ok;
    },
  );

  app.post(
    "/v1/phones/remove",
    {
      schema: {
        operationId: "removePhone",
        ...tag("credentials"),
        summary: "Remove a phone number (fresh sign-in required).",
        headers: SessionHeader,
        body: Type.Object({ phone: Type.String({ minLength: 7, maxLength: 32 }) }, strict),
        response: {
          200: Ok,
          ...errors(
            "account_frozen",
            "account_not_found",
            "contact_not_found",
            "invalid_phone",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
          ),
        },
      },
    },
    async (req) => {
      await identity.removePhone(await me(req), req.body);
      return ok;
    },
  );

  app.post(
    "/v1/totp",
    {
      schema: {
        operationId: "enrollTotp",
        ...tag("credentials"),
        summary: "Start authenticator-app enrolment: a secret and otpauth:// URI to scan.",
        headers: SessionHeader,
        response: {
          200: Type.Object({ secret: Type.String(), uri: Type.String() }),
          ...errors(
            "account_frozen",
            "account_not_found",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
            "totp_already_enrolled",
          ),
        },
      },
    },
    async (req) => identity.enrollTotp(await me(req)),
  );

  app.post(
    "/v1/totp/confirm",
    {
      schema: {
        operationId: "confirmTotp",
        ...tag("credentials"),
        summary: "Finish enrolment with a code from the app; returns 10 single-use recovery codes.",
        headers: SessionHeader,
        body: Type.Object({ code: Code, context: OptCtx }, strict),
        response: {
          200: RecoveryCodes,
          ...errors(
            "account_frozen",
            "account_not_found",
            "code_invalid",
            "invalid_request",
            "rate_limited",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
            "totp_already_enrolled",
            "totp_enrollment_not_started",
          ),
        },
      },
    },
    async (req) => {
      const ctx = checkContext(req.body.context);
      return identity.confirmTotp(await me(req), req.body, ctx?.ip ?? null);
    },
  );

  app.post(
    "/v1/totp/disable",
    {
      schema: {
        operationId: "disableTotp",
        ...tag("credentials"),
        summary:
          "Remove the authenticator app and recovery codes: needs a fresh sign-in with the authenticator or a recovery code.",
        headers: SessionHeader,
        body: Type.Object({ context: OptCtx }, strict),
        response: {
          200: Type.Object({ ok: Type.Literal(true), session: SessionRef }),
          ...errors(
            "account_frozen",
            "account_not_found",
            "invalid_request",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
            "totp_not_enrolled",
          ),
        },
      },
    },
    async (req) => {
      const ctx = checkContext(req.body.context);
      const r = await identity.disableTotp(await me(req), ctx?.ip ?? null);
      return { ok: true as const, session: r.session };
    },
  );

  app.post(
    "/v1/recovery-codes",
    {
      schema: {
        operationId: "regenerateRecoveryCodes",
        ...tag("credentials"),
        summary: "Replace the recovery codes; the old ones stop working.",
        headers: SessionHeader,
        body: Type.Object({ context: OptCtx }, strict),
        response: {
          200: RecoveryCodes,
          ...errors(
            "account_frozen",
            "account_not_found",
            "invalid_request",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
            "totp_not_enrolled",
          ),
        },
      },
    },
    async (req) => {
      const ctx = checkContext(req.body.context);
      return identity.regenerateRecoveryCodes(await me(req), ctx?.ip ?? null);
    },
  );

  app.post(
    "/v1/app-passwords",
    {
      schema: {
        operationId: "createAppPassword",
        ...tag("credentials"),
        summary: "Create a named app password for a mail or legacy client; shown once.",
        headers: SessionHeader,
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 64 }), context: OptCtx }, strict),
        response: {
          201: Type.Object({
            id: Type.String(),
            name: Type.String(),
            password: Type.String(),
            createdAt: Type.String({ format: "date-time" }),
          }),
          ...errors(
            "account_frozen",
            "account_not_found",
            "invalid_request",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
          ),
        },
      },
    },
    async (req, reply) => {
      const ctx = checkContext(req.body.context);
      return reply.status(201).send(await identity.createAppPassword(await me(req), req.body, ctx?.ip ?? null));
    },
  );

  app.get(
    "/v1/app-passwords",
    {
      schema: {
        operationId: "listAppPasswords",
        ...tag("credentials"),
        summary: "App passwords with their last use and country.",
        headers: SessionHeader,
        response: { 200: Type.Object({ appPasswords: Type.Array(AppPasswordView) }), ...errors("session_invalid") },
      },
    },
    async (req) => ({ appPasswords: await identity.listAppPasswords(await me(req)) }),
  );

  app.delete(
    "/v1/app-passwords/:appPasswordId",
    {
      schema: {
        operationId: "revokeAppPassword",
        ...tag("credentials"),
        summary: "Revoke an app password; ends every other session and app password session.",
        headers: SessionHeader,
        params: Type.Object({ appPasswordId: Type.String({ maxLength: 64 }) }),
        response: { 200: Ok, ...errors("app_password_not_found", "session_invalid") },
      },
    },
    async (req) => {
      await identity.revokeAppPassword(await me(req), req.params.appPasswordId, null);
      return ok;
    },
  );

  app.get(
    "/v1/login-history",
    {
      schema: {
        operationId: "listLoginHistory",
        ...tag("sessions"),
        summary: "Every sign-in attempt on the account: succeeded, failed, challenged, denied.",
        headers: SessionHeader,
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }),
        response: {
          200: Type.Object({ attempts: Type.Array(LoginAttemptView) }),
          ...errors("rate_limited", "session_invalid"),
        },
      },
    },
    async (req) => ({ attempts: await identity.listLoginHistory((await me(req)).account_id, req.query.limit) }),
  );

  app.post(
    "/v1/not-me",
    {
      config: { auth: "public" },
      schema: {
        operationId: "reportNotMe",
        ...tag("accounts"),
        summary: "The single-use 'This wasn't me' link from a security notice: ends every session, requires a reset.",
        body: Type.Object({ token: LinkToken, context: OptCtx }, strict),
        response: { 200: Ok, ...errors("account_not_found", "invalid_request", "link_invalid") },
      },
    },
    async (req) => {
      checkContext(req.body.context);
      await identity.reportNotMe(req.body);
      return ok;
    },
  );
}
