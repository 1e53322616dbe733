import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { sql } from "kysely";
import type { DatabaseHandle } from "../db/database.ts";
import { HOUR, ManualClock } from "../shared/clock.ts";
import { open } from "../shared/crypto.ts";
import { MamoriError } from "../shared/errors.ts";
import { openStore } from "../store.ts";
import { PG_URL, testStores } from "../testing/stores.ts";
import { createWebhookService, messageState, type WebhookService } from "./service.ts";
import { backoffMs, createDeliveryStore, MAX_ATTEMPTS } from "./store.ts";
import type { WebhookEvent } from "./types.ts";

const KEY = randomBytes(32);

const event = (over: Partial<WebhookEvent> = {}): WebhookEvent => ({
  type: "order.cancelled",
  objectType: "order",
  objectId: "ord_1",
  accountId: "acc_1",
  caseId: "case_1",
  data: { reason: "account_takeover" },
  ...over,
});

async function withStore(open: () => Promise<DatabaseHandle>, fn: (h: DatabaseHandle) => Promise<void>) {
  const h = await open();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

async function rejectsWith(p: Promise<unknown>, code: string, status: number) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof MamoriError, String(e));
    assert.equal(e.code, code);
    assert.equal(e.httpStatus, status);
    return true;
  });
}

describe("webhook backoff and states", () => {
  it("backoff is 10 s doubling, capped at 1 h, within ±10 %", () => {
    const mid = () => 0.5;
    assert.equal(backoffMs(1, mid), 10_000);
    assert.equal(backoffMs(2, mid), 20_000);
    assert.equal(backoffMs(7, mid), 640_000);
    assert.equal(backoffMs(20, mid), HOUR);
    assert.equal(
      backoffMs(1, () => 0),
      9_000,
    );
    assert.equal(
      backoffMs(1, () => 1),
      11_000,
    );
  });

  it("state rule: confirmed > not_required > delivered > failed > pending", () => {
    assert.equal(messageState(1, []), "confirmed");
    assert.equal(messageState(1, ["abandoned"]), "confirmed");
    assert.equal(messageState(null, []), "not_required");
    assert.equal(messageState(null, ["abandoned", "delivered"]), "delivered");
    assert.equal(messageState(null, ["abandoned", "abandoned"]), "failed");
    assert.equal(messageState(null, ["abandoned", "queued"]), "pending");
    assert.equal(messageState(null, ["sending"]), "pending");
  });
});

