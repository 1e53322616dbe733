import { Type } from "@sinclair/typebox";
import { checkContext, SESSION_HEADER, userSession } from "../../../api/context.ts";
import { Context, errors, Nullable, named, Ok, SessionRef } from "../../../api/schemas.ts";
import type { Http } from "../../../api/types.ts";
import type { RouteDeps } from "../../../route-deps.ts";

const SessionHeader = Type.Object({
  "x-mamori-session": Type.String({ description: "The end user's session token." }),
});
const strict = { additionalProperties: false } as const;
const open = { additionalProperties: true } as const;
const B64u = (description: string) => Type.String({ minLength: 1, maxLength: 16_384, description });
const Transports = Type.Array(Type.String({ maxLength: 32 }), { maxItems: 8 });
const CredentialRef = Type.Object({
  id: B64u("base64url credential id"),
  type: Type.Literal("public-key"),
  transports: Type.Optional(Transports),
});

export const CreationOptions = named(
  "PasskeyCreationOptions",
  Type.Object(
    {
      challenge: B64u("single use, 5 minutes"),
      rp: Type.Object({ name: Type.String(), id: Type.Optional(Type.String()) }),
      user: Type.Object({ id: Type.String(), name: Type.String(), displayName: Type.String() }),
      pubKeyCredParams: Type.Array(Type.Object({ type: Type.Literal("public-key"), alg: Type.Integer() })),
      timeout: Type.Optional(Type.Integer()),
      excludeCredentials: Type.Optional(Type.Array(CredentialRef)),
      authenticatorSelection: Type.Optional(Type.Object({}, open)),
      attestation: Type.Optional(Type.String()),
      extensions: Type.Optional(Type.Object({}, open)),
      hints: Type.Optional(Type.Array(Type.String())),
    },
    open,
  ),
  "PublicKeyCredentialCreationOptionsJSON: pass to @simplewebauthn/browser startRegistration({ optionsJSON }).",
);
export const RequestOptions = named(
  "PasskeyRequestOptions",
  Type.Object(
    {
      challenge: B64u("single use, 5 minutes"),
      rpId: Type.Optional(Type.String()),
      timeout: Type.Optional(Type.Integer()),
      allowCredentials: Type.Optional(Type.Array(CredentialRef)),
      userVerification: Type.Optional(Type.String()),
      extensions: Type.Optional(Type.Object({}, open)),
      hints: Type.Optional(Type.Array(Type.String())),
    },
    open,
  ),
  "PublicKeyCredentialRequestOptionsJSON: pass to @simplewebauthn/browser startAuthentication({ optionsJSON }).",
);
export const RegistrationResponse = named(
  "PasskeyRegistrationResponse",
  Type.Object(
    {
      id: B64u("credential id"),
      rawId: B64u("credential id"),
      type: Type.Literal("public-key"),
      response: Type.Object(
        {
          clientDataJSON: B64u("client data"),
          attestationObject: B64u("attestation object"),
          transports: Type.Optional(Transports),
        },
        open,
      ),
      clientExtensionResults: Type.Object({}, open),
      authenticatorAttachment: Type.Optional(Type.String({ maxLength: 32 })),
    },
    strict,
  ),
  "What @simplewebauthn/browser startRegistration() answers.",
);
export const AuthenticationResponse = named(
  "PasskeyAuthenticationResponse",
  Type.Object(
    {
      id: B64u("credential id"),
      rawId: B64u("credential id"),
      type: Type.Literal("public-key"),
      response: Type.Object(
        {
          clientDataJSON: B64u("client data"),
          authenticatorData: B64u("authenticator data"),
          signature: B64u("signature"),
          userHandle: Type.Optional(Type.String({ maxLength: 256 })),
        },
        open,
      ),
      clientExtensionResults: Type.Object({}, open),
      authenticatorAttachment: Type.Optional(Type.String({ maxLength: 32 })),
    },
    strict,
  ),
  "What @simplewebauthn/browser startAuthentication() answers.",
);
export const PasskeyView = named(
  "Passkey",
  Type.Object({
    id: Type.String(),
    name: Type.String(),
    createdAt: Type.String({ format: "date-time" }),
    lastUsedAt: Nullable(Type.String({ format: "date-time" })),
    deviceType: Type.String({ description: "multiDevice (synced) or singleDevice" }),
    backedUp: Type.Boolean(),
  }),
  "A passkey on the account.",
);
export const PasskeyName = Type.String({ minLength: 1, maxLength: 64, pattern: "\\S" });

