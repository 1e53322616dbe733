import assert from "node:assert/strict";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { SMTPServer } from "smtp-server";
import type { DatabaseHandle } from "../db/database.ts";
import { ManualClock } from "../shared/clock.ts";
import { testStores } from "../testing/stores.ts";
import { createDispatcher } from "./dispatcher.ts";
import { formatMailbox } from "./mailbox.ts";
import { createOutboxStore, type NewNotice, type OutboxStore } from "./store.ts";
import { createTransportRouter, type OutgoingNotice, type Transport } from "./transport.ts";

const NOT_ME = "https://shop.example/links/not-me?t=abc.def";
// The store's own name, in Japanese: it must reach the reader's mail client intact.
const FROM = { name: "ショップ本舗", address: "security@shop.example" };

const notice = (over: Partial<NewNotice> = {}): NewNotice => ({
  accountId: "acc-1",
  eventId: "ev-1",
  channel: "email",
  recipient: "hanako@example.jp",
  template: "signin_new_device",
  language: "ja",
  vars: {
    device: "Safari, iOS, mobile",
    ip: "203.0.113.9",
    country: "JP",
    at: "2026-01-01T00:00:00.000Z",
    notMeUrl: NOT_ME,
  },
  ...over,
});

interface Received {
  rcptTo: string[];
  rawHeader: string;
  headers: Map<string, string>;
  body: string;
}

/** A real SMTP server on 127.0.0.1 collecting what it receives; `stop()` and `start()` simulate an outage. */
class TestSmtpServer {
  received: Received[] = [];
  port = 0;
  private server: SMTPServer | null = null;

  async start(): Promise<void> {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS"],
      logger: false,
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          this.received.push({
            rcptTo: session.envelope.rcptTo.map((a) => a.address),
            ...parseMessage(Buffer.concat(chunks).toString("latin1")),
          });
          callback();
        });
      },
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(this.port, "127.0.0.1", () => resolve());
    });
    this.port = (server.server.address() as AddressInfo).port;
    this.server = server;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  get url(): string {
    return `smtp://127.0.0.1:${this.port}`;
  }
}

/** Just enough MIME to check what a mail client would show: unfolded headers, RFC 2047 words, QP/base64 bodies. */
function parseMessage(raw: string): { rawHeader: string; headers: Map<string, string>; body: string } {
  const split = raw.indexOf("\r\n\r\n");
  const headers = new Map<string, string>();
  for (const line of raw
    .slice(0, split)
    .replace(/\r\n[ \t]/g, " ")
    .split("\r\n")) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).toLowerCase(), decodeWords(line.slice(colon + 1).trim()));
  }
  const bodyRaw = raw.slice(split + 4);
  const cte = headers.get("content-transfer-encoding")?.toLowerCase();
  let bytes: Buffer;
  if (cte === "base64") bytes = Buffer.from(bodyRaw.replace(/\s+/g, ""), "base64");
  else if (cte === "quoted-printable") bytes = qp(bodyRaw.replace(/=\r\n/g, ""));
  else bytes = Buffer.from(bodyRaw, "latin1");
  return { rawHeader: raw.slice(0, split), headers, body: bytes.toString("utf8").replace(/\r\n/g, "\n") };
}

function qp(s: string): Buffer {
  return Buffer.from(
    s.replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
    "latin1",
  );
}

function decodeWords(v: string): string {
  // adjacent encoded words are joined by their bytes: a character may be split across two words
  return v.replace(/(?:=\?utf-8\?[bq]\?[^?]*\?=\s*)+/gi, (run) => {
    const parts = [...run.matchAll(/=\?utf-8\?([bq])\?([^?]*)\?=/gi)].map(([, enc, text]) =>
      enc!.toLowerCase() === "b" ? Buffer.from(text!, "base64") : qp(text!.replace(/_/g, " ")),
    );
    return Buffer.concat(parts).toString("utf8");
  });
}

