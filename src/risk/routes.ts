import { Type } from "@sinclair/typebox";
import { checkContext, SESSION_HEADER, userSession } from "../api/context.ts";
import { Context, errors, Nullable } from "../api/schemas.ts";
import type { Http } from "../api/types.ts";
import type { RouteDeps } from "../route-deps.ts";
import { CommonErrors } from "../shared/errors.ts";
import { RISK_ACTIONS, RISK_EVENT_TYPES, type RiskEventType } from "./policy.ts";

const strict = { additionalProperties: false } as const;
const lit = <T extends string>(xs: readonly T[]) => Type.Unsafe<T>(Type.Union(xs.map((x) => Type.Literal(x))));
const Action = lit(RISK_ACTIONS);
// "any", or a registered second factor's kind (identity's factor registry; the policy set is checked against it).
const Factor = Type.String({
  pattern: "^[a-z][a-z0-9_]{0,31}$",
  description: "any, or a registered second factor's kind: totp, recovery_code, passkey, email_code, …",
  examples: ["totp"],
});
const Scalar = Type.Union([
  Type.String({ maxLength: 1024 }),
  Type.Number(),
  Type.Boolean(),
  Type.Null(),
  Type.Array(Type.Union([Type.String({ maxLength: 256 }), Type.Number()]), { maxItems: 100 }),
]);
const Reason = Type.Object({
  ruleId: Type.String(),
  description: Type.Optional(Type.String()),
  action: Action,
  policyVersion: Type.Integer(),
  inputs: Type.Record(Type.String(), Type.Unknown()),
  factor: Type.Optional(Factor),
  hold: Type.Optional(Type.Boolean()),
  lockdown: Type.Optional(Type.Boolean()),
  error: Type.Optional(Type.String()),
  applied: Type.Optional(Type.Boolean()),
});
const Shadow = Type.Object({
  policyVersion: Type.Integer(),
  decision: Action,
  factor: Type.Optional(Factor),
  hold: Type.Boolean(),
  reasons: Type.Array(Reason),
});
const PolicySetView = Type.Object({
  version: Type.Integer(),
  status: lit(["draft", "shadow", "active", "retired"] as const),
  name: Nullable(Type.String()),
  rules: Type.Integer(),
  createdAt: Type.String({ format: "date-time" }),
  activatedAt: Nullable(Type.String({ format: "date-time" })),
});
const AdminHeader = Type.Object({ authorization: Type.String({ description: "Bearer <admin session token>" }) });
const SessionHeader = Type.Object({
  "x-mamori-session": Type.String({ description: "The end user's session token." }),
});
const Countries = Type.Object({
  countries: Type.Array(Type.String({ minLength: 2, maxLength: 2 }), {
    maxItems: 50,
    description: "ISO 3166-1 alpha-2 codes; empty: any country.",
  }),
});

