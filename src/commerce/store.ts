import type { Executor } from "../db/database.ts";
import { newId } from "../shared/crypto.ts";
import type {
  AddressesTable,
  CommerceHoldsTable,
  GiftCardsTable,
  ListingsTable,
  OrdersTable,
  PaymentInstrumentsTable,
  PaymentsTable,
} from "./tables.ts";

export type AddressRow = AddressesTable;
export type InstrumentRow = PaymentInstrumentsTable;
export type OrderRow = OrdersTable;
export type PaymentRow = PaymentsTable;
export type GiftCardRow = GiftCardsTable;
export type ListingRow = ListingsTable;
export type HoldRow = CommerceHoldsTable;
export type HoldKind = "order" | "redemption" | "listing";

export const ISSUANCE = "issuance";
export const SALES = "sales";
export const cardAccount = (giftCardId: string) => `card:${giftCardId}`;
export const walletAccount = (accountId: string) => `wallet:${accountId}`;
export const holdAccount = (caseId: string, giftCardId: string) => `hold:${caseId}:${giftCardId}`;

export type TransferResult = { status: "done" | "duplicate"; txnId: string } | { status: "insufficient" };

const one = (r: { numUpdatedRows: bigint }) => Number(r.numUpdatedRows) === 1;
const FINAL_ORDER = ["cancelled", "refunded"];