for (const store of testStores) {
  describe(`notification delivery on ${store.name}`, async () => {
    const skip = (await store.skip()) ?? false;
    let h: DatabaseHandle;
    let clock: ManualClock;
    let outbox: OutboxStore;
    const smtp = new TestSmtpServer();

    before(async () => {
      if (skip) return;
      h = await store.open();
      await smtp.start();
    });
    after(async () => {
      if (skip) return;
      await smtp.stop();
      await h.close();
    });
    const fresh = async () => {
      await h.db.deleteFrom("notifications").execute();
      smtp.received = [];
      clock = new ManualClock();
      outbox = createOutboxStore(h.db, clock, { random: () => 0.5 });
    };

    it("sends a Japanese notice over SMTP: right recipient, UTF-8 subject, body with the 'This wasn't me' link", {
      skip,
    }, async () => {
      await fresh();
      const id = await outbox.enqueue(h.db, notice());
      const d = createDispatcher({
        outbox,
        clock,
        transport: createTransportRouter({ smtpUrl: smtp.url, from: FROM }),
      });
      assert.deepEqual(await d.runOnce(), { sent: 1, failed: 0 });

      assert.equal(smtp.received.length, 1);
      const m = smtp.received[0]!;
      assert.deepEqual(m.rcptTo, ["hanako@example.jp"]);
      assert.equal(m.headers.get("to"), "hanako@example.jp");
      assert.match(m.rawHeader, /^Subject: =\?UTF-8\?/im, "the subject goes as RFC 2047 encoded words");
      assert.equal(m.headers.get("subject"), "【Mamori】新しい端末からのログインがありました");
      assert.match(m.rawHeader, /^From: =\?UTF-8\?/im, "a Japanese sender name goes as encoded words");
      assert.match(m.headers.get("from") ?? "", /^"?ショップ本舗"? ?<security@shop\.example>$/);
      assert.equal(m.headers.get("x-mamori-notification"), id);
      assert.equal(m.headers.get("message-id"), `<${id}@shop.example>`);
      assert.match(m.headers.get("content-type") ?? "", /charset=utf-8/i);
      assert.ok(m.body.includes(NOT_ME), m.body);
      assert.ok(m.body.includes("端末: Safari, iOS, mobile"), m.body);

      const row = await outbox.get(id);
      assert.equal(row?.status, "sent");
      assert.equal(row?.attempts, 0);
      assert.equal(row?.sent_at, clock.now());
    });

    it("SMS notices stay in the local mailbox even when SMTP is configured", { skip }, async () => {
      await fresh();
      const id = await outbox.enqueue(
        h.db,
        notice({ channel: "sms", recipient: "+819012345678", template: "phone_verify_code", vars: { code: "123456" } }),
      );
      const d = createDispatcher({
        outbox,
        clock,
        transport: createTransportRouter({ smtpUrl: smtp.url, from: FROM }),
      });
      assert.deepEqual(await d.runOnce(), { sent: 1, failed: 0 });
      assert.equal(smtp.received.length, 0, "an SMS must not be mailed");
      assert.equal((await outbox.get(id))?.status, "sent");
    });

    it("while the SMTP server is down the notice is requeued with the error, and sent after it returns and the backoff passes", {
      skip,
    }, async () => {
      await fresh();
      const warnings: object[] = [];
      const id = await outbox.enqueue(h.db, notice({ language: "en" }));
      const d = createDispatcher({
        outbox,
        clock,
        transport: createTransportRouter({ smtpUrl: smtp.url, from: FROM }),
        logger: { warn: (obj) => warnings.push(obj) },
      });
      await smtp.stop();
      try {
        assert.deepEqual(await d.runOnce(), { sent: 0, failed: 1 });
      } finally {
        await smtp.start();
      }
      let row = await outbox.get(id);
      assert.equal(row?.status, "queued");
      assert.equal(row?.attempts, 1);
      assert.match(row?.last_error ?? "", /ECONNREFUSED/);
      assert.equal(row?.next_attempt_at, clock.now() + 30_000);
      assert.equal(warnings.length, 1);

      // the server is back, but the backoff has not passed
      assert.deepEqual(await d.runOnce(), { sent: 0, failed: 0 });
      assert.equal(smtp.received.length, 0);
      clock.advance(30_000);
      assert.deepEqual(await d.runOnce(), { sent: 1, failed: 0 });
      assert.equal(smtp.received.length, 1);
      assert.equal(smtp.received[0]!.headers.get("subject"), "[Mamori] New sign-in to your account");
      assert.ok(smtp.received[0]!.body.includes(`If this wasn't you, click here: ${NOT_ME}`));
      row = await outbox.get(id);
      assert.equal(row?.status, "sent");
      assert.equal(row?.attempts, 1);
    });

    it("without SMTP the local mailbox delivers (marks sent) and `mamori mail` shows the messages", {
      skip,
    }, async () => {
      await fresh();
      const email = await outbox.enqueue(h.db, notice());
      clock.advance(1000);
      const sms = await outbox.enqueue(
        h.db,
        notice({ channel: "sms", recipient: "+819012345678", template: "phone_verify_code", vars: { code: "654321" } }),
      );
      const d = createDispatcher({ outbox, clock, transport: createTransportRouter({ from: FROM }) });
      assert.deepEqual(await d.runOnce(), { sent: 2, failed: 0 });
      assert.equal(smtp.received.length, 0);
      for (const id of [email, sms]) assert.equal((await outbox.get(id))?.status, "sent");

      const text = formatMailbox(await outbox.listMailbox({}));
      assert.ok(text.indexOf(sms) < text.indexOf(email), "newest first");
      assert.ok(text.includes("To:      hanako@example.jp"));
      assert.ok(text.includes("Channel: sms"));
      assert.ok(text.includes("Status:  sent (attempts 0)"));
      assert.ok(text.includes("Subject: 【Mamori】新しい端末からのログインがありました"));
      assert.ok(text.includes(NOT_ME));
      assert.ok(text.includes("【Mamori】電話番号の確認コードは 654321 です。"));
      assert.ok(text.includes("When:    2026-01-01T00:00:00.000Z"));
      assert.equal(formatMailbox([]), "(no messages)\n");
    });
  });
}

