import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sql } from "kysely";
import type { DatabaseHandle } from "../db/database.ts";
import { HOUR, ManualClock } from "../shared/clock.ts";
import { openStore } from "../store.ts";
import { PG_URL, testStores } from "../testing/stores.ts";
import { backoffMs, createOutboxStore, MAX_ATTEMPTS, type NewNotice } from "./store.ts";

const notice = (over: Partial<NewNotice> = {}): NewNotice => ({
  accountId: "acc-1",
  eventId: "ev-1",
  channel: "email",
  recipient: "alice@example.com",
  template: "password_changed",
  language: "en",
  vars: { at: "2026-01-01T00:00:00.000Z", notMeUrl: "https://shop.example/links/not-me?t=x" },
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

describe("backoff", () => {
  it("grows 30 s · 4^(n−1), capped at 6 h, within ±10 %", () => {
    assert.equal(
      backoffMs(1, () => 0.5),
      30_000,
    );
    assert.equal(
      backoffMs(2, () => 0.5),
      120_000,
    );
    assert.equal(
      backoffMs(3, () => 0.5),
      480_000,
    );
    assert.equal(
      backoffMs(7, () => 0.5),
      6 * HOUR,
    );
    assert.equal(
      backoffMs(1, () => 0),
      27_000,
    );
    assert.equal(
      backoffMs(1, () => 1),
      33_000,
    );
    assert.equal(
      backoffMs(20, () => 1),
      Math.round(6.6 * HOUR),
    );
  });
});

for (const store of testStores) {
  describe(`outbox store on ${store.name}`, async () => {
    const skip = (await store.skip()) ?? false;

    it(
      "enqueue in a transaction that rolls back leaves no notice (never told of a change that did not happen)",
      { skip },
      () =>
        withStore(store.open, async (h) => {
          const clock = new ManualClock();
          const outbox = createOutboxStore(h.db, clock);
          await assert.rejects(
            h.db.transaction().execute(async (tx) => {
              const id = await outbox.enqueue(tx, notice());
              // visible inside the transaction, so the insert really went through tx
              assert.ok(await tx.selectFrom("notifications").select("id").where("id", "=", id).executeTakeFirst());
              throw new Error("the change failed");
            }),
            /the change failed/,
          );
          assert.deepEqual(await outbox.listMailbox({}), []);
          assert.deepEqual(await outbox.claimDue(10, 60_000), []);

          const id = await h.db.transaction().execute((tx) => outbox.enqueue(tx, notice()));
          const row = await outbox.get(id);
          assert.equal(row?.status, "queued");
          assert.equal(row?.attempts, 0);
          assert.equal(row?.next_attempt_at, clock.now());
          assert.equal(row?.subject, "[Mamori] Your password was changed");
          assert.match(row?.body ?? "", /not-me\?t=x/);
        }),
    );

    it("enqueue refuses a notice with missing vars instead of queueing a broken one", { skip }, () =>
      withStore(store.open, async (h) => {
        const outbox = createOutboxStore(h.db, new ManualClock());
        await assert.rejects(outbox.enqueue(h.db, notice({ vars: { at: "x" } })), /missing vars notMeUrl/);
        assert.deepEqual(await outbox.listMailbox({}), []);
      }),
    );

    it("two dispatchers claiming concurrently never get the same row", { skip }, () =>
      withStore(store.open, async (h) => {
        const clock = new ManualClock();
        // On PostgreSQL the second claimer is a separate pool on the same schema, as a second process would be.
        let second: DatabaseHandle | null = null;
        if (h.dialect === "postgres") {
          const { rows } = await sql<{ s: string }>`select current_schema() as s`.execute(h.db);
          second = openStore({ dataDir: "", databaseUrl: PG_URL, pgSchema: rows[0]!.s });
        }
        try {
          const a = createOutboxStore(h.db, clock);
          const b = createOutboxStore(second?.db ?? h.db, clock);
          const ids = new Set<string>();
          for (let i = 0; i < 50; i++) ids.add(await a.enqueue(h.db, notice({ recipient: `u${i}@example.com` })));
          for (let round = 0; round < 3; round++) {
            const [x, y, z] = await Promise.all([
              a.claimDue(50, 60_000),
              b.claimDue(50, 60_000),
              a.claimDue(50, 60_000),
            ]);
            const claimed = [...x, ...y, ...z].map((r) => r.id);
            assert.equal(new Set(claimed).size, claimed.length, `a row was claimed twice in round ${round}`);
            if (round === 0) assert.equal(claimed.length, 50, "every due row is claimed once");
            else assert.equal(claimed.length, 0, "claimed rows are not due again within the lease");
            for (const r of [...x, ...y, ...z]) {
              assert.ok(ids.has(r.id));
              assert.equal(r.status, "sending");
              assert.equal(r.locked_until, clock.now() + 60_000);
            }
          }
          // expired leases, re-claimed concurrently: still each row once
          clock.advance(60_000);
          const [x, y] = await Promise.all([a.claimDue(50, 60_000), b.claimDue(50, 60_000)]);
          const again = [...x, ...y].map((r) => r.id);
          assert.equal(again.length, 50);
          assert.equal(new Set(again).size, 50);
        } finally {
          await second?.close();
        }
      }),
    );

    it("a row whose dispatcher crashed mid-send is claimed again once its lease expires", { skip }, () =>
      withStore(store.open, async (h) => {
        const clock = new ManualClock();
        const outbox = createOutboxStore(h.db, clock);
        const id = await outbox.enqueue(h.db, notice());
        const [first] = await outbox.claimDue(10, 60_000);
        assert.equal(first?.id, id);
        // the first dispatcher dies here, before markSent or markFailed
        clock.advance(59_999);
        assert.deepEqual(await outbox.claimDue(10, 60_000), [], "still leased");
        clock.advance(1);
        const [retaken] = await outbox.claimDue(10, 60_000);
        assert.equal(retaken?.id, id);
        assert.equal(retaken?.status, "sending");
        assert.equal(retaken?.locked_until, clock.now() + 60_000);
        assert.equal(await outbox.markSent(id), true);
        const row = await outbox.get(id);
        assert.equal(row?.status, "sent");
        assert.equal(row?.sent_at, clock.now());
        assert.equal(row?.locked_until, null);
        // a settled row is never claimed again, and a late report from the dead dispatcher changes nothing
        clock.advance(HOUR);
        assert.deepEqual(await outbox.claimDue(10, 60_000), []);
        assert.equal(await outbox.markFailed(id, "late"), null);
        assert.equal(await outbox.markSent(id), false);
        assert.equal((await outbox.get(id))?.status, "sent");
      }),
    );

    it("failed attempts back off exponentially and the notice is abandoned after 8", { skip }, () =>
      withStore(store.open, async (h) => {
        const clock = new ManualClock();
        const outbox = createOutboxStore(h.db, clock, { random: () => 0.5 });
        const id = await outbox.enqueue(h.db, notice());
        const delays: number[] = [];
        for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
          const claimed = await outbox.claimDue(10, 60_000);
          assert.deepEqual(
            claimed.map((r) => r.id),
            [id],
          );
          const outcome = await outbox.markFailed(id, `connect ECONNREFUSED (try ${attempt})`);
          const row = await outbox.get(id);
          assert.equal(row?.attempts, attempt);
          assert.equal(row?.last_error, `connect ECONNREFUSED (try ${attempt})`);
          assert.equal(row?.locked_until, null);
          if (attempt < MAX_ATTEMPTS) {
            assert.equal(outcome, "queued");
            assert.equal(row?.status, "queued");
            const delay = row!.next_attempt_at - clock.now();
            delays.push(delay);
            clock.advance(delay - 1);
            assert.deepEqual(await outbox.claimDue(10, 60_000), [], "not due before its backoff");
            clock.advance(1);
          } else {
            assert.equal(outcome, "abandoned");
            assert.equal(row?.status, "abandoned");
          }
        }
        assert.deepEqual(delays, [30_000, 120_000, 480_000, 1_920_000, 7_680_000, 6 * HOUR, 6 * HOUR]);
        clock.advance(24 * HOUR);
        assert.deepEqual(await outbox.claimDue(10, 60_000), [], "an abandoned notice is not retried");
        // a failure report for a row that is not being sent is refused
        const other = await outbox.enqueue(h.db, notice());
        assert.equal(await outbox.markFailed(other, "x"), null);
        assert.equal((await outbox.get(other))?.attempts, 0);
      }),
    );

    it("listMailbox filters by recipient and account, newest first, with a limit", { skip }, () =>
      withStore(store.open, async (h) => {
        const clock = new ManualClock();
        const outbox = createOutboxStore(h.db, clock);
        const a1 = await outbox.enqueue(h.db, notice({ accountId: "acc-a", recipient: "a@example.com" }));
        clock.advance(1000);
        const a2 = await outbox.enqueue(
          h.db,
          notice({
            accountId: "acc-a",
            channel: "sms",
            recipient: "+819012345678",
            template: "phone_verify_code",
            vars: { code: "1" },
          }),
        );
        clock.advance(1000);
        const b1 = await outbox.enqueue(h.db, notice({ accountId: "acc-b", recipient: "b@example.com" }));
        clock.advance(1000);
        const a3 = await outbox.enqueue(h.db, notice({ accountId: "acc-a", recipient: "a@example.com" }));
        const ids = (rows: { id: string }[]) => rows.map((r) => r.id);
        assert.deepEqual(ids(await outbox.listMailbox({})), [a3, b1, a2, a1]);
        assert.deepEqual(ids(await outbox.listMailbox({ accountId: "acc-a" })), [a3, a2, a1]);
        assert.deepEqual(ids(await outbox.listMailbox({ recipient: " A@Example.com " })), [a3, a1]);
        assert.deepEqual(ids(await outbox.listMailbox({ recipient: "a@example.com", accountId: "acc-b" })), []);
        assert.deepEqual(ids(await outbox.listMailbox({ accountId: "acc-a", limit: 2 })), [a3, a2]);
        assert.equal(await outbox.get("missing"), undefined);
      }),
    );
  });
}