export function registerRiskRoutes(app: Http, deps: RouteDeps) {
  const { risk, sessions } = deps;

  app.post(
    "/v1/risk/assess",
    {
      schema: {
        operationId: "assessEvent",
        tags: ["risk"],
        summary:
          "Should this happen? One synchronous answer (allow, challenge, review, deny) from the active policy set, with " +
          "reasons. Send X-Mamori-Session for an event inside a session (its account and age are used).",
        headers: Type.Object({ [SESSION_HEADER]: Type.Optional(Type.String()) }),
        body: Type.Object(
          {
            type: lit(RISK_EVENT_TYPES),
            accountId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            context: Type.Optional(Context),
            data: Type.Optional(
              Type.Record(Type.String(), Scalar, {
                maxProperties: 50,
                propertyNames: { pattern: "^[A-Za-z_][A-Za-z0-9_]{0,63}$" },
                description: "Event-specific fields (see docs/risk.md); `…At` times in ms also appear as `…AgeS`.",
              }),
            ),
          },
          strict,
        ),
        response: {
          200: Type.Object({
            decisionId: Type.String(),
            decision: Action,
            factor: Type.Optional(Factor),
            hold: Type.Boolean(),
            lockdown: Type.Boolean(),
            reasons: Type.Array(Reason),
            scores: Type.Record(Type.String(), Type.Unknown()),
            policyVersion: Type.Integer(),
            shadow: Type.Optional(Shadow),
            latencyUs: Type.Number(),
          }),
          ...errors(
            "account_not_found",
            "invalid_request",
            "rate_limited",
            "risk_event_invalid",
            "session_invalid",
            "unavailable",
          ),
        },
      },
    },
    async (req) => {
      checkContext(req.body.context);
      let accountId = req.body.accountId ?? null;
      let session = null;
      if (typeof req.headers[SESSION_HEADER] === "string") {
        const s = await userSession(sessions, req);
        if (accountId && accountId !== s.account_id) {
          throw CommonErrors.invalid_request({ field: "accountId" }, "accountId is not the session's account");
        }
        accountId = s.account_id;
        session = {
          id: s.id,
          createdAt: Number(s.auth_time),
          factor: s.factor,
          secondFactor: s.second_factor_at !== null,
        };
      }
      return risk.assessEvent({
        type: req.body.type as RiskEventType,
        accountId,
        ...(req.body.context ? { context: req.body.context } : {}),
        ...(req.body.data ? { data: req.body.data } : {}),
        session,
      });
    },
  );

  app.post(
    "/v1/admin/risk/policies",
    {
      // Policies change who gets in: a lead's decision, not an agent's.
      config: { auth: "admin", role: "lead" },
      schema: {
        operationId: "putPolicySet",
        tags: ["admin", "risk"],
        summary:
          "Store a policy set as a draft with the next version. Every expression must compile: otherwise 400 " +
          "policy_invalid with details.problems [{path, message}].",
        headers: AdminHeader,
        body: Type.Object({
          name: Type.Optional(Type.String({ maxLength: 200 })),
          description: Type.Optional(Type.String({ maxLength: 2000 })),
          velocity: Type.Optional(Type.Array(Type.Unknown(), { maxItems: 200 })),
          rules: Type.Array(Type.Unknown(), { maxItems: 500 }),
        }),
        response: { 201: PolicySetView, ...errors("policy_invalid", "policy_not_found") },
      },
    },
    async (req, reply) => {
      const v = await risk.putPolicySet(req.body, req.adminId ? `admin:${req.adminId}` : null);
      return reply.status(201).send(v);
    },
  );

  app.get(
    "/v1/admin/risk/policies",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "listPolicySets",
        tags: ["admin", "risk"],
        summary: "Policy sets, newest version first.",
        headers: AdminHeader,
        response: { 200: Type.Object({ policySets: Type.Array(PolicySetView) }), ...errors("rate_limited") },
      },
    },
    async () => ({ policySets: await risk.listPolicySets() }),
  );

  app.get(
    "/v1/admin/risk/policies/:version",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "getPolicySet",
        tags: ["admin", "risk"],
        summary: "One policy set with its source.",
        headers: AdminHeader,
        params: Type.Object({ version: Type.Integer({ minimum: 1 }) }),
        response: {
          200: Type.Composite([PolicySetView, Type.Object({ source: Type.Record(Type.String(), Type.Unknown()) })]),
          ...errors("policy_not_found"),
        },
      },
    },
    async (req) => risk.getPolicySet(req.params.version) as never,
  );

  app.post(
    "/v1/admin/risk/policies/:version/promote",
    {
      // Policies change who gets in: a lead's decision, not an agent's.
      config: { auth: "admin", role: "lead" },
      schema: {
        operationId: "promotePolicySet",
        tags: ["admin", "risk"],
        summary:
          "Move a set to shadow (evaluated and recorded beside the active set, never enforced) or active. The set it " +
          "replaces retires.",
        headers: AdminHeader,
        params: Type.Object({ version: Type.Integer({ minimum: 1 }) }),
        body: Type.Object({ to: lit(["shadow", "active"] as const) }, strict),
        response: { 200: PolicySetView, ...errors("policy_invalid", "policy_not_found", "policy_state_invalid") },
      },
    },
    async (req) => {
      return risk.promote(req.params.version, req.body.to as "shadow" | "active");
    },
  );

  app.get(
    "/v1/admin/risk/decisions",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "listRiskDecisions",
        tags: ["admin", "risk"],
        summary: "An account's risk decisions, newest first, with reasons and the shadow set's answer.",
        headers: AdminHeader,
        querystring: Type.Object({
          accountId: Type.String({ minLength: 1, maxLength: 64 }),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
        }),
        response: {
          200: Type.Object({
            decisions: Type.Array(
              Type.Object({
                decisionId: Type.String(),
                at: Type.String({ format: "date-time" }),
                eventType: Type.String(),
                decision: Action,
                factor: Nullable(Type.String()),
                hold: Type.Boolean(),
                policyVersion: Type.Integer(),
                reasons: Type.Array(Reason),
                scores: Type.Record(Type.String(), Type.Unknown()),
                shadow: Type.Union([Shadow, Type.Null()]),
                latencyUs: Type.Number(),
              }),
            ),
          }),
          ...errors(
            "account_not_found",
            "country_invalid",
            "invalid_email",
            "invalid_phone",
            "not_found",
            "rate_limited",
          ),
        },
      },
    },
    async (req) => ({ decisions: await risk.listDecisions(req.query.accountId, req.query.limit ?? 100) }),
  );

  app.get(
    "/v1/account/sign-in-countries",
    {
      schema: {
        operationId: "getSignInCountries",
        tags: ["accounts", "risk"],
        summary: "Countries this account may be signed in from (empty: any).",
        headers: SessionHeader,
        response: { 200: Countries, ...errors("account_not_found", "rate_limited", "session_invalid") },
      },
    },
    async (req) => ({ countries: await risk.getAllowedCountries((await userSession(sessions, req)).account_id) }),
  );

  app.post(
    "/v1/account/sign-in-countries",
    {
      schema: {
        operationId: "setSignInCountries",
        tags: ["accounts", "risk"],
        summary:
          "Allow sign-ins only from these countries (empty: any). A sensitive change: needs a fresh sign-in (and second " +
          "factor when enrolled), so an attacker in a stale session cannot open the door.",
        headers: SessionHeader,
        body: Type.Object({ countries: Countries.properties.countries }, strict),
        response: {
          200: Countries,
          ...errors(
            "account_not_found",
            "country_invalid",
            "not_found",
            "rate_limited",
            "reauthentication_required",
            "second_factor_required",
            "session_invalid",
          ),
        },
      },
    },
    async (req) => {
      const s = await userSession(sessions, req);
      // As strong as the account's strongest factor: an authenticator or a passkey (identity's answer, not a column).
      const totp = (await deps.identity.getAccount(s.account_id)).totpEnabled;
      sessions.assertFresh(s, totp || (await sessions.requiredSecondFactor(s.account_id)) >= 2 ? 2 : 0);
      return {
        countries: await risk.setAllowedCountries(s.account_id, req.body.countries, { sessionId: s.id, ip: null }),
      };
    },
  );
}
