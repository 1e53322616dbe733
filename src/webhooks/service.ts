import { randomBytes } from "node:crypto";
import type { Selectable } from "kysely";
import type { Db, Executor } from "../db/database.ts";
import type { Clock } from "../shared/clock.ts";
import { newId, seal } from "../shared/crypto.ts";
import { CommonErrors } from "../shared/errors.ts";
import { WebhookErrors } from "./errors.ts";
import type { WebhookDeliveriesTable, WebhookEndpointsTable, WebhookMessagesTable } from "./tables.ts";
import type { WebhookEmitter, WebhookEvent, WebhookState } from "./types.ts";

export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>;
export type WebhookMessageRow = Selectable<WebhookMessagesTable>;
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>;
export type DeliveryStatus = "queued" | "sending" | "delivered" | "abandoned";

export interface WebhookEndpointView {
  id: string;
  url: string;
  description: string | null;
  createdAt: string;
  disabledAt: string | null;
}

export interface WebhookDeliveryView {
  id: string;
  endpointId: string;
  status: string;
  attempts: number;
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
}

export interface WebhookMessageView {
  id: string;
  type: string;
  objectType: string;
  objectId: string;
  accountId: string | null;
  caseId: string | null;
  createdAt: string;
  state: WebhookState;
  confirmedAt: string | null;
  confirmedNote: string | null;
  /** the body the store receives */
  payload: unknown;
  deliveries: WebhookDeliveryView[];
}

export interface MessageFilter {
  objectType?: string;
  objectId?: string;
  caseId?: string;
  limit: number;
}

export interface WebhookService extends WebhookEmitter {
  /** Registers an endpoint; the `whsec_…` secret is returned here only (it is stored sealed). */
  createEndpoint(input: { url: string; description?: string }): Promise<{ id: string; url: string; secret: string }>;
  listEndpoints(): Promise<WebhookEndpointView[]>;
  /** Stops deliveries to the endpoint; its queued deliveries are abandoned. Idempotent; unknown id → 404. */
  disableEndpoint(id: string): Promise<WebhookEndpointView>;
  /** The store applied the action. Idempotent (the first confirmation's time and note are kept); unknown id → 404. */
  confirm(
    messageId: string,
    opts?: { note?: string },
  ): Promise<{ id: string; state: "confirmed"; confirmedAt: string }>;
  /** State per known message id; ids with no message are absent from the map. */
  states(messageIds: string[]): Promise<Map<string, WebhookState>>;
  /** Newest first, with each message's state and deliveries. */
  listMessages(filter: MessageFilter): Promise<WebhookMessageView[]>;
}

export interface WebhookServiceDeps {
  db: Db;
  clock: Clock;
  /** seals endpoint secrets (deriveKey(secret, "webhook-secrets")) */
  key: Buffer;
}

const MAX_URL = 2048;
/** id lists are chunked: SQLite and PostgreSQL both cap the bound parameters of one statement */
const CHUNK = 500;