/** The seven passkey operations (issue 17 item 3); the README's API table lists them. */
export function registerPasskeyRoutes(app: Http, deps: RouteDeps) {
  const { identity, sessions } = deps;
  const me = (req: Parameters<typeof userSession>[1]) => userSession(sessions, req);
  const tag = { tags: ["passkeys"] };

  app.post(
    "/v1/passkeys/registration",
    {
      schema: {
        operationId: "startPasskeyRegistration",
        ...tag,
        summary:
          "Options to create a passkey (discoverable, user verification, attestation none). A sensitive change: a fresh sign-in, and a fresh second factor when the account has a strong one.",
        headers: SessionHeader,
        response: {
          200: CreationOptions,
          ...errors(
            "account_frozen",
            "account_not_found",
            "passkey_limit",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
          ),
        },
      },
    },
    async (req) => identity.passkeys.startRegistration(await me(req)),
  );

  app.post(
    "/v1/passkeys",
    {
      schema: {
        operationId: "finishPasskeyRegistration",
        ...tag,
        summary:
          "Verify the browser's answer and add the passkey (same freshness as starting). The owner's addresses are told.",
        headers: SessionHeader,
        body: Type.Object(
          { response: RegistrationResponse, name: Type.Optional(PasskeyName), context: Type.Optional(Context) },
          strict,
        ),
        response: {
          201: PasskeyView,
          ...errors(
            "account_frozen",
            "account_not_found",
            "invalid_request",
            "passkey_already_registered",
            "passkey_challenge_invalid",
            "passkey_invalid",
            "passkey_limit",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
          ),
        },
      },
    },
    async (req, reply) => {
      const ctx = checkContext(req.body.context);
      const view = await identity.passkeys.finishRegistration(await me(req), req.body as never, ctx?.ip ?? null);
      return reply.status(201).send(view);
    },
  );

  app.post(
    "/v1/sign-in/passkey/options",
    {
      schema: {
        operationId: "startPasskeySignIn",
        ...tag,
        summary:
          "Options for navigator.credentials.get(). purpose signin (default): usernameless, no password. step_up: for reauthenticate, with X-Mamori-Session. second_factor: for a sign-in challenge (challengeToken).",
        headers: Type.Object({
          "x-mamori-session": Type.Optional(Type.String({ description: "For step_up: the end user's session." })),
        }),
        body: Type.Object(
          {
            purpose: Type.Optional(
              Type.Union([Type.Literal("signin"), Type.Literal("step_up"), Type.Literal("second_factor")]),
            ),
            challengeToken: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
          },
          strict,
        ),
        response: {
          200: RequestOptions,
          ...errors("challenge_invalid", "invalid_credentials", "session_invalid"),
        },
      },
    },
    async (req) => {
      const purpose = req.body.purpose ?? "signin";
      const session = purpose === "step_up" ? await me(req) : undefined;
      if (purpose !== "step_up" && req.headers[SESSION_HEADER]) await me(req);
      return identity.startPasskeySignIn({ purpose, session, challengeToken: req.body.challengeToken });
    },
  );

  app.post(
    "/v1/sign-in/passkey",
    {
      schema: {
        operationId: "finishPasskeySignIn",
        ...tag,
        summary:
          "Sign in with a passkey, no password: verifies the answer (origin, RP ID, signature, user verification, counter), then the account's state and the risk engine; a normal session, in the login history.",
        body: Type.Object({ response: AuthenticationResponse, context: Context }, strict),
        response: {
          200: Type.Object({ status: Type.Literal("signed_in"), accountId: Type.String(), session: SessionRef }),
          ...errors(
            "account_frozen",
            "account_locked",
            "account_not_found",
            "invalid_request",
            "passkey_challenge_invalid",
            "passkey_clone_suspected",
            "passkey_invalid",
            "passkey_signin_denied",
            "password_reset_required",
            "rate_limited",
          ),
        },
      },
    },
    async (req) => {
      checkContext(req.body.context);
      return identity.signInWithPasskey({ response: req.body.response as never, context: req.body.context });
    },
  );

  app.get(
    "/v1/passkeys",
    {
      schema: {
        operationId: "listPasskeys",
        ...tag,
        summary: "The account's passkeys, with their last use.",
        headers: SessionHeader,
        response: { 200: Type.Object({ passkeys: Type.Array(PasskeyView) }), ...errors("session_invalid") },
      },
    },
    async (req) => ({ passkeys: await identity.passkeys.list(await me(req)) }),
  );

  app.patch(
    "/v1/passkeys/:passkeyId",
    {
      schema: {
        operationId: "renamePasskey",
        ...tag,
        summary: "Rename a passkey (a name is not a credential: no fresh sign-in needed). Recorded in the event log.",
        headers: SessionHeader,
        params: Type.Object({ passkeyId: Type.String({ maxLength: 64 }) }),
        body: Type.Object({ name: PasskeyName }, strict),
        response: { 200: PasskeyView, ...errors("invalid_request", "passkey_not_found", "session_invalid") },
      },
    },
    async (req) => identity.passkeys.rename(await me(req), req.params.passkeyId, req.body.name, null),
  );

  app.delete(
    "/v1/passkeys/:passkeyId",
    {
      schema: {
        operationId: "removePasskey",
        ...tag,
        summary: "Remove a passkey (a sensitive change, like adding one). The owner's addresses are told.",
        headers: SessionHeader,
        params: Type.Object({ passkeyId: Type.String({ maxLength: 64 }) }),
        response: {
          200: Ok,
          ...errors(
            "account_frozen",
            "account_not_found",
            "passkey_not_found",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
          ),
        },
      },
    },
    async (req) => {
      await identity.passkeys.remove(await me(req), req.params.passkeyId, null);
      return { ok: true as const };
    },
  );
}