for (const store of testStores) {
  describe(`webhook store on ${store.name}`, async () => {
    const skip = (await store.skip()) ?? false;

    const setup = (h: DatabaseHandle, clock = new ManualClock()) => ({
      clock,
      webhooks: createWebhookService({ db: h.db, clock, key: KEY }),
      deliveries: createDeliveryStore(h.db, clock, { random: () => 0.5 }),
    });

    it("emit in a transaction that rolls back leaves no message and no delivery", { skip }, () =>
      withStore(store.open, async (h) => {
        const { webhooks, deliveries } = setup(h);
        await webhooks.createEndpoint({ url: "https://shop.example/hooks" });
        await assert.rejects(
          h.db.transaction().execute(async (tx) => {
            const { id } = await webhooks.emit(tx, event());
            // visible inside the transaction, so the insert really went through tx
            assert.ok(await tx.selectFrom("webhook_messages").select("id").where("id", "=", id).executeTakeFirst());
            throw new Error("the cancellation failed");
          }),
          /the cancellation failed/,
        );
        assert.deepEqual(await h.db.selectFrom("webhook_messages").selectAll().execute(), []);
        assert.deepEqual(await h.db.selectFrom("webhook_deliveries").selectAll().execute(), []);
        assert.deepEqual(await deliveries.claimDue(10, 60_000), []);
      }),
    );

    it("emit writes the payload and one queued delivery per enabled endpoint", { skip }, () =>
      withStore(store.open, async (h) => {
        const { webhooks, clock } = setup(h);
        const a = await webhooks.createEndpoint({ url: "https://shop.example/a", description: "primary" });
        const b = await webhooks.createEndpoint({ url: "https://shop.example/b" });
        const c = await webhooks.createEndpoint({ url: "https://shop.example/c" });
        await webhooks.disableEndpoint(c.id);

        const { id } = await h.db
          .transaction()
          .execute((tx) => webhooks.emit(tx, event({ data: { reason: "ato", objectId: "spoofed" } })));
        assert.match(id, /^msg_[A-Za-z0-9_-]{20,}$/);
        const [m] = await webhooks.listMessages({ limit: 10 });
        assert.equal(m?.id, id);
        assert.equal(m?.state, "pending");
        assert.deepEqual(m?.payload, {
          type: "order.cancelled",
          timestamp: new Date(clock.now()).toISOString(),
          // the identifying fields cannot be overridden by data
          data: { objectType: "order", objectId: "ord_1", accountId: "acc_1", caseId: "case_1", reason: "ato" },
        });
        assert.deepEqual(m?.deliveries.map((d) => d.endpointId).sort(), [a.id, b.id].sort());
        for (const d of m?.deliveries ?? []) {
          assert.equal(d.status, "queued");
          assert.equal(d.attempts, 0);
          assert.equal(d.nextAttemptAt, new Date(clock.now()).toISOString());
        }
      }),
    );

    it("endpoints: whsec_ secret shown once and stored sealed; URL validated; disable is idempotent", { skip }, () =>
      withStore(store.open, async (h) => {
        const { webhooks } = setup(h);
        const ep = await webhooks.createEndpoint({ url: "http://127.0.0.1:8080/hooks?x=1" });
        assert.match(ep.secret, /^whsec_[A-Za-z0-9+/]+=*$/);
        const raw = Buffer.from(ep.secret.slice(6), "base64");
        assert.ok(raw.length >= 24 && raw.length <= 32);
        const row = await h.db.selectFrom("webhook_endpoints").selectAll().where("id", "=", ep.id).executeTakeFirst();
        assert.ok(row && !row.secret_enc.includes(ep.secret.slice(6)));
        assert.equal(open(KEY, row.secret_enc), ep.secret);
        const listed = await webhooks.listEndpoints();
        assert.deepEqual(Object.keys(listed[0] ?? {}).sort(), ["createdAt", "description", "disabledAt", "id", "url"]);

        for (const url of [
          "ftp://shop.example/hooks",
          "javascript:alert(1)",
          "https://user:pass@shop.example/hooks",
          "https://user@shop.example/hooks",
          "not a url",
          "/relative/path",
          "",
          `https://shop.example/${"a".repeat(2048)}`,
        ]) {
          await rejectsWith(webhooks.createEndpoint({ url }), "invalid_request", 400);
        }
        assert.equal((await webhooks.listEndpoints()).length, 1);

        const first = await webhooks.disableEndpoint(ep.id);
        assert.ok(first.disabledAt);
        assert.equal((await webhooks.disableEndpoint(ep.id)).disabledAt, first.disabledAt);
        await rejectsWith(webhooks.disableEndpoint("nope"), "webhook_endpoint_not_found", 404);
      }),
    );

    it("disabling an endpoint abandons its queued deliveries", { skip }, () =>
      withStore(store.open, async (h) => {
        const { webhooks } = setup(h);
        const ep = await webhooks.createEndpoint({ url: "https://shop.example/hooks" });
        const { id } = await webhooks.emit(h.db, event());
        await webhooks.disableEndpoint(ep.id);
        const [m] = await webhooks.listMessages({ limit: 1 });
        assert.equal(m?.deliveries[0]?.status, "abandoned");
        assert.equal(m?.deliveries[0]?.lastError, "endpoint disabled");
        assert.equal((await webhooks.states([id])).get(id), "failed");
      }),
    );

    it("two dispatchers claiming concurrently never get the same delivery", { skip }, () =>
      withStore(store.open, async (h) => {
        const clock = new ManualClock();
        // On PostgreSQL the second claimer is a separate pool on the same schema, as a second process would be.
        let second: DatabaseHandle | null = null;
        if (h.dialect === "postgres") {
          const { rows } = await sql<{ s: string }>`select current_schema() as s`.execute(h.db);
          second = openStore({ dataDir: "", databaseUrl: PG_URL, pgSchema: rows[0]!.s });
        }
        try {
          const { webhooks } = setup(h, clock);
          await webhooks.createEndpoint({ url: "https://shop.example/a" });
          await webhooks.createEndpoint({ url: "https://shop.example/b" });
          for (let i = 0; i < 25; i++) await webhooks.emit(h.db, event({ objectId: `ord_${i}` }));
          const a = createDeliveryStore(h.db, clock);
          const b = createDeliveryStore(second?.db ?? h.db, clock);
          const seen = new Set<string>();
          for (let round = 0; round < 2; round++) {
            const batches = await Promise.all([
              a.claimDue(50, 60_000),
              b.claimDue(50, 60_000),
              a.claimDue(50, 60_000),
              b.claimDue(50, 60_000),
            ]);
            const ids = batches.flat().map((d) => d.id);
            assert.equal(new Set(ids).size, ids.length, "a delivery was claimed twice in one lease");
            for (const id of ids) seen.add(id);
            if (round === 0) {
              assert.equal(ids.length, 50);
              for (const d of batches.flat()) {
                assert.equal(d.status, "sending");
                assert.equal(d.locked_until, clock.now() + 60_000);
                assert.equal(d.url.startsWith("https://shop.example/"), true);
                assert.equal(JSON.parse(d.payload).type, "order.cancelled");
              }
              // nothing is due again while the leases hold
              assert.deepEqual(await a.claimDue(50, 60_000), []);
              // every lease expires (a crashed node): exactly one claimer takes each over
              clock.advance(60_000);
            }
          }
          assert.equal(seen.size, 50);
        } finally {
          await second?.close();
        }
      }),
    );

    it("a failed attempt backs off and 8 failures abandon; a late failure from a lost lease is ignored", { skip }, () =>
      withStore(store.open, async (h) => {
        const { webhooks, deliveries, clock } = setup(h);
        await webhooks.createEndpoint({ url: "https://shop.example/hooks" });
        const { id } = await webhooks.emit(h.db, event());

        const [first] = await deliveries.claimDue(10, 60_000);
        assert.ok(first);
        // the lease expires and another dispatcher re-claims: the first one's late report must not count
        clock.advance(60_000);
        const [again] = await deliveries.claimDue(10, 60_000);
        assert.equal(again?.id, first.id);
        assert.equal(await deliveries.markFailed(first, { httpStatus: 500, error: "HTTP 500" }), null);

        let d = again!;
        for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
          const outcome = await deliveries.markFailed(d, { httpStatus: 503, error: `HTTP 503: try ${attempt}` });
          const row = await deliveries.get(d.id);
          assert.equal(row?.attempts, attempt);
          assert.equal(row?.last_status, 503);
          if (attempt < MAX_ATTEMPTS) {
            assert.equal(outcome, "queued");
            assert.equal(row?.next_attempt_at, clock.now() + backoffMs(attempt, () => 0.5));
            assert.equal((await webhooks.states([id])).get(id), "pending");
            assert.deepEqual(await deliveries.claimDue(10, 60_000), [], "not due before the backoff");
            clock.advance(backoffMs(attempt, () => 0.5));
            const [next] = await deliveries.claimDue(10, 60_000);
            assert.ok(next);
            d = next;
          } else {
            assert.equal(outcome, "abandoned");
            assert.equal(row?.status, "abandoned");
          }
        }
        assert.equal((await webhooks.states([id])).get(id), "failed");
        clock.advance(HOUR * 24);
        assert.deepEqual(await deliveries.claimDue(10, 60_000), []);
      }),
    );

    it("states(): not_required, pending, delivered, failed, confirmed; unknown ids absent", { skip }, () =>
      withStore(store.open, async (h) => {
        const { webhooks, deliveries } = setup(h);
        const none = await webhooks.emit(h.db, event({ objectId: "no-endpoint" }));
        const ep = await webhooks.createEndpoint({ url: "https://shop.example/a" });
        await webhooks.createEndpoint({ url: "https://shop.example/b" });
        const pending = await webhooks.emit(h.db, event({ objectId: "p" }));
        const delivered = await webhooks.emit(h.db, event({ objectId: "d" }));
        const failed = await webhooks.emit(h.db, event({ objectId: "f" }));
        const confirmed = await webhooks.emit(h.db, event({ objectId: "c" }));

        const claimed = await deliveries.claimDue(100, 60_000);
        for (const d of claimed) {
          if (d.message_id === delivered.id && d.endpoint_id === ep.id) await deliveries.markDelivered(d, 204, false);
          else if (d.message_id === delivered.id) await deliveries.markFailed(d, { httpStatus: null, error: "x" });
          else if (d.message_id === failed.id)
            await deliveries.markFailed(d, { httpStatus: 410, error: "gone", final: true });
          else if (d.message_id === confirmed.id) await deliveries.markDelivered(d, 200, true);
        }
        const s = await webhooks.states([none.id, pending.id, delivered.id, failed.id, confirmed.id, "msg_unknown"]);
        assert.deepEqual(Object.fromEntries(s), {
          [none.id]: "not_required",
          [pending.id]: "pending",
          [delivered.id]: "delivered",
          [failed.id]: "failed",
          [confirmed.id]: "confirmed",
        });
        assert.deepEqual(await webhooks.states([]), new Map());
        // confirmation through the API wins over a failed delivery (the store applied it another way)
        await webhooks.confirm(failed.id, { note: "applied by hand" });
        assert.equal((await webhooks.states([failed.id])).get(failed.id), "confirmed");
      }),
    );

    it("confirm is idempotent, keeps the first note, and 404s an unknown id", { skip }, () =>
      withStore(store.open, async (h) => {
        const { webhooks, clock } = setup(h);
        const { id } = await webhooks.emit(h.db, event());
        const first = await webhooks.confirm(id, { note: "cancelled in OMS" });
        assert.equal(first.state, "confirmed");
        clock.advance(5_000);
        const again = await webhooks.confirm(id, { note: "second" });
        assert.equal(again.confirmedAt, first.confirmedAt);
        const [m] = await webhooks.listMessages({ limit: 1 });
        assert.equal(m?.confirmedNote, "cancelled in OMS");
        assert.equal(m?.state, "confirmed");
        await rejectsWith(webhooks.confirm("msg_nope"), "webhook_message_not_found", 404);
      }),
    );

    it("listMessages filters by object and case, newest first", { skip }, () =>
      withStore(store.open, async (h) => {
        const { webhooks, clock } = setup(h);
        const w: WebhookService = webhooks;
        const a = await w.emit(h.db, event({ objectId: "ord_1", caseId: "case_1" }));
        clock.advance(1);
        const b = await w.emit(h.db, event({ type: "payment.voided", objectType: "payment", objectId: "pay_1" }));
        clock.advance(1);
        const c = await w.emit(h.db, event({ objectId: "ord_1", caseId: "case_2", accountId: null }));
        assert.deepEqual(
          (await w.listMessages({ limit: 10 })).map((m) => m.id),
          [c.id, b.id, a.id],
        );
        assert.deepEqual(
          (await w.listMessages({ objectType: "order", objectId: "ord_1", limit: 10 })).map((m) => m.id),
          [c.id, a.id],
        );
        assert.deepEqual(
          (await w.listMessages({ caseId: "case_2", limit: 10 })).map((m) => m.id),
          [c.id],
        );
        assert.deepEqual(
          (await w.listMessages({ objectType: "payment", limit: 10 })).map((m) => m.type),
          ["payment.voided"],
        );
        assert.equal((await w.listMessages({ limit: 1 })).length, 1);
        const [cm] = await w.listMessages({ caseId: "case_2", limit: 1 });
        assert.equal(cm?.accountId, null);
        assert.equal(cm?.state, "not_required");
      }),
    );
  });
}
