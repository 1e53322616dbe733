import type { Selectable } from "kysely";
import type { Db, Executor } from "../db/database.ts";
import type { NotificationsTable } from "../db/schema.ts";
import { claimDue, heldRows } from "../outbox/lease.ts";
import { type Clock, HOUR } from "../shared/clock.ts";
import { newId } from "../shared/crypto.ts";
import {
  coreTemplates,
  createNoticeTemplates,
  type Language,
  type NoticeTemplate,
  type NoticeTemplates,
} from "./templates.ts";

export type NotificationRow = Selectable<NotificationsTable>;
export type NoticeChannel = "email" | "sms";
export type NoticeStatus = "queued" | "sending" | "sent" | "abandoned";

export interface NewNotice {
  accountId: string | null;
  eventId: string | null;
  channel: NoticeChannel;
  recipient: string;
  template: NoticeTemplate;
  language: Language;
  vars: Record<string, string>;
}

export interface MailboxFilter {
  recipient?: string;
  accountId?: string;
  limit?: number;
}

export const MAX_ATTEMPTS = 8;
const BASE_BACKOFF_MS = 30_000;
const MAX_BACKOFF_MS = 6 * HOUR;

export interface OutboxStore {
  /** Renders and queues a notice; pass the change's transaction so the notice exists only if the change commits. */
  enqueue(executor: Executor, n: NewNotice): Promise<string>;
  /**
   * Claims up to `limit` due rows (queued and due, or 'sending' with an expired lease) for `leaseMs`, the earliest
   * due first and then by id; each row is claimed by a guarded update, so concurrent dispatchers never get the same row.
   */
  claimDue(limit: number, leaseMs: number): Promise<NotificationRow[]>;
  /** Records delivery; false if the row was not 'sending' (already settled by another dispatcher). */
  markSent(id: string): Promise<boolean>;
  /** Records a failed attempt: back to 'queued' with backoff, or 'abandoned' after MAX_ATTEMPTS; null if not 'sending'. */
  markFailed(id: string, error: string): Promise<"queued" | "abandoned" | null>;
  /** The local mailbox, newest first. */
  listMailbox(filter: MailboxFilter): Promise<NotificationRow[]>;
  get(id: string): Promise<NotificationRow | undefined>;
}

/** Delay before the next attempt after `attempts` failures: 30 s · 4^(attempts−1), capped at 6 h, ±10 % jitter. */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const base = Math.min(BASE_BACKOFF_MS * 4 ** Math.max(0, attempts - 1), MAX_BACKOFF_MS);
  // jitter spreads the retries of a batch that failed together (an SMTP outage) instead of retrying them in a burst
  return Math.round(base * (0.9 + 0.2 * random()));
}

export function createOutboxStore(
  db: Db,
  clock: Clock,
  opts: { random?: () => number; templates?: NoticeTemplates } = {},
): OutboxStore {
  const random = opts.random ?? Math.random;
  // app.ts passes the registry of every module's notices with the store's name; alone, the core notices.
  const templates =
    opts.templates ??
    createNoticeTemplates({ definitions: coreTemplates, storeName: "Mamori", timeZone: "Asia/Tokyo" });

  return {
    // Atomic with the caller's change: the insert runs on the caller's executor (its transaction).
    async enqueue(executor, n) {
      const { subject, body } = templates.render(n.template, n.language, n.vars);
      const id = newId();
      const now = clock.now();
      await executor
        .insertInto("notifications")
        .values({
          id,
          account_id: n.accountId,
          event_id: n.eventId,
          channel: n.channel,
          recipient: n.recipient,
          template: n.template,
          language: n.language,
          subject,
          body,
          status: "queued",
          attempts: 0,
          next_attempt_at: now,
          locked_until: null,
          last_error: null,
          created_at: now,
          sent_at: null,
        })
        .execute();
      return id;
    },

    // Race closed: two dispatchers reading the same due rows — the outbox's guarded claim (outbox/lease.ts).
    async claimDue(limit, leaseMs) {
      const claim = await claimDue(db, "notifications", { limit, leaseMs, now: clock.now() });
      if (claim.ids.length === 0) return [];
      const rows = await db.selectFrom("notifications").selectAll().where("id", "in", claim.ids).execute();
      return heldRows(claim, rows);
    },

    // Race closed: a late result from a dispatcher whose row was already settled; guarded on 'sending'.
    async markSent(id) {
      const r = await db
        .updateTable("notifications")
        .set({ status: "sent", sent_at: clock.now(), locked_until: null })
        .where("id", "=", id)
        .where("status", "=", "sending")
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    },

    // Race closed: two failure reports for one attempt; guarded on 'sending' and the attempt count that was read.
    async markFailed(id, error) {
      const row = await db
        .selectFrom("notifications")
        .select(["attempts"])
        .where("id", "=", id)
        .where("status", "=", "sending")
        .executeTakeFirst();
      if (!row) return null;
      const now = clock.now();
      const attempts = row.attempts + 1;
      const abandoned = attempts >= MAX_ATTEMPTS;
      const r = await db
        .updateTable("notifications")
        .set({
          status: abandoned ? "abandoned" : "queued",
          attempts,
          next_attempt_at: abandoned ? now : now + backoffMs(attempts, random),
          locked_until: null,
          last_error: error.slice(0, 1000),
        })
        .where("id", "=", id)
        .where("status", "=", "sending")
        .where("attempts", "=", row.attempts)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) === 0) return null;
      return abandoned ? "abandoned" : "queued";
    },

    async listMailbox(filter) {
      let q = db.selectFrom("notifications").selectAll();
      // recipients are stored normalized (lower-case email, E.164 phone)
      if (filter.recipient !== undefined) q = q.where("recipient", "=", filter.recipient.trim().toLowerCase());
      if (filter.accountId !== undefined) q = q.where("account_id", "=", filter.accountId);
      return q
        .orderBy("created_at", "desc")
        .orderBy("id", "desc")
        .limit(Math.max(1, Math.min(filter.limit ?? 50, 1000)))
        .execute();
    },

    async get(id) {
      return db.selectFrom("notifications").selectAll().where("id", "=", id).executeTakeFirst();
    },
  };
}