/** A transport whose sends wait until released, counting how many run at once. */
function gatedTransport() {
  let active = 0;
  const t = {
    maxActive: 0,
    sent: [] as string[],
    gates: [] as (() => void)[],
    transport: {
      name: "gated",
      send: async (msg: OutgoingNotice) => {
        active++;
        t.maxActive = Math.max(t.maxActive, active);
        await new Promise<void>((resolve) => t.gates.push(resolve));
        active--;
        t.sent.push(msg.to);
      },
    } satisfies Transport,
    releaseAll() {
      for (const g of t.gates.splice(0)) g();
    },
  };
  return t;
}

const tick = () => new Promise((r) => setTimeout(r, 5));

async function until(cond: () => boolean | Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await cond()) return;
    await tick();
  }
  assert.fail(`timed out waiting for ${what}`);
}

describe("dispatcher scheduling", () => {
  let h: DatabaseHandle;
  before(async () => {
    h = await testStores[0]!.open();
  });
  after(() => h.close());

  it("kicks coalesce and runs never overlap; a full batch is followed by another run", async () => {
    await h.db.deleteFrom("notifications").execute();
    const clock = new ManualClock();
    const outbox = createOutboxStore(h.db, clock);
    const gated = gatedTransport();
    const d = createDispatcher({ outbox, clock, transport: gated.transport, batch: 2 });
    for (let i = 0; i < 5; i++) await outbox.enqueue(h.db, notice({ recipient: `u${i}@example.jp` }));
    for (let i = 0; i < 10; i++) d.kick();
    const direct = d.runOnce(); // waits for the kicked run instead of overlapping it
    for (let n = 0; n < 20 && gated.sent.length < 5; n++) {
      await until(() => gated.gates.length > 0 || gated.sent.length === 5, "a send");
      gated.releaseAll();
      await tick();
    }
    await until(() => gated.sent.length === 5, "all five sent");
    assert.equal(gated.maxActive, 1, "two runs sent at the same time");
    assert.deepEqual(
      [...gated.sent].sort(),
      ["u0", "u1", "u2", "u3", "u4"].map((u) => `${u}@example.jp`),
    );
    await direct;
    await d.stop();
    const rows = await outbox.listMailbox({});
    assert.ok(rows.every((r) => r.status === "sent"));
  });

  it("stop waits for the send in flight and then no longer runs", async () => {
    await h.db.deleteFrom("notifications").execute();
    const clock = new ManualClock();
    const outbox = createOutboxStore(h.db, clock);
    const gated = gatedTransport();
    const d = createDispatcher({ outbox, clock, transport: gated.transport });
    const id = await outbox.enqueue(h.db, notice());
    d.start(10);
    await until(() => gated.gates.length === 1, "the send to start");
    let stopped = false;
    const stopping = d.stop().then(() => {
      stopped = true;
    });
    await tick();
    assert.equal(stopped, false, "stop returned while a send was in flight");
    gated.releaseAll();
    await stopping;
    assert.equal((await outbox.get(id))?.status, "sent", "the in-flight send was recorded before stop returned");

    await outbox.enqueue(h.db, notice({ recipient: "later@example.jp" }));
    d.kick();
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(gated.gates.length, 0, "a stopped dispatcher sent");
  });
});