/** SQL of the commerce module. Methods that close a race say which, and how, in one line. */
export const commerceStore = {
  async ensureLedgerAccount(ex: Executor, id: string, now: number): Promise<void> {
    await ex
      .insertInto("ledger_accounts")
      .values({ id, balance: 0, allow_negative: id === ISSUANCE ? 1 : 0, created_at: now })
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
  },

  async balance(ex: Executor, id: string): Promise<number> {
    const r = await ex.selectFrom("ledger_accounts").select("balance").where("id", "=", id).executeTakeFirst();
    return Number(r?.balance ?? 0);
  },

  /**
   * A double-entry transfer. Closes two races: the debit entry is claimed by its unique (idempotency key, leg) first,
   * so a repeated or racing call with the same key moves nothing (it waits, then sees the claim); and the debit is
   * guarded on `balance >= amount`, so concurrent debits can never take a balance below zero.
   * Call it inside the caller's transaction; "insufficient" leaves nothing behind.
   */
  async transferBalance(
    ex: Executor,
    t: { from: string; to: string; amount: number; idempotencyKey: string; memo?: string; now: number },
  ): Promise<TransferResult> {
    if (!Number.isSafeInteger(t.amount) || t.amount <= 0) throw new Error(`transfer amount ${t.amount}`);
    if (t.from === t.to) throw new Error("transfer to the same account");
    const prior = await ex
      .selectFrom("ledger_entries")
      .select("txn_id")
      .where("idempotency_key", "=", t.idempotencyKey)
      .where("leg", "=", "debit")
      .executeTakeFirst();
    if (prior) return { status: "duplicate", txnId: prior.txn_id };
    await commerceStore.ensureLedgerAccount(ex, t.from, t.now);
    await commerceStore.ensureLedgerAccount(ex, t.to, t.now);
    const txnId = newId();
    const entry = (account: string, amount: number, leg: string) => ({
      id: newId(),
      txn_id: txnId,
      account,
      amount,
      leg,
      idempotency_key: t.idempotencyKey,
      memo: t.memo ?? null,
      at: t.now,
    });
    const claim = await ex
      .insertInto("ledger_entries")
      .values(entry(t.from, -t.amount, "debit"))
      .onConflict((oc) => oc.columns(["idempotency_key", "leg"]).doNothing())
      .executeTakeFirst();
    if (Number(claim.numInsertedOrUpdatedRows ?? 0n) !== 1) {
      const won = await ex
        .selectFrom("ledger_entries")
        .select("txn_id")
        .where("idempotency_key", "=", t.idempotencyKey)
        .where("leg", "=", "debit")
        .executeTakeFirstOrThrow();
      return { status: "duplicate", txnId: won.txn_id };
    }
    const debit = await ex
      .updateTable("ledger_accounts")
      .set((eb) => ({ balance: eb("balance", "-", t.amount) }))
      .where("id", "=", t.from)
      .where((eb) => eb.or([eb("allow_negative", "=", 1), eb("balance", ">=", t.amount)]))
      .executeTakeFirst();
    if (!one(debit)) {
      // Nothing moved: release the claim so the same key can be tried again once there is money.
      await ex.deleteFrom("ledger_entries").where("txn_id", "=", txnId).execute();
      return { status: "insufficient" };
    }
    await ex
      .updateTable("ledger_accounts")
      .set((eb) => ({ balance: eb("balance", "+", t.amount) }))
      .where("id", "=", t.to)
      .execute();
    await ex
      .insertInto("ledger_entries")
      .values(entry(t.to, t.amount, "credit"))
      .execute();
    return { status: "done", txnId };
  },

  /**
   * Moves as much as there is, up to `max` (a lock of what remains). A racing debit between the read and the guarded
   * transfer makes the transfer report "insufficient"; it then re-reads, so the result is never negative.
   */
  async transferUpTo(
    ex: Executor,
    t: { from: string; to: string; max: number; idempotencyKey: string; memo?: string; now: number },
  ): Promise<{ moved: number; txnId: string | null }> {
    const prior = await ex
      .selectFrom("ledger_entries")
      .select(["txn_id", "amount"])
      .where("idempotency_key", "=", t.idempotencyKey)
      .where("leg", "=", "credit")
      .executeTakeFirst();
    if (prior) return { moved: Number(prior.amount), txnId: prior.txn_id };
    for (let i = 0; i < 5; i++) {
      const amount = Math.min(t.max, await commerceStore.balance(ex, t.from));
      if (amount <= 0) return { moved: 0, txnId: null };
      const r = await commerceStore.transferBalance(ex, { ...t, amount });
      if (r.status === "done") return { moved: amount, txnId: r.txnId };
      if (r.status === "duplicate") return commerceStore.transferUpTo(ex, t);
    }
    return { moved: 0, txnId: null };
  },

  /** Sum of every ledger entry: zero when every transfer balanced. */
  async ledgerSum(ex: Executor): Promise<number> {
    const r = await ex
      .selectFrom("ledger_entries")
      .select((eb) => eb.fn.sum<number>("amount").as("s"))
      .executeTakeFirst();
    return Number(r?.s ?? 0);
  },

  // ── gift cards ──

  /** Guarded on status = active: of two racing redemptions of one code, exactly one matches. */
  async redeemGiftCard(
    ex: Executor,
    r: { codeHash: string; accountId: string; sessionId: string | null; now: number },
  ): Promise<GiftCardRow | undefined> {
    const u = await ex
      .updateTable("gift_cards")
      .set({
        status: "redeemed",
        redeemed_into_account: r.accountId,
        redeemed_by_session: r.sessionId,
        redeemed_at: r.now,
      })
      .where("code_hash", "=", r.codeHash)
      .where("status", "=", "active")
      .executeTakeFirst();
    if (!one(u)) return undefined;
    return ex.selectFrom("gift_cards").selectAll().where("code_hash", "=", r.codeHash).executeTakeFirst();
  },

  /** Guarded on the status that was read: a card is voided once, and an active card cannot be redeemed meanwhile. */
  async voidGiftCardOnce(ex: Executor, id: string, from: "active" | "redeemed", now: number): Promise<boolean> {
    const u = await ex
      .updateTable("gift_cards")
      .set({ status: "void", voided_at: now })
      .where("id", "=", id)
      .where("status", "=", from)
      .executeTakeFirst();
    return one(u);
  },

  // ── orders ──

  /** Guarded on a non-final status: an order is cancelled once, and never after a racing cancel or refund. */
  async cancelOrderOnce(
    ex: Executor,
    id: string,
    c: { status: "cancelled" | "refunded"; by: string; now: number },
  ): Promise<boolean> {
    const u = await ex
      .updateTable("orders")
      .set({ status: c.status, payment_required: 0, cancelled_at: c.now, cancelled_by: c.by, updated_at: c.now })
      .where("id", "=", id)
      .where("status", "not in", FINAL_ORDER)
      .executeTakeFirst();
    return one(u);
  },

  /** Guarded on the status that was read: two racing transitions (ship vs cancel) cannot both apply. */
  async moveOrder(
    ex: Executor,
    id: string,
    from: string[],
    set: Partial<Pick<OrderRow, "status" | "shipped_at" | "delivered_at" | "payment_required">> & {
      updated_at: number;
    },
  ): Promise<boolean> {
    const u = await ex
      .updateTable("orders")
      .set(set)
      .where("id", "=", id)
      .where("status", "in", from)
      .executeTakeFirst();
    return one(u);
  },

  /** Guarded on gift_cards_issued_at is null: a capture retried or raced issues the order's cards once. */
  async markGiftCardsIssuedOnce(ex: Executor, orderId: string, now: number): Promise<boolean> {
    const u = await ex
      .updateTable("orders")
      .set({ gift_cards_issued_at: now })
      .where("id", "=", orderId)
      .where("gift_cards_issued_at", "is", null)
      .where("status", "not in", FINAL_ORDER)
      .executeTakeFirst();
    return one(u);
  },

  /** Guarded on the payment status that was read: a payment moves authorized→captured→refunded once each. */
  async movePayment(
    ex: Executor,
    id: string,
    from: string,
    set: Partial<Pick<PaymentRow, "status" | "captured_amount" | "refunded_amount">> & { updated_at: number },
  ): Promise<boolean> {
    const u = await ex
      .updateTable("payments")
      .set(set)
      .where("id", "=", id)
      .where("status", "=", from)
      .executeTakeFirst();
    return one(u);
  },

  getOrder(ex: Executor, id: string): Promise<OrderRow | undefined> {
    return ex.selectFrom("orders").selectAll().where("id", "=", id).executeTakeFirst();
  },

  orderItems(ex: Executor, orderId: string) {
    return ex.selectFrom("order_items").selectAll().where("order_id", "=", orderId).orderBy("id").execute();
  },

  payments(ex: Executor, orderId: string): Promise<PaymentRow[]> {
    return ex.selectFrom("payments").selectAll().where("order_id", "=", orderId).orderBy("created_at").execute();
  },

  // ── listings ──

  /**
   * Guarded on quantity >= n and status active: concurrent buyers cannot oversell a listing. Leaves updated_at alone:
   * that marks the seller's own edits, which the lockdown looks at.
   */
  async takeFromListing(ex: Executor, id: string, n: number): Promise<boolean> {
    const u = await ex
      .updateTable("listings")
      .set((eb) => ({
        quantity: eb("quantity", "-", n),
        status: eb.case().when("quantity", "=", n).then("sold_out").else("active").end(),
      }))
      .where("id", "=", id)
      .where("status", "=", "active")
      .where("quantity", ">=", n)
      .executeTakeFirst();
    return one(u);
  },

  // ── the review queue ──

  /** Guarded on the unique open key: the same object held again for the same account while pending files one hold. */
  async openHoldOnce(
    ex: Executor,
    h: {
      kind: HoldKind;
      objectId: string;
      accountId: string;
      sessionId: string | null;
      decisionId: string | null;
      amount: number | null;
      currency: string | null;
      now: number;
    },
  ): Promise<string | null> {
    const id = newId();
    const r = await ex
      .insertInto("commerce_holds")
      .values({
        id,
        kind: h.kind,
        object_id: h.objectId,
        account_id: h.accountId,
        session_id: h.sessionId,
        decision_id: h.decisionId,
        amount: h.amount,
        currency: h.currency,
        status: "pending",
        open_key: `${h.kind}:${h.objectId}:${h.accountId}`,
        created_at: h.now,
        decided_at: null,
        decided_by: null,
        reason: null,
      })
      .onConflict((oc) => oc.column("open_key").doNothing())
      .executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0n) === 1 ? id : null;
  },

  getHold(ex: Executor, id: string): Promise<HoldRow | undefined> {
    return ex.selectFrom("commerce_holds").selectAll().where("id", "=", id).executeTakeFirst();
  },

  /** Guarded on status = pending: of two agents deciding one hold at once (approve and deny), exactly one matches. */
  async decideHoldOnce(
    ex: Executor,
    id: string,
    d: { status: "approved" | "denied" | "lapsed"; by: string; reason: string | null; now: number },
  ): Promise<boolean> {
    const u = await ex
      .updateTable("commerce_holds")
      .set({ status: d.status, open_key: null, decided_at: d.now, decided_by: d.by, reason: d.reason })
      .where("id", "=", id)
      .where("status", "=", "pending")
      .executeTakeFirst();
    return one(u);
  },

  /** Guarded on on_hold: a lockdown that cancelled the order meanwhile, or a racing refusal, makes it match nothing. */
  async releaseHeldOrder(ex: Executor, id: string, now: number): Promise<boolean> {
    const u = await ex
      .updateTable("orders")
      .set({ status: "placed", updated_at: now })
      .where("id", "=", id)
      .where("status", "=", "on_hold")
      .executeTakeFirst();
    return one(u);
  },

  /** Guarded on on_hold: a racing release (then capture) or a lockdown's cancel makes it match nothing. */
  async refuseHeldOrder(ex: Executor, id: string, c: { by: string; now: number }): Promise<boolean> {
    const u = await ex
      .updateTable("orders")
      .set({ status: "cancelled", payment_required: 0, cancelled_at: c.now, cancelled_by: c.by, updated_at: c.now })
      .where("id", "=", id)
      .where("status", "=", "on_hold")
      .executeTakeFirst();
    return one(u);
  },

  /**
   * Guarded on held: a lockdown's take-down in between is not undone by a late approval. Leaves updated_at alone (it
   * marks the seller's own edits, which the lockdown looks at), as the refusal does.
   */
  async releaseHeldListing(ex: Executor, id: string): Promise<boolean> {
    const u = await ex
      .updateTable("listings")
      .set((eb) => ({ status: eb.case().when("quantity", ">", 0).then("active").else("sold_out").end() }))
      .where("id", "=", id)
      .where("status", "=", "held")
      .executeTakeFirst();
    return one(u);
  },

  /** Guarded on held: refused once; taken down, it stays down (the seller cannot put it back). */
  async refuseHeldListing(ex: Executor, id: string): Promise<boolean> {
    const u = await ex
      .updateTable("listings")
      .set({ status: "taken_down" })
      .where("id", "=", id)
      .where("status", "=", "held")
      .executeTakeFirst();
    return one(u);
  },

  // ── addresses and instruments ──

  /** Guarded on removed_at is null: removed once; the row stays for history and rollback. */
  async removeAddressOnce(ex: Executor, id: string, by: string, now: number): Promise<boolean> {
    const u = await ex
      .updateTable("addresses")
      .set({ removed_at: now, removed_by: by })
      .where("id", "=", id)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    return one(u);
  },

  /** Guarded on removed_at is null: removed once; the row stays for history and rollback. */
  async removeInstrumentOnce(ex: Executor, id: string, by: string, reason: string, now: number): Promise<boolean> {
    const u = await ex
      .updateTable("payment_instruments")
      .set({ removed_at: now, removed_by: by, removed_reason: reason })
      .where("id", "=", id)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    return one(u);
  },

  async keepCards(ex: Executor, accountId: string): Promise<boolean> {
    const r = await ex
      .selectFrom("commerce_settings")
      .select("keep_cards")
      .where("account_id", "=", accountId)
      .executeTakeFirst();
    return (r?.keep_cards ?? 1) === 1;
  },
};
