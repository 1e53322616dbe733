import type { Executor } from "../db/database.ts";

/** Something Mamori did to a commerce object that the store must apply to its own record. */
export interface WebhookEvent {
  /** e.g. order.cancelled, payment.voided, payment.refunded, gift_card.locked, listing.taken_down */
  type: string;
  objectType: string;
  objectId: string;
  accountId: string | null;
  caseId?: string | null;
  data: Record<string, unknown>;
}

export interface WebhookEmitter {
  /** Queues the message in the caller's transaction (no action without its message); delivery happens later. */
  emit(tx: Executor, e: WebhookEvent): Promise<{ id: string }>;
  /** The same for several messages, with one insert each for the messages and their deliveries. */
  emitMany(tx: Executor, events: WebhookEvent[]): Promise<{ id: string }[]>;
}

/** delivered: the endpoint answered 2xx; confirmed: the store said it applied it; not_required: no endpoint. */
export type WebhookState = "pending" | "delivered" | "confirmed" | "failed" | "not_required";