/** `whsec_` + base64 of 32 random bytes: the Standard Webhooks secret format (24–64 bytes). */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString("base64")}`;
}

/** http(s) only, no credentials (they would sit in the store in clear and in logs), ≤ 2048 characters. */
export function validateEndpointUrl(raw: string): string {
  const bad = (why: string) => CommonErrors.invalid_request({ field: "url" }, `url ${why}`);
  if (typeof raw !== "string" || raw.length === 0) throw bad("is required");
  if (raw.length > MAX_URL) throw bad(`must be at most ${MAX_URL} characters`);
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw bad("is not a valid absolute URL");
  }
  if (u.protocol !== "https:" && u.protocol !== "http:") throw bad("must use http or https");
  if (u.username || u.password) throw bad("must not contain credentials");
  if (!u.hostname) throw bad("must name a host");
  const normalized = u.toString();
  if (normalized.length > MAX_URL) throw bad(`must be at most ${MAX_URL} characters`);
  return normalized;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export function endpointView(r: WebhookEndpointRow): WebhookEndpointView {
  return {
    id: r.id,
    url: r.url,
    description: r.description,
    createdAt: new Date(r.created_at).toISOString(),
    disabledAt: iso(r.disabled_at),
  };
}

function deliveryView(d: WebhookDeliveryRow): WebhookDeliveryView {
  return {
    id: d.id,
    endpointId: d.endpoint_id,
    status: d.status,
    attempts: d.attempts,
    // only meaningful while the delivery can still be attempted
    nextAttemptAt: d.status === "queued" || d.status === "sending" ? iso(d.next_attempt_at) : null,
    lastStatus: d.last_status,
    lastError: d.last_error,
    deliveredAt: iso(d.delivered_at),
  };
}

/** The state rule, shared by states() and listMessages(). */
export function messageState(confirmedAt: number | null, deliveryStatuses: readonly string[]): WebhookState {
  if (confirmedAt !== null) return "confirmed";
  if (deliveryStatuses.length === 0) return "not_required";
  if (deliveryStatuses.includes("delivered")) return "delivered";
  if (deliveryStatuses.every((s) => s === "abandoned")) return "failed";
  return "pending";
}

function chunks<T>(xs: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += CHUNK) out.push(xs.slice(i, i + CHUNK));
  return out;
}

export function createWebhookService(deps: WebhookServiceDeps): WebhookService {
  const { db, clock, key } = deps;

  async function deliveriesOf(ids: readonly string[]): Promise<Map<string, WebhookDeliveryRow[]>> {
    const out = new Map<string, WebhookDeliveryRow[]>();
    for (const part of chunks([...new Set(ids)])) {
      const rows = await db
        .selectFrom("webhook_deliveries")
        .selectAll()
        .where("message_id", "in", part)
        .orderBy("id")
        .execute();
      for (const r of rows) {
        const list = out.get(r.message_id);
        if (list) list.push(r);
        else out.set(r.message_id, [r]);
      }
    }
    return out;
  }

  /** Queues several messages in the caller's transaction: one insert of the messages, one of their deliveries. */
  async function emitMany(tx: Executor, events: WebhookEvent[]): Promise<{ id: string }[]> {
    if (events.length === 0) return [];
    const now = clock.now();
    const rows = events.map((e) => {
      if (!e.type || !e.objectType || !e.objectId) throw new Error("webhook event needs type, objectType and objectId");
      const id = `msg_${randomBytes(18).toString("base64url")}`;
      const ids = { objectType: e.objectType, objectId: e.objectId, accountId: e.accountId, caseId: e.caseId ?? null };
      // the identifying fields come first and cannot be overridden by e.data (a repeated key keeps its first position)
      const payload = JSON.stringify({
        type: e.type,
        timestamp: new Date(now).toISOString(),
        data: { ...ids, ...e.data, ...ids },
      });
      return {
        id,
        type: e.type,
        object_type: e.objectType,
        object_id: e.objectId,
        account_id: e.accountId,
        case_id: e.caseId ?? null,
        payload,
        created_at: now,
        confirmed_at: null,
        confirmed_note: null,
      };
    });
    await tx.insertInto("webhook_messages").values(rows).execute();
    const endpoints = await tx
      .selectFrom("webhook_endpoints")
      .select("id")
      .where("disabled_at", "is", null)
      .orderBy("id")
      .execute();
    if (endpoints.length > 0) {
      await tx
        .insertInto("webhook_deliveries")
        .values(
          rows.flatMap((m) =>
            endpoints.map((ep) => ({
              id: newId(),
              message_id: m.id,
              endpoint_id: ep.id,
              status: "queued",
              attempts: 0,
              next_attempt_at: now,
              locked_until: null,
              last_status: null,
              last_error: null,
              delivered_at: null,
            })),
          ),
        )
        .execute();
    }
    return rows.map((m) => ({ id: m.id }));
  }

  return {
    // Runs on the caller's executor: the message and its deliveries exist only if the action commits.
    async emit(tx: Executor, e: WebhookEvent) {
      const [m] = await emitMany(tx, [e]);
      return m!;
    },

    emitMany,

    async createEndpoint(input) {
      const url = validateEndpointUrl(input.url);
      const description = input.description?.trim() || null;
      if (description && description.length > 500) {
        throw CommonErrors.invalid_request({ field: "description" }, "description must be at most 500 characters");
      }
      const secret = newWebhookSecret();
      const id = newId();
      await db
        .insertInto("webhook_endpoints")
        .values({ id, url, secret_enc: seal(key, secret), description, created_at: clock.now(), disabled_at: null })
        .execute();
      return { id, url, secret };
    },

    async listEndpoints() {
      const rows = await db.selectFrom("webhook_endpoints").selectAll().orderBy("created_at").orderBy("id").execute();
      return rows.map(endpointView);
    },

    async disableEndpoint(id) {
      const now = clock.now();
      const row = await db.transaction().execute(async (tx) => {
        await tx
          .updateTable("webhook_endpoints")
          .set({ disabled_at: now })
          .where("id", "=", id)
          .where("disabled_at", "is", null)
          .execute();
        // Queued deliveries would otherwise wait forever; one in flight ('sending') settles on its own, and the
        // dispatcher abandons it if its lease expires first.
        await tx
          .updateTable("webhook_deliveries")
          .set({ status: "abandoned", locked_until: null, last_error: "endpoint disabled" })
          .where("endpoint_id", "=", id)
          .where("status", "=", "queued")
          .execute();
        return tx.selectFrom("webhook_endpoints").selectAll().where("id", "=", id).executeTakeFirst();
      });
      if (!row) throw WebhookErrors.webhook_endpoint_not_found({ id });
      return endpointView(row);
    },

    async confirm(messageId, opts = {}) {
      const note = opts.note?.slice(0, 1000) ?? null;
      // Guarded on confirmed_at: a repeated confirmation keeps the first one's time and note.
      await db
        .updateTable("webhook_messages")
        .set({ confirmed_at: clock.now(), confirmed_note: note })
        .where("id", "=", messageId)
        .where("confirmed_at", "is", null)
        .execute();
      const row = await db
        .selectFrom("webhook_messages")
        .select(["id", "confirmed_at"])
        .where("id", "=", messageId)
        .executeTakeFirst();
      if (!row || row.confirmed_at === null) throw WebhookErrors.webhook_message_not_found({ id: messageId });
      return { id: row.id, state: "confirmed" as const, confirmedAt: new Date(row.confirmed_at).toISOString() };
    },

    async states(messageIds) {
      const out = new Map<string, WebhookState>();
      const unique = [...new Set(messageIds)];
      if (unique.length === 0) return out;
      const statuses = new Map<string, string[]>();
      for (const part of chunks(unique)) {
        const rows = await db
          .selectFrom("webhook_deliveries")
          .select(["message_id", "status"])
          .where("message_id", "in", part)
          .groupBy(["message_id", "status"])
          .execute();
        for (const r of rows) {
          const list = statuses.get(r.message_id);
          if (list) list.push(r.status);
          else statuses.set(r.message_id, [r.status]);
        }
      }
      for (const part of chunks(unique)) {
        const msgs = await db
          .selectFrom("webhook_messages")
          .select(["id", "confirmed_at"])
          .where("id", "in", part)
          .execute();
        for (const m of msgs) out.set(m.id, messageState(m.confirmed_at, statuses.get(m.id) ?? []));
      }
      return out;
    },

    async listMessages(filter) {
      let q = db.selectFrom("webhook_messages").selectAll();
      if (filter.objectType !== undefined) q = q.where("object_type", "=", filter.objectType);
      if (filter.objectId !== undefined) q = q.where("object_id", "=", filter.objectId);
      if (filter.caseId !== undefined) q = q.where("case_id", "=", filter.caseId);
      const limit = Math.max(1, Math.min(Math.trunc(filter.limit) || 50, 500));
      const rows = await q.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute();
      const deliveries = await deliveriesOf(rows.map((r) => r.id));
      return rows.map((m) => {
        const ds = deliveries.get(m.id) ?? [];
        return {
          id: m.id,
          type: m.type,
          objectType: m.object_type,
          objectId: m.object_id,
          accountId: m.account_id,
          caseId: m.case_id,
          createdAt: new Date(m.created_at).toISOString(),
          state: messageState(
            m.confirmed_at,
            ds.map((d) => d.status),
          ),
          confirmedAt: iso(m.confirmed_at),
          confirmedNote: m.confirmed_note,
          payload: JSON.parse(m.payload) as unknown,
          deliveries: ds.map(deliveryView),
        };
      });
    },
  };
}
