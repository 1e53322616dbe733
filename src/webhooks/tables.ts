/** Tables of the webhooks module (conventions in db/schema.ts: ms timestamps, 0/1 booleans, JSON as text). */
type Ms = number;

/** A URL on the store's backend that receives signed webhooks. */
export interface WebhookEndpointsTable {
  id: string;
  url: string;
  /** the endpoint's `whsec_…` signing secret, sealed (AES-GCM) with the webhook-secrets key */
  secret_enc: string;
  description: string | null;
  created_at: Ms;
  disabled_at: Ms | null;
}

/** One thing Mamori did that the store must apply; written in the transaction of the action itself. */
export interface WebhookMessagesTable {
  /** `msg_…`, sent as the webhook-id header (the store's idempotency key) */
  id: string;
  type: string;
  object_type: string;
  object_id: string;
  account_id: string | null;
  case_id: string | null;
  /** JSON: exactly the body the store receives */
  payload: string;
  created_at: Ms;
  /** set when the store said it applied the action (API call, or `{"status":"applied"}` in the webhook response) */
  confirmed_at: Ms | null;
  confirmed_note: string | null;
}

/** One message to one endpoint: an outbox row with a lease, like notifications. */
export interface WebhookDeliveriesTable {
  id: string;
  message_id: string;
  endpoint_id: string;
  /** queued | sending | delivered | abandoned */
  status: string;
  /** failed attempts so far */
  attempts: number;
  next_attempt_at: Ms;
  locked_until: Ms | null;
  /** HTTP status of the last attempt; null for a network error or timeout */
  last_status: number | null;
  last_error: string | null;
  delivered_at: Ms | null;
}

export interface WebhooksTables {
  webhook_endpoints: WebhookEndpointsTable;
  webhook_messages: WebhookMessagesTable;
  webhook_deliveries: WebhookDeliveriesTable;
}

// The store's schema is every module's tables: this adds webhooks's to db/schema.ts's Database (db/ names no module).
declare module "../db/schema.ts" {
  interface Database extends WebhooksTables {}
}
