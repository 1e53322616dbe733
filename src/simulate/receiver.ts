import http from "node:http";
import type { AddressInfo } from "node:net";
import { Webhook } from "standardwebhooks";

/** What the simulated store keeps of an object Mamori acted on. */
export interface StoreObject {
  objectType: string;
  objectId: string;
  /** the webhook types applied, in order */
  applied: string[];
  /** the last `data.status` (orders) or the last type's verb (listing.taken_down → taken_down) */
  state: string;
}

export interface ReceivedDelivery {
  messageId: string;
  type: string;
  objectType: string;
  objectId: string;
  caseId: string | null;
  /** the HTTP status the store answered */
  answered: number;
  verified: boolean;
}

/**
 * The store's backend as far as webhooks go: verifies each Standard Webhooks signature, applies the message once (by
 * webhook-id) to its in-memory record, and answers {"status":"applied"} so Mamori records the confirmation.
 * `failOnce` makes it answer 500 to the first delivery of one object's message (the store was down), as in seed 000.
 */
export class StoreReceiver {
  readonly objects = new Map<string, StoreObject>();
  readonly deliveries: ReceivedDelivery[] = [];
  private applied = new Set<string>();
  private failures = new Map<string, number>();
  private webhook: Webhook | null = null;
  private server: http.Server | null = null;
  port = 0;

  /** The endpoint secret from createWebhookEndpoint (shown once). */
  setSecret(secret: string): void {
    this.webhook = new Webhook(secret);
  }

  /** Answer 500 to the next `times` deliveries of `type` for `objectId`. */
  failOnce(type: string, objectId: string, times = 1): void {
    this.failures.set(`${type}|${objectId}`, times);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/mamori/webhooks`;
  }

  async start(port = 0): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const { status, body } = this.handle(req.headers, Buffer.concat(chunks).toString("utf8"));
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify(body));
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  private handle(headers: http.IncomingHttpHeaders, raw: string): { status: number; body: unknown } {
    if (!this.webhook) return { status: 503, body: { error: "no secret yet" } };
    const h: Record<string, string> = {};
    for (const k of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
      const v = headers[k];
      if (typeof v === "string") h[k] = v;
    }
    let msg: { type: string; data: { objectType: string; objectId: string; caseId?: string | null; status?: string } };
    try {
      msg = this.webhook.verify(raw, h) as typeof msg;
    } catch {
      // an unsigned or forged message changes nothing in the store
      this.deliveries.push({
        messageId: h["webhook-id"] ?? "?",
        type: "?",
        objectType: "?",
        objectId: "?",
        caseId: null,
        answered: 401,
        verified: false,
      });
      return { status: 401, body: { error: "bad signature" } };
    }
    const messageId = h["webhook-id"]!;
    const d = msg.data;
    const record = (answered: number) =>
      this.deliveries.push({
        messageId,
        type: msg.type,
        objectType: d.objectType,
        objectId: d.objectId,
        caseId: d.caseId ?? null,
        answered,
        verified: true,
      });
    const failKey = `${msg.type}|${d.objectId}`;
    const left = this.failures.get(failKey) ?? 0;
    if (left > 0) {
      this.failures.set(failKey, left - 1);
      record(500);
      return { status: 500, body: { error: "store database unavailable" } };
    }
    // webhook-id is the same on every retry: apply each message once
    if (!this.applied.has(messageId)) {
      this.applied.add(messageId);
      const key = `${d.objectType}:${d.objectId}`;
      const o = this.objects.get(key) ?? { objectType: d.objectType, objectId: d.objectId, applied: [], state: "" };
      o.applied.push(msg.type);
      o.state = typeof d.status === "string" ? d.status : (msg.type.split(".")[1] ?? msg.type);
      this.objects.set(key, o);
    }
    record(200);
    return { status: 200, body: { status: "applied" } };
  }

  object(objectType: string, objectId: string): StoreObject | undefined {
    return this.objects.get(`${objectType}:${objectId}`);
  }
}
