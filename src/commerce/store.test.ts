import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { DatabaseHandle } from "../db/database.ts";
import { ManualClock } from "../shared/clock.ts";
import { newId } from "../shared/crypto.ts";
import { bareAccount, testStores } from "../testing/stores.ts";
import { createTestGateway } from "./gateway.ts";
import { giftCodeHash } from "./service.ts";
import { cardAccount, ISSUANCE, commerceStore as store, walletAccount } from "./store.ts";

async function withStore(open: () => Promise<DatabaseHandle>, fn: (h: DatabaseHandle) => Promise<void>) {
  const h = await open();
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

async function account(h: DatabaseHandle, now: number): Promise<string> {
  const id = newId();
  await h.db.insertInto("accounts").values(bareAccount(id, now)).execute();
  return id;
}

for (const s of testStores) {
  describe(`commerce store on ${s.name}`, async () => {
    const skip = (await s.skip()) ?? false;
    const clock = new ManualClock(Date.UTC(2026, 10, 1));
    const now = clock.now();

    it("a wallet never goes negative under concurrent debits, and every transfer sums to zero", { skip }, () =>
      withStore(s.open, async (h) => {
        await h.db
          .transaction()
          .execute((t) =>
            store.transferBalance(t, { from: ISSUANCE, to: "wallet:a", amount: 10_000, idempotencyKey: "fund", now }),
          );
        const results = await Promise.all(
          Array.from({ length: 25 }, (_, i) =>
            h.db.transaction().execute((t) =>
              store.transferBalance(t, {
                from: "wallet:a",
                to: `wallet:b${i % 3}`,
                amount: 700,
                idempotencyKey: `d${i}`,
                now,
              }),
            ),
          ),
        );
        const done = results.filter((r) => r.status === "done").length;
        assert.equal(done, 14, "10 000 / 700 = 14 debits fit");
        assert.equal(results.filter((r) => r.status === "insufficient").length, 11);
        assert.equal(await store.balance(h.db, "wallet:a"), 10_000 - 14 * 700);
        const others = (await Promise.all([0, 1, 2].map((i) => store.balance(h.db, `wallet:b${i}`)))).reduce(
          (a, b) => a + b,
        );
        assert.equal(others, 14 * 700);
        assert.equal(await store.ledgerSum(h.db), 0);
        assert.equal(await store.balance(h.db, ISSUANCE), -10_000, "only issuance is negative");
        // The CHECK backstop: a direct write below zero is refused by the store itself.
        await assert.rejects(
          h.db.updateTable("ledger_accounts").set({ balance: -1 }).where("id", "=", "wallet:a").execute(),
        );
      }),
    );

    it("the same idempotency key moves money once, sequentially and racing", { skip }, () =>
      withStore(s.open, async (h) => {
        const go = () =>
          h.db
            .transaction()
            .execute((t) =>
              store.transferBalance(t, { from: ISSUANCE, to: "wallet:x", amount: 500, idempotencyKey: "k1", now }),
            );
        const first = await go();
        const second = await go();
        assert.equal(first.status, "done");
        assert.equal(second.status, "duplicate");
        const raced = await Promise.all(
          [1, 2, 3, 4].map(() =>
            h.db
              .transaction()
              .execute((t) =>
                store.transferBalance(t, { from: ISSUANCE, to: "wallet:x", amount: 500, idempotencyKey: "k2", now }),
              ),
          ),
        );
        assert.equal(raced.filter((r) => r.status === "done").length, 1);
        assert.equal(await store.balance(h.db, "wallet:x"), 1000);
        const n = await h.db
          .selectFrom("ledger_entries")
          .select((eb) => eb.fn.countAll().as("n"))
          .executeTakeFirstOrThrow();
        assert.equal(Number(n.n), 4, "two transfers, two legs each");
      }),
    );

    it("a gift card is redeemed once under concurrent redemptions into different accounts", { skip }, () =>
      withStore(s.open, async (h) => {
        const buyer = await account(h, now);
        const orderId = newId();
        await h.db
          .insertInto("orders")
          .values({
            id: orderId,
            account_id: buyer,
            session_id: null,
            status: "placed",
            kind: "digital",
            currency: "JPY",
            total: 2500,
            address_id: null,
            address_snapshot: null,
            payment_method: "instrument",
            payment_instrument_id: null,
            payment_required: 0,
            listing_id: null,
            seller_account_id: null,
            external_ref: null,
            gift_cards_issued_at: now,
            created_at: now,
            updated_at: now,
            shipped_at: null,
            delivered_at: null,
            cancelled_at: null,
            cancelled_by: null,
          })
          .execute();
        const cardId = newId();
        await h.db
          .insertInto("gift_cards")
          .values({
            id: cardId,
            code_hash: giftCodeHash("ABCD-EFGH-JKMN-PQRS"),
            last4: "PQRS",
            amount: 2500,
            currency: "JPY",
            order_id: orderId,
            purchaser_account_id: buyer,
            recipient_email: "friend@example.jp",
            status: "active",
            created_at: now,
            delivered_at: now,
            redeemed_into_account: null,
            redeemed_by_session: null,
            redeemed_at: null,
            voided_at: null,
          })
          .execute();
        await h.db.transaction().execute((t) =>
          store.transferBalance(t, {
            from: ISSUANCE,
            to: cardAccount(cardId),
            amount: 2500,
            idempotencyKey: `issue:${cardId}`,
            now,
          }),
        );
        const redeemers = await Promise.all(Array.from({ length: 6 }, () => account(h, now)));
        const results = await Promise.all(
          redeemers.map((acc) =>
            h.db.transaction().execute(async (t) => {
              const card = await store.redeemGiftCard(t, {
                codeHash: giftCodeHash("abcd efgh jkmn pqrs"),
                accountId: acc,
                sessionId: null,
                now,
              });
              if (!card) return 0;
              return (
                await store.transferUpTo(t, {
                  from: cardAccount(card.id),
                  to: walletAccount(acc),
                  max: card.amount,
                  idempotencyKey: `redeem:${card.id}`,
                  now,
                })
              ).moved;
            }),
          ),
        );
        assert.deepEqual(
          results.filter((m) => m > 0),
          [2500],
        );
        const balances = await Promise.all(redeemers.map((a) => store.balance(h.db, walletAccount(a))));
        assert.equal(
          balances.reduce((a, b) => a + b),
          2500,
        );
        assert.equal(await store.balance(h.db, cardAccount(cardId)), 0);
        assert.equal(await store.ledgerSum(h.db), 0);
      }),
    );

    it(
      "gateway: same key same result, one effect; refunds bounded by the capture; prepaid insufficient_funds",
      { skip },
      () =>
        withStore(s.open, async (h) => {
          const gw = createTestGateway(h.db, clock);
          const a1 = await gw.authorize({
            amount: 5000,
            currency: "JPY",
            instrumentToken: "tok_visa",
            idempotencyKey: "a1",
          });
          const a1again = await gw.authorize({
            amount: 5000,
            currency: "JPY",
            instrumentToken: "tok_visa",
            idempotencyKey: "a1",
          });
          assert.ok(a1.ok);
          assert.deepEqual(a1again, a1);
          assert.equal((await h.db.selectFrom("gateway_charges").selectAll().execute()).length, 1);
          if (!a1.ok) return;
          // Void only what is not captured; capture only what is authorized.
          assert.deepEqual(await gw.capture({ ref: a1.ref, idempotencyKey: "c1" }), {
            ok: true,
            ref: a1.ref,
            status: "captured",
          });
          assert.deepEqual(await gw.void({ ref: a1.ref, idempotencyKey: "v1" }), {
            ok: false,
            declineCode: "not_voidable",
          });
          assert.deepEqual(await gw.capture({ ref: a1.ref, idempotencyKey: "c2" }), {
            ok: false,
            declineCode: "not_authorized",
          });
          // Refunds: at most captured − refunded, each key once, racing included.
          const r = await Promise.all(
            [1, 2, 3].map(() => gw.refund({ ref: a1.ref, amount: 3000, idempotencyKey: "r1" })),
          );
          assert.ok(r.every((x) => x.ok));
          assert.deepEqual(await gw.refund({ ref: a1.ref, amount: 2001, idempotencyKey: "r2" }), {
            ok: false,
            declineCode: "amount_exceeds_refundable",
          });
          assert.deepEqual(await gw.refund({ ref: a1.ref, amount: 2000, idempotencyKey: "r3" }), {
            ok: true,
            ref: a1.ref,
            status: "refunded",
          });
          const c = await h.db
            .selectFrom("gateway_charges")
            .selectAll()
            .where("ref", "=", a1.ref)
            .executeTakeFirstOrThrow();
          assert.equal(c.refunded_amount, 5000);
          assert.equal(c.status, "refunded");
          // Declining cards and prepaid balances.
          assert.deepEqual(
            await gw.authorize({ amount: 100, currency: "JPY", instrumentToken: "tok_declined", idempotencyKey: "d" }),
            {
              ok: false,
              declineCode: "card_declined",
            },
          );
          assert.deepEqual(
            await gw.authorize({ amount: 100, currency: "JPY", instrumentToken: "tok_expired", idempotencyKey: "e" }),
            {
              ok: false,
              declineCode: "expired_card",
            },
          );
          assert.deepEqual(
            await gw.authorize({
              amount: 3001,
              currency: "JPY",
              instrumentToken: "tok_prepaid_low",
              idempotencyKey: "p1",
            }),
            {
              ok: false,
              declineCode: "insufficient_funds",
            },
          );
          const p2 = await gw.authorize({
            amount: 2000,
            currency: "JPY",
            instrumentToken: "tok_prepaid_low",
            idempotencyKey: "p2",
          });
          assert.ok(p2.ok);
          assert.deepEqual(
            await gw.authorize({
              amount: 1500,
              currency: "JPY",
              instrumentToken: "tok_prepaid_low",
              idempotencyKey: "p3",
            }),
            {
              ok: false,
              declineCode: "insufficient_funds",
            },
          );
          if (p2.ok) assert.ok((await gw.void({ ref: p2.ref, idempotencyKey: "pv" })).ok);
          assert.ok(
            (
              await gw.authorize({
                amount: 3000,
                currency: "JPY",
                instrumentToken: "tok_prepaid_low",
                idempotencyKey: "p4",
              })
            ).ok,
          );
          assert.equal((await gw.describeToken("tok_visa"))?.last4, "4242");
          assert.equal(await gw.describeToken("4242424242424242"), undefined);
        }),
    );
  });
}
