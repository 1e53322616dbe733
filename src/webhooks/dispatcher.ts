import { Webhook } from "standardwebhooks";
import type { Db } from "../db/database.ts";
import { createPoller, type Poller } from "../outbox/poller.ts";
import type { Clock } from "../shared/clock.ts";
import { open } from "../shared/crypto.ts";
import { type ClaimedDelivery, createDeliveryStore, type DeliveryStore } from "./store.ts";

export interface WebhookDispatcherDeps {
  db: Db;
  clock: Clock;
  /** opens endpoint secrets (the key the service sealed them with) */
  key: Buffer;
  logger?: { warn(obj: object, msg: string): void };
  /** deliveries claimed per run */
  batch?: number;
  /** how long a claim holds a delivery before another dispatcher may take it over (a crashed one) */
  leaseMs?: number;
  /** per request, connection to last body byte */
  timeoutMs?: number;
  /** requests in flight at once within a run */
  concurrency?: number;
  /** test seam: backoff jitter */
  random?: () => number;
  /** test seam */
  fetch?: typeof fetch;
}

export interface WebhookDispatcher extends Poller<{ delivered: number; failed: number }> {
  store: DeliveryStore;
}

/** What is kept of a response body in last_error. */
const BODY_EXCERPT = 200;
/** How much of a 2xx body is read to look for {"status":"applied"}; a larger body is not a confirmation. */
const MAX_ACK_BODY = 4096;

type Outcome =
  | { ok: true; httpStatus: number; applied: boolean }
  | { ok: false; httpStatus: number | null; error: string; final?: boolean };

export function createWebhookDispatcher(deps: WebhookDispatcherDeps): WebhookDispatcher {
  const batch = deps.batch ?? 20;
  const leaseMs = deps.leaseMs ?? 5 * 60_000;
  const timeoutMs = deps.timeoutMs ?? 5_000;
  const concurrency = Math.max(1, deps.concurrency ?? 4);
  const doFetch = deps.fetch ?? fetch;
  const store = createDeliveryStore(deps.db, deps.clock, deps.random ? { random: deps.random } : {});

  async function send(d: ClaimedDelivery): Promise<Outcome> {
    if (d.endpoint_disabled_at !== null)
      return { ok: false, httpStatus: null, error: "endpoint disabled", final: true };
    let secret: string;
    try {
      secret = open(deps.key, d.secret_enc);
    } catch {
      // the instance secret changed since the endpoint was created: no attempt can ever be signed
      return { ok: false, httpStatus: null, error: "endpoint secret cannot be opened", final: true };
    }
    const now = deps.clock.now();
    // The same webhook-id on every attempt is the store's idempotency key; the timestamp and signature are fresh.
    const headers = {
      "content-type": "application/json",
      "user-agent": "Mamori-Webhooks",
      "webhook-id": d.message_id,
      "webhook-timestamp": String(Math.floor(now / 1000)),
      "webhook-signature": new Webhook(secret).sign(d.message_id, new Date(now), d.payload),
    };
    try {
      const res = await doFetch(d.url, {
        method: "POST",
        headers,
        body: d.payload,
        // a redirect would re-send a signed action to a URL nobody registered
        redirect: "manual",
        signal: AbortSignal.timeout(timeoutMs),
      });
      const body = await readCapped(res, MAX_ACK_BODY);
      if (res.status >= 200 && res.status < 300) return { ok: true, httpStatus: res.status, applied: isApplied(body) };
      const excerpt = body.text.slice(0, BODY_EXCERPT);
      return { ok: false, httpStatus: res.status, error: `HTTP ${res.status}${excerpt ? `: ${excerpt}` : ""}` };
    } catch (e) {
      return { ok: false, httpStatus: null, error: describeFetchError(e, timeoutMs) };
    }
  }

  async function settle(d: ClaimedDelivery): Promise<boolean> {
    const outcome = await send(d);
    if (outcome.ok) {
      await store.markDelivered(d, outcome.httpStatus, outcome.applied);
      return true;
    }
    const state = await store.markFailed(d, outcome);
    deps.logger?.warn(
      {
        deliveryId: d.id,
        messageId: d.message_id,
        endpointId: d.endpoint_id,
        attempts: d.attempts + 1,
        status: outcome.httpStatus,
        outcome: state,
        error: outcome.error,
      },
      "webhook delivery failed",
    );
    return false;
  }

  async function dispatch(): Promise<{ delivered: number; failed: number }> {
    const rows = await store.claimDue(batch, leaseMs);
    let delivered = 0;
    let failed = 0;
    let next = 0;
    const worker = async () => {
      while (next < rows.length) {
        const d = rows[next++]!;
        // When the batch outlasts a lease another dispatcher may own the delivery now; leave it to that one.
        if (deps.clock.now() >= d.locked_until) continue;
        if (await settle(d)) delivered++;
        else failed++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, rows.length) }, worker));
    return { delivered, failed };
  }

  // the poll loop is the outbox's, shared with the notification dispatcher
  const poller = createPoller({
    dispatch,
    handled: (r) => r.delivered + r.failed,
    batch,
    failureMessage: "webhook dispatcher run failed",
    logger: deps.logger,
  });
  return { store, ...poller };
}

/** Reads at most `max` bytes of the body, then drops the rest (an endpoint may answer with anything). */
async function readCapped(res: Response, max: number): Promise<{ text: string; truncated: boolean }> {
  if (!res.body) return { text: "", truncated: false };
  const reader = res.body.getReader();
  const parts: Uint8Array[] = [];
  let size = 0;
  let truncated = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
      size += value.byteLength;
      if (size > max) {
        truncated = true;
        break;
      }
    }
  } finally {
    if (truncated) await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
  return { text: Buffer.concat(parts).toString("utf8").slice(0, max), truncated };
}

function isApplied(body: { text: string; truncated: boolean }): boolean {
  if (body.truncated || !body.text) return false;
  try {
    const j = JSON.parse(body.text) as unknown;
    return typeof j === "object" && j !== null && (j as { status?: unknown }).status === "applied";
  } catch {
    return false;
  }
}

function describeFetchError(e: unknown, timeoutMs: number): string {
  if (e instanceof Error) {
    if (e.name === "TimeoutError" || e.name === "AbortError") return `timeout after ${timeoutMs} ms`;
    const cause = (e as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? ((cause as { code?: string }).code ?? cause.message) : undefined;
    return (detail ? `${e.message}: ${detail}` : e.message).slice(0, 500);
  }
  return String(e).slice(0, 500);
}
