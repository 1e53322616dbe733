import type { Db } from "../db/database.ts";
import { claimDue, heldRows } from "../outbox/lease.ts";
import { type Clock, HOUR } from "../shared/clock.ts";
import type { WebhookDeliveryRow } from "./service.ts";

export const MAX_ATTEMPTS = 8;
const BASE_BACKOFF_MS = 10_000;
const MAX_BACKOFF_MS = HOUR;

/** Delay before the next attempt after `attempts` failures: 10 s · 2^(attempts−1), capped at 1 h, ±10 % jitter. */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(BASE_BACKOFF_MS * 2 ** Math.max(0, attempts - 1), MAX_BACKOFF_MS);
  // jitter spreads the retries of a batch that failed together (the store was down) instead of retrying in a burst
  return Math.round(base * (0.9 + 0.2 * random()));
}

/** A claimed delivery with what is needed to send it. */
export interface ClaimedDelivery extends WebhookDeliveryRow {
  /** the lease this claim holds; settling calls are guarded on it */
  locked_until: number;
  payload: string;
  url: string;
  secret_enc: string;
  endpoint_disabled_at: number | null;
}

export interface DeliveryStore {
  /**
   * Claims up to `limit` due deliveries (queued and due, or 'sending' with an expired lease) for `leaseMs`. Each is
   * claimed by an update guarded on the state that was read, so concurrent dispatchers never hold the same lease.
   */
  claimDue(limit: number, leaseMs: number): Promise<ClaimedDelivery[]>;
  /**
   * Records a 2xx; with `applied` the message is confirmed too (first confirmation wins). False if the delivery was
   * no longer 'sending' (settled by someone else).
   */
  markDelivered(d: ClaimedDelivery, httpStatus: number, applied: boolean): Promise<boolean>;
  /**
   * Records a failed attempt: back to 'queued' with backoff, or 'abandoned' after MAX_ATTEMPTS (or at once with
   * `final`); null if this claim's lease was taken over in the meantime.
   */
  markFailed(
    d: ClaimedDelivery,
    outcome: { httpStatus: number | null; error: string; final?: boolean },
  ): Promise<"queued" | "abandoned" | null>;
  get(id: string): Promise<WebhookDeliveryRow | undefined>;
}

export function createDeliveryStore(db: Db, clock: Clock, opts: { random?: () => number } = {}): DeliveryStore {
  const random = opts.random ?? Math.random;

  return {
    // Race closed: two dispatchers reading the same due rows — the outbox's guarded claim (outbox/lease.ts).
    async claimDue(limit, leaseMs) {
      const claim = await claimDue(db, "webhook_deliveries", { limit, leaseMs, now: clock.now() });
      if (claim.ids.length === 0) return [];
      const rows = await db
        .selectFrom("webhook_deliveries as d")
        .innerJoin("webhook_messages as m", "m.id", "d.message_id")
        .innerJoin("webhook_endpoints as e", "e.id", "d.endpoint_id")
        .selectAll("d")
        .select(["m.payload", "e.url", "e.secret_enc", "e.disabled_at as endpoint_disabled_at"])
        .where("d.id", "in", claim.ids)
        .execute();
      // a row whose lease differs from this claim's was re-claimed meanwhile (not ours)
      return heldRows(claim, rows);
    },

    // A late success still happened, so only 'sending' is required (not our lease): the store has the message.
    async markDelivered(d, httpStatus, applied) {
      const now = clock.now();
      return db.transaction().execute(async (tx) => {
        const r = await tx
          .updateTable("webhook_deliveries")
          .set({
            status: "delivered",
            delivered_at: now,
            locked_until: null,
            last_status: httpStatus,
            last_error: null,
          })
          .where("id", "=", d.id)
          .where("status", "=", "sending")
          .executeTakeFirst();
        if (applied) {
          await tx
            .updateTable("webhook_messages")
            .set({ confirmed_at: now, confirmed_note: "applied (webhook response)" })
            .where("id", "=", d.message_id)
            .where("confirmed_at", "is", null)
            .execute();
        }
        return Number(r.numUpdatedRows) > 0;
      });
    },

    // Race closed: a failure reported after the lease expired and another dispatcher re-claimed the row would count
    // one attempt twice; guarded on this claim's lease and attempt count.
    async markFailed(d, outcome) {
      const now = clock.now();
      const attempts = d.attempts + 1;
      const abandoned = outcome.final === true || attempts >= MAX_ATTEMPTS;
      const r = await db
        .updateTable("webhook_deliveries")
        .set({
          status: abandoned ? "abandoned" : "queued",
          attempts,
          next_attempt_at: abandoned ? now : now + backoffMs(attempts, random),
          locked_until: null,
          last_status: outcome.httpStatus,
          last_error: outcome.error.slice(0, 500),
        })
        .where("id", "=", d.id)
        .where("status", "=", "sending")
        .where("attempts", "=", d.attempts)
        .where("locked_until", "=", d.locked_until)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return null;
      return abandoned ? "abandoned" : "queued";
    },

    async get(id) {
      return db.selectFrom("webhook_deliveries").selectAll().where("id", "=", id).executeTakeFirst();
    },
  };
}
