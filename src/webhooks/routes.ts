import { Type } from "@sinclair/typebox";
import { errors, Nullable, named } from "../api/schemas.ts";
import type { Http } from "../api/types.ts";
import type { RouteDeps } from "../route-deps.ts";
import { CommonErrors } from "../shared/errors.ts";

const strict = { additionalProperties: false } as const;
const tags = ["webhooks"];
const Time = Type.String({ format: "date-time" });
const WebhookStateSchema = Type.Union(
  [
    Type.Literal("pending"),
    Type.Literal("delivered"),
    Type.Literal("confirmed"),
    Type.Literal("failed"),
    Type.Literal("not_required"),
  ],
  { description: "delivered: an endpoint answered 2xx; confirmed: the store applied it; not_required: no endpoint." },
);

const Endpoint = named(
  "WebhookEndpoint",
  Type.Object({
    id: Type.String(),
    url: Type.String(),
    description: Nullable(Type.String()),
    createdAt: Time,
    disabledAt: Nullable(Type.String({ format: "date-time" })),
  }),
  "A store endpoint that receives Mamori's signed webhooks.",
);

const Delivery = Type.Object({
  id: Type.String(),
  endpointId: Type.String(),
  status: Type.String({ description: "queued | sending | delivered | abandoned" }),
  attempts: Type.Integer({ description: "Failed attempts so far." }),
  nextAttemptAt: Nullable(Type.String({ format: "date-time" })),
  lastStatus: Nullable(Type.Integer()),
  lastError: Nullable(Type.String()),
  deliveredAt: Nullable(Type.String({ format: "date-time" })),
});

const Message = named(
  "WebhookMessage",
  Type.Object({
    id: Type.String({ description: "msg_…; the webhook-id header of every delivery attempt." }),
    type: Type.String(),
    objectType: Type.String(),
    objectId: Type.String(),
    accountId: Nullable(Type.String()),
    caseId: Nullable(Type.String()),
    createdAt: Time,
    state: WebhookStateSchema,
    confirmedAt: Nullable(Type.String({ format: "date-time" })),
    confirmedNote: Nullable(Type.String()),
    payload: Type.Unknown({ description: "The JSON body the store receives." }),
    deliveries: Type.Array(Delivery),
  }),
  "A webhook message, its state and its deliveries.",
);

const Id = Type.String({ minLength: 1, maxLength: 128 });

export function registerWebhookRoutes(app: Http, deps: RouteDeps) {
  const { webhooks } = deps;

  app.post(
    "/v1/webhooks/endpoints",
    {
      config: { auth: "store" },
      schema: {
        operationId: "createWebhookEndpoint",
        tags,
        summary:
          "Register a URL on the store's backend for signed webhooks (Standard Webhooks). The secret is shown once.",
        body: Type.Object(
          {
            url: Type.String({ minLength: 1, maxLength: 2048, description: "http(s), no credentials." }),
            description: Type.Optional(Type.String({ maxLength: 500 })),
          },
          strict,
        ),
        response: {
          201: Type.Object({
            id: Type.String(),
            url: Type.String(),
            secret: Type.String({ description: "whsec_…: verify webhook-signature with it. Shown once." }),
          }),
          ...errors("invalid_request"),
        },
      },
    },
    async (req, reply) => reply.status(201).send(await webhooks.createEndpoint(req.body)),
  );

  app.get(
    "/v1/webhooks/endpoints",
    {
      config: { auth: "store" },
      schema: {
        operationId: "listWebhookEndpoints",
        tags,
        summary: "The registered webhook endpoints, disabled ones included.",
        response: { 200: Type.Object({ endpoints: Type.Array(Endpoint) }), ...errors() },
      },
    },
    async () => ({ endpoints: await webhooks.listEndpoints() }),
  );

  app.delete(
    "/v1/webhooks/endpoints/:id",
    {
      config: { auth: "store" },
      schema: {
        operationId: "disableWebhookEndpoint",
        tags,
        summary: "Stop sending to an endpoint; its queued deliveries are abandoned.",
        params: Type.Object({ id: Id }),
        response: { 200: Endpoint, ...errors("webhook_endpoint_not_found") },
      },
    },
    (req) => webhooks.disableEndpoint(req.params.id),
  );

  app.post(
    "/v1/webhooks/messages/:id/confirm",
    {
      config: { auth: "store" },
      // the body is optional: a bare POST confirms without a note
      preValidation: (req, _reply, done) => {
        if (req.body === undefined) (req as { body: unknown }).body = {};
        done();
      },
      schema: {
        operationId: "confirmWebhook",
        tags,
        summary:
          'The store applied the action a webhook described to its own record. Idempotent; answering a delivery with {"status":"applied"} does the same.',
        params: Type.Object({ id: Id }),
        body: Type.Object({ note: Type.Optional(Type.String({ maxLength: 1000 })) }, strict),
        response: {
          200: Type.Object({ id: Type.String(), state: Type.Literal("confirmed"), confirmedAt: Time }),
          ...errors("webhook_message_not_found"),
        },
      },
    },
    (req) => webhooks.confirm(req.params.id, req.body.note === undefined ? {} : { note: req.body.note }),
  );

  app.get(
    "/v1/webhooks/messages",
    {
      config: { auth: "store" },
      schema: {
        operationId: "listWebhookMessages",
        tags,
        summary: "Webhook messages, newest first, with their state and deliveries (support and verification).",
        querystring: Type.Object(
          {
            objectType: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            objectId: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
            caseId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
            // querystrings reach the validator as strings (the instance does not coerce types)
            limit: Type.Optional(Type.String({ pattern: "^[1-9][0-9]{0,2}$", description: "1–500, default 50." })),
          },
          strict,
        ),
        response: { 200: Type.Object({ messages: Type.Array(Message) }), ...errors("invalid_request", "rate_limited") },
      },
    },
    async (req) => {
      const q = req.query;
      const limit = q.limit === undefined ? 50 : Number(q.limit);
      if (limit > 500) throw CommonErrors.invalid_request({ field: "limit" }, "limit must be at most 500");
      return {
        messages: await webhooks.listMessages({
          ...(q.objectType !== undefined ? { objectType: q.objectType } : {}),
          ...(q.objectId !== undefined ? { objectId: q.objectId } : {}),
          ...(q.caseId !== undefined ? { caseId: q.caseId } : {}),
          limit,
        }),
      };
    },
  );
}
