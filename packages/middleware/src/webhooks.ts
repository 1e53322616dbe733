// A Standard Webhooks receiver for Mamori's webhooks (README "Webhooks to the store"), with replay protection: the
// signature (HMAC-SHA256 over id.timestamp.body with the endpoint's whsec_ secret), the timestamp within a tolerance,
// and each webhook-id accepted once. The signature is checked before anything is recorded, so a forger cannot fill
// the seen-id store; an id need only be remembered while its timestamp is within tolerance (later, the timestamp
// check refuses it anyway).
import { timingSafeEqual } from "node:crypto";
import { Webhook } from "standardwebhooks";

/** Message ids already received. `claim` is atomic: true for the first caller of an id, false for every later one. */
export interface SeenIds {
  /** record `id` until `expiresAt` (ms since the epoch); false when it is already recorded */
  claim(id: string, expiresAt: number): boolean | Promise<boolean>;
  /** forget `id` (its handling failed: Mamori's retry, with the same id, must be processed) */
  release(id: string): void | Promise<void>;
}

/**
 * The default SeenIds: one process's memory. Several instances of the store's backend need a shared one (e.g. Redis
 * `SET id 1 NX PXAT expiresAt` for claim, `DEL` for release), or a replay to another instance is processed again.
 */
export class MemorySeenIds implements SeenIds {
  private readonly ids = new Map<string, number>();
  constructor(private readonly now: () => number = Date.now) {}
  claim(id: string, expiresAt: number): boolean {
    const t = this.now();
    // expired ids leave in insertion order (roughly expiry order: same tolerance for all)
    for (const [k, until] of this.ids) {
      if (until > t) break;
      this.ids.delete(k);
    }
    const until = this.ids.get(id);
    if (until !== undefined && until > t) return false;
    this.ids.set(id, expiresAt);
    return true;
  }
  release(id: string): void {
    this.ids.delete(id);
  }
}

export type RefusalReason = "headers" | "signature" | "timestamp" | "replayed";

/**
 * A webhook refused. `status` is what to answer: 400 for a forged, malformed or stale message; 200 for a replayed id
 * (already received: Mamori's own retry after a lost answer must stop, and the handler does not run twice).
 */
export class WebhookRefused extends Error {
  readonly reason: RefusalReason;
  readonly status: 200 | 400;
  constructor(reason: RefusalReason, message: string) {
    super(message);
    this.name = "WebhookRefused";
    this.reason = reason;
    this.status = reason === "replayed" ? 200 : 400;
  }
}

/** A Mamori webhook: README "Webhooks to the store" (commerce actions, and security.* events). */
export interface MamoriWebhook {
  /** webhook-id (msg_…), the same on every retry */
  id: string;
  type: string;
  timestamp: string;
  data: {
    objectType: string;
    objectId: string;
    accountId: string | null;
    caseId: string | null;
    [field: string]: unknown;
  };
}

export interface WebhookReceiverOptions {
  /** the endpoint's secret (whsec_…) from createWebhookEndpoint */
  secret: string;
  /** how far the webhook-timestamp may be from now, in seconds (default 300, as Standard Webhooks) */
  toleranceSeconds?: number;
  /** where received ids are recorded (default: a MemorySeenIds) */
  seen?: SeenIds;
  /** the clock, ms since the epoch */
  now?: () => number;
}

type Headers_ = Headers | Record<string, string | string[] | undefined>;

function header(headers: Headers_, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  const h = headers as Record<string, string | string[] | undefined>;
  const v = h[name] ?? Object.entries(h).find(([k]) => k.toLowerCase() === name)?.[1];
  return Array.isArray(v) ? v[0] : v;
}

export interface WebhookReceiver {
  /**
   * The verified message, or a thrown WebhookRefused. Pass the raw body exactly as received (a re-serialized JSON
   * object does not verify). The id is recorded as seen: call `release(id)` if handling then fails.
   */
  verify(body: string | Uint8Array, headers: Headers_): Promise<MamoriWebhook>;
  /**
   * verify, then `handle`; on a throw from `handle` the id is released (Mamori retries it) and the error rethrown.
   * The answer to send: `{status: 200, body: handle's result}` or, for a refusal, `{status, body: {error}}`.
   */
  receive<R>(
    body: string | Uint8Array,
    headers: Headers_,
    handle: (msg: MamoriWebhook) => R | Promise<R>,
  ): Promise<{ status: number; body: R | { error: { code: string; message: string } } | { status: "duplicate" } }>;
  release(id: string): Promise<void>;
}

export function createWebhookReceiver(options: WebhookReceiverOptions): WebhookReceiver {
  const signer = new Webhook(options.secret);
  const tolerance = options.toleranceSeconds ?? 300;
  const now = options.now ?? Date.now;
  const seen = options.seen ?? new MemorySeenIds(now);

  const receiver: WebhookReceiver = {
    async verify(raw, headers) {
      const body = typeof raw === "string" ? raw : Buffer.from(raw).toString("utf8");
      const id = header(headers, "webhook-id");
      const ts = header(headers, "webhook-timestamp");
      const sigs = header(headers, "webhook-signature");
      if (!id || !ts || !sigs || !/^\d{1,12}$/.test(ts)) {
        throw new WebhookRefused("headers", "Missing or malformed webhook-id, webhook-timestamp or webhook-signature.");
      }
      const seconds = Number(ts);
      const expected = Buffer.from(signer.sign(id, new Date(seconds * 1000), body).slice(3), "base64");
      const ok = sigs.split(" ").some((s) => {
        const [version, sig] = s.split(",");
        if (version !== "v1" || !sig) return false;
        const got = Buffer.from(sig, "base64");
        return got.length === expected.length && timingSafeEqual(got, expected);
      });
      if (!ok) throw new WebhookRefused("signature", "No matching signature.");
      const at = now();
      if (Math.abs(at / 1000 - seconds) > tolerance) {
        throw new WebhookRefused("timestamp", "The webhook-timestamp is outside the tolerance.");
      }
      if (!(await seen.claim(id, (seconds + tolerance) * 1000 + 1000))) {
        throw new WebhookRefused("replayed", `Message ${id} was already received.`);
      }
      const msg = JSON.parse(body) as Omit<MamoriWebhook, "id">;
      return { id, type: msg.type, timestamp: msg.timestamp, data: msg.data };
    },
    async receive(raw, headers, handle) {
      let msg: MamoriWebhook;
      try {
        msg = await receiver.verify(raw, headers);
      } catch (e) {
        if (!(e instanceof WebhookRefused)) throw e;
        if (e.reason === "replayed") return { status: 200, body: { status: "duplicate" as const } };
        return { status: e.status, body: { error: { code: `webhook_${e.reason}`, message: e.message } } };
      }
      try {
        return { status: 200, body: await handle(msg) };
      } catch (e) {
        await seen.release(msg.id);
        throw e;
      }
    },
    async release(id) {
      await seen.release(id);
    },
  };
  return receiver;
}
