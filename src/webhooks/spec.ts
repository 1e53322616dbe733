import { SECURITY_WEBHOOK_TYPES } from "./security.ts";

/**
 * The messages Mamori POSTs to the store's endpoint, for the OpenAPI document's `webhooks` (3.1): every message is
 * `{type, timestamp, data}` signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature). The
 * security types come from the one mapping in security.ts; the commerce types from commerce/response.ts.
 */
const COMMERCE_TYPES = [
  "order.cancelled",
  "order.released",
  "gift_card.locked",
  "gift_card.voided",
  "wallet.locked",
  "wallet.recredited",
  "listing.taken_down",
  "listing.released",
  "address.rolled_back",
  "payment_instrument.rolled_back",
  "listing.rolled_back",
  "setting.rolled_back",
];

function message(types: string[], about: string) {
  return {
    type: "object",
    required: ["type", "timestamp", "data"],
    properties: {
      type: { type: "string", enum: types },
      timestamp: { type: "string", format: "date-time" },
      data: {
        type: "object",
        description: `${about} Always: objectType, objectId, accountId, caseId (or null); then the action's own fields.`,
        required: ["objectType", "objectId", "accountId", "caseId"],
        properties: {
          objectType: { type: "string" },
          objectId: { type: "string" },
          accountId: { type: ["string", "null"] },
          caseId: { type: ["string", "null"] },
        },
        additionalProperties: true,
      },
    },
  };
}

function hook(operationId: string, summary: string, description: string, types: string[], example: unknown) {
  return {
    post: {
      operationId,
      summary,
      description,
      tags: ["webhooks"],
      security: [],
      requestBody: {
        required: true,
        content: { "application/json": { schema: message(types, description), example } },
      },
      responses: {
        "200": {
          description:
            'Received. Answer {"status":"applied"} once the store has applied the action (or call confirmWebhook later).',
        },
        "400": { description: "Refused (signature, timestamp or body): Mamori retries with backoff." },
      },
    },
  };
}

export function webhookDocs(): Record<string, unknown> {
  const security = [...SECURITY_WEBHOOK_TYPES];
  return {
    commerceAction: hook(
      "commerceActionWebhook",
      "Mamori acted on a commerce object the store must update in its own record.",
      "An order cancelled, a payment voided or refunded, a gift card locked or voided, a wallet re-credited, a listing taken down, or an attacker's change rolled back.",
      COMMERCE_TYPES,
      {
        type: "order.cancelled",
        timestamp: "2026-12-03T10:00:00.000Z",
        data: { objectType: "order", objectId: "ord_1", accountId: "acc_1", caseId: "case_1", reason: "lockdown" },
      },
    ),
    securityEvent: hook(
      "securityEventWebhook",
      "Something happened to an account's security: the store should know (no action needed unless it keeps its own copy).",
      "A lockdown started or completed, 'not me' reported, sessions ended, password, email, phone or second factor changed, a right password's challenge abandoned, recovery completed.",
      security,
      {
        type: "security.sessions.ended",
        timestamp: "2026-12-03T10:00:00.000Z",
        data: {
          objectType: "account",
          objectId: "acc_1",
          accountId: "acc_1",
          caseId: null,
          event: "sessions.signed_out_everywhere",
          at: "2026-12-03T10:00:00.000Z",
        },
      },
    ),
  };
}
