import { Type } from "@sinclair/typebox";
import { errorResponses, Nullable } from "../api/schemas.ts";
import type { Http, RouteDeps } from "../api/types.ts";
import { AccountView, LoginAttemptView } from "../identity/routes.ts";

const AdminHeader = Type.Object({ authorization: Type.String({ description: "Bearer <admin session token>" }) });

const EventView = Type.Object({
  seq: Type.Integer(),
  type: Type.String(),
  at: Type.String({ format: "date-time" }),
  actor: Type.String(),
  ip: Nullable(Type.String()),
  data: Type.Record(Type.String(), Type.Unknown()),
  hash: Type.String(),
});

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

export function registerAdminRoutes(app: Http, deps: RouteDeps) {
  const { admin, identity, events } = deps;

  app.post(
    "/v1/admin/sign-in",
    {
      config: { auth: "public" },
      schema: {
        operationId: "adminSignIn",
        tags: ["admin"],
        summary: "Support staff sign-in; answers with an admin session token (12 h).",
        body: Type.Object(
          {
            username: Type.String({ minLength: 1, maxLength: 100 }),
            password: Type.String({ minLength: 1, maxLength: 1024 }),
          },
          { additionalProperties: false },
        ),
        response: {
          200: Type.Object({ token: Type.String(), expiresAt: Type.String({ format: "date-time" }) }),
          ...errorResponses(401),
        },
      },
    },
    (req) => admin.adminSignIn(req.body.username, req.body.password),
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
                AccountView,
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
          ...errorResponses(401),
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
          ...errorResponses(401, 404),
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
