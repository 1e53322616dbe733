import type { Db, Executor } from "../db/database.ts";
import type { EventInput, EventLog } from "../events/store.ts";
import type { Notifier } from "../notify/notifier.ts";
import { type CaseAction, caseActionDone, recordCaseAction, recordCaseActions } from "../response/actions.ts";
import type { CommercePlan } from "../response/service.ts";
import { type Clock, pollOnce } from "../shared/clock.ts";
import type { WebhookEmitter, WebhookEvent } from "../webhooks/types.ts";
import type { PaymentGateway } from "./gateway.ts";
import { addressSnapshot, giftCodeHash, instrumentSnapshot, listingSnapshot } from "./service.ts";
import { applySettlement, type Settlement, settleAtGateway, settlementPlan } from "./settle.ts";
import {
  cardAccount,
  type GiftCardRow,
  holdAccount,
  ISSUANCE,
  type OrderRow,
  commerceStore as store,
  walletAccount,
} from "./store.ts";
import { formatAmount, refundOutcome } from "./templates.ts";

export interface CommerceResponderDeps {
  db: Db;
  clock: Clock;
  events: EventLog;
  notifier: Notifier;
  webhooks: WebhookEmitter;
  gateway: PaymentGateway;
}

interface StepRef {
  caseId: string;
  step: string;
}

const FINAL = ["cancelled", "refunded"];
/** Orders cancelled per transaction by a lockdown (see cancelOrders). */
const CANCEL_CHUNK = 10;
const ROLLBACK_TYPES = [
  "address.added",
  "address.removed",
  "payment_instrument.added",
  "payment_instrument.removed",
  "commerce_settings.changed",
  "listing.created",
  "listing.updated",
];

const orderSnapshot = (o: OrderRow) => ({ id: o.id, status: o.status, total: o.total, currency: o.currency });
const cardSnapshot = (c: GiftCardRow) => ({
  id: c.id,
  status: c.status,
  amount: c.amount,
  last4: c.last4,
  redeemedInto: c.redeemed_into_account,
});

/**
 * The lockdown's commerce primitives. Each is idempotent and crash-safe: gateway calls carry the deterministic key
 * `case:<caseId>:<action>:<objectId>`, and each object's change, its event, its webhook, any notice and its case
 * action commit in one transaction guarded by `caseActionDone`. A re-run after a kill at any point redoes nothing
 * that committed and gets the gateway's stored answer for anything it had already asked.
 */
export function createCommerceResponder(deps: CommerceResponderDeps) {
  const { db, clock, events, notifier, webhooks, gateway } = deps;
  const tx = <T>(fn: (t: Db) => Promise<T>) => db.transaction().execute(fn);
  const actorOf = (caseId: string) => `case:${caseId}`;
  const done = (ex: Executor, caseId: string, objectType: string, objectId: string, action: string) =>
    caseActionDone(ex, { caseId, objectType, objectId, action });

  /**
   * Cancels orders for a case, CANCEL_CHUNK at a time: every payment of a chunk's orders is voided or refunded at the
   * gateway first (keyed calls: a re-run gets the stored answer), then one transaction records, for each order, its
   * payments, its cancellation (never chargeable again) and optionally the buyer's notice, and writes the chunk's
   * events, webhook messages and case actions with one insert each. A chunk commits whole or not at all, and each
   * order in it is guarded by its case action, so a re-run after a kill redoes nothing. One transaction and a few
   * statements per chunk instead of per order is most of what the lockdown benchmark gained on the embedded store.
   */
  async function cancelOrders(
    ref: StepRef,
    orderIds: string[],
    opts: { notifyBuyer: { title: string } | null },
  ): Promise<void> {
    const prefix = `case:${ref.caseId}`;
    for (let i = 0; i < orderIds.length; i += CANCEL_CHUNK) {
      const ids = orderIds.slice(i, i + CANCEL_CHUNK);
      const open = async (ex: Executor) => {
        const [done, rows] = await Promise.all([
          cancelledBy(ex, ref.caseId, ids),
          ex.selectFrom("orders").selectAll().where("id", "in", ids).execute(),
        ]);
        const byId = new Map(rows.map((o) => [o.id, o]));
        return ids
          .map((id) => byId.get(id))
          .filter((o): o is OrderRow => o !== undefined && !done.has(o.id) && !FINAL.includes(o.status));
      };
      const toCancel: { o: OrderRow; settled: Settlement[] }[] = [];
      for (const o of await open(db)) toCancel.push({ o, settled: await settleAtGateway(gateway, db, o.id, prefix) });
      if (toCancel.length > 0) {
        await tx(async (t) => {
          // Read again in the transaction: another runner may have cancelled some since.
          const still = new Map((await open(t)).map((o) => [o.id, o]));
          const out: ChunkWrites = { events: [], hooks: [], actions: [] };
          for (const { o, settled } of toCancel) {
            const cur = still.get(o.id);
            if (cur) await cancelSettled(t, ref, cur, settled, opts, out);
          }
          await writeChunk(t, out);
        });
      }
      await pollOnce();
    }
  }

  /** Orders among `ids` this case has already cancelled. */
  async function cancelledBy(ex: Executor, caseId: string, ids: string[]): Promise<Set<string>> {
    const rows = await ex
      .selectFrom("case_actions")
      .select("object_id")
      .where("case_id", "=", caseId)
      .where("object_type", "=", "order")
      .where("action", "=", "cancel")
      .where("object_id", "in", ids)
      .execute();
    return new Set(rows.map((r) => r.object_id));
  }

  /** A chunk's events, webhook messages and case actions (each action names its message by index in `hooks`). */
  interface ChunkWrites {
    events: EventInput[];
    hooks: WebhookEvent[];
    actions: (Omit<CaseAction, "webhookId"> & { hook: number })[];
  }

  async function writeChunk(t: Executor, out: ChunkWrites): Promise<void> {
    await events.appendMany(t, out.events);
    const sent = await webhooks.emitMany(t, out.hooks);
    await recordCaseActions(
      t,
      out.actions.map(({ hook, ...a }) => ({ ...a, webhookId: sent[hook]?.id ?? null })),
    );
  }

  /** One order's part of a chunk's transaction (see cancelOrders); `o` is the order as read in the transaction. */
  async function cancelSettled(
    t: Executor,
    { caseId, step }: StepRef,
    o: OrderRow,
    settled: Settlement[],
    opts: { notifyBuyer: { title: string } | null },
    out: ChunkWrites,
  ): Promise<void> {
    const prefix = `case:${caseId}`;
    const now = clock.now();
    const actor = actorOf(caseId);
    let refunded = 0;
    const notes: string[] = [];
    for (const x of settled) {
      if (x.action === "none") continue;
      const r = await applySettlement(t, x, { buyerAccountId: o.account_id, prefix, now });
      if (!x.ok) notes.push(`payment ${x.payment.id}: gateway refused ${x.action} (${x.declineCode})`);
      if (!r.applied) continue;
      if (x.action === "refund") refunded += x.amount;
      const type = x.action === "void" ? "payment.voided" : "payment.refunded";
      out.events.push({
        accountId: o.account_id,
        type,
        data: { paymentId: x.payment.id, orderId: o.id, amount: x.amount, caseId },
        actor,
      });
      out.actions.push({
        caseId,
        step,
        objectType: "payment",
        objectId: x.payment.id,
        action: x.action,
        before: r.before,
        after: r.after,
        at: now,
        hook:
          out.hooks.push({
            type,
            objectType: "payment",
            objectId: x.payment.id,
            accountId: o.account_id,
            caseId,
            data: { orderId: o.id, amount: x.amount, currency: o.currency, gateway: x.payment.gateway },
          }) - 1,
      });
    }
    const status = refunded > 0 ? "refunded" : "cancelled";
    if (!(await store.cancelOrderOnce(t, o.id, { status, by: actor, now }))) return;
    const shipped = o.status === "shipped" || o.status === "delivered";
    if (shipped) notes.push("shipped: recall");
    out.events.push({
      accountId: o.account_id,
      type: "order.cancelled",
      data: { orderId: o.id, before: { status: o.status }, after: { status }, refunded, caseId },
      actor,
    });
    if (opts.notifyBuyer) await tellBuyer(t, o, opts.notifyBuyer.title, refunded > 0);
    out.actions.push({
      caseId,
      step,
      objectType: "order",
      objectId: o.id,
      action: "cancel",
      before: orderSnapshot(o),
      after: { ...orderSnapshot(o), status },
      note: notes.length ? notes.join("; ") : null,
      at: now,
      hook:
        out.hooks.push({
          type: "order.cancelled",
          objectType: "order",
          objectId: o.id,
          accountId: o.account_id,
          caseId,
          data: { status, refunded, currency: o.currency, recall: shipped, listingId: o.listing_id },
        }) - 1,
    });
  }

  /** The buyer of a fraudulent listing hears it in their own language, at their verified addresses. */
  async function tellBuyer(t: Executor, o: OrderRow, title: string, refunded: boolean) {
    const buyer = await t.selectFrom("accounts").select("language").where("id", "=", o.account_id).executeTakeFirst();
    const language = buyer?.language === "ja" ? "ja" : "en";
    const emails = await t
      .selectFrom("contact_points")
      .select(["value", "verified"])
      .where("account_id", "=", o.account_id)
      .where("kind", "=", "email")
      .where("removed_at", "is", null)
      .execute();
    let to = emails.filter((e) => e.verified === 1);
    if (to.length === 0) to = emails;
    for (const e of to) {
      await notifier.direct(t, {
        accountId: o.account_id,
        channel: "email",
        recipient: e.value,
        language,
        template: "fraudulent_listing_refund",
        vars: {
          title,
          orderId: o.id,
          amount: formatAmount(o.total, o.currency),
          outcome: refundOutcome(language, refunded),
        },
      });
    }
  }

  /**
   * Moves what remains of a card's value out of the redeemer's wallet into the case's hold (never below zero; the
   * shortfall is noted), once per case and card.
   */
  async function lockRedeemed(t: Executor, ref: StepRef, card: GiftCardRow, now: number): Promise<number> {
    const { caseId, step } = ref;
    const hold = holdAccount(caseId, card.id);
    if (await done(t, caseId, "gift_card", card.id, "lock")) return store.balance(t, hold);
    const redeemer = card.redeemed_into_account;
    if (!redeemer) return 0;
    const wallet = walletAccount(redeemer);
    const walletBefore = await store.balance(t, wallet);
    const r = await store.transferUpTo(t, {
      from: wallet,
      to: hold,
      max: card.amount,
      idempotencyKey: `case:${caseId}:lock:${card.id}`,
      memo: `locked by case ${caseId}`,
      now,
    });
    const shortfall = card.amount - r.moved;
    await events.append(t, {
      accountId: redeemer,
      type: "wallet.locked",
      data: { giftCardId: card.id, amount: r.moved, shortfall, hold, caseId },
      actor: actorOf(caseId),
    });
    const wh = await webhooks.emit(t, {
      type: "gift_card.locked",
      objectType: "gift_card",
      objectId: card.id,
      accountId: redeemer,
      caseId,
      data: { amount: r.moved, shortfall, currency: card.currency, wallet: redeemer },
    });
    await recordCaseAction(t, {
      caseId,
      step,
      objectType: "gift_card",
      objectId: card.id,
      action: "lock",
      before: { wallet: redeemer, walletBalance: walletBefore, held: 0 },
      after: { wallet: redeemer, walletBalance: walletBefore - r.moved, held: r.moved },
      webhookId: wh.id,
      note: shortfall > 0 ? `shortfall ${shortfall}: already spent from the wallet` : null,
      at: now,
    });
    return r.moved;
  }

  /** Pays a case's hold for a card into an account's wallet, once per case and card. */
  async function recredit(t: Executor, ref: StepRef, card: GiftCardRow, to: string, now: number) {
    const { caseId, step } = ref;
    if (await done(t, caseId, "gift_card", card.id, "recredit")) return;
    const hold = holdAccount(caseId, card.id);
    const amount = await store.balance(t, hold);
    const before = await store.balance(t, walletAccount(to));
    if (amount > 0) {
      await store.transferBalance(t, {
        from: hold,
        to: walletAccount(to),
        amount,
        idempotencyKey: `case:${caseId}:recredit:${card.id}`,
        memo: `re-credited by case ${caseId}`,
        now,
      });
    }
    await events.append(t, {
      accountId: to,
      type: "wallet.recredited",
      data: { giftCardId: card.id, amount, shortfall: card.amount - amount, caseId },
      actor: actorOf(caseId),
    });
    const wh = await webhooks.emit(t, {
      type: "wallet.recredited",
      objectType: "gift_card",
      objectId: card.id,
      accountId: to,
      caseId,
      data: { amount, currency: card.currency },
    });
    await recordCaseAction(t, {
      caseId,
      step,
      objectType: "gift_card",
      objectId: card.id,
      action: "recredit",
      before: { wallet: to, walletBalance: before },
      after: { wallet: to, walletBalance: before + amount },
      webhookId: wh.id,
      note: amount < card.amount ? `re-credited ${amount} of ${card.amount}; the rest was spent` : null,
      at: now,
    });
  }

  /** Cards sent to any address this account ever had and redeemed into another account since the window opened. */
  async function stolenCards(ex: Executor, accountId: string, since: number): Promise<GiftCardRow[]> {
    const emails = (
      await ex
        .selectFrom("contact_points")
        .select("value")
        .where("account_id", "=", accountId)
        .where("kind", "=", "email")
        .execute()
    ).map((c) => c.value);
    if (emails.length === 0) return [];
    return ex
      .selectFrom("gift_cards")
      .selectAll()
      .where("recipient_email", "in", emails)
      .where("status", "=", "redeemed")
      .where("redeemed_into_account", "!=", accountId)
      .where("redeemed_at", ">=", since)
      .orderBy("redeemed_at")
      .execute();
  }

  /** Cards the attacker's sessions redeemed into this account. */
  async function redeemedHereBy(ex: Executor, accountId: string, sessionIds: string[]): Promise<GiftCardRow[]> {
    if (sessionIds.length === 0) return [];
    return ex
      .selectFrom("gift_cards")
      .selectAll()
      .where("redeemed_into_account", "=", accountId)
      .where("redeemed_by_session", "in", sessionIds)
      .where("status", "=", "redeemed")
      .orderBy("redeemed_at")
      .execute();
  }

  /** Gift cards bought by these orders. */
  async function cardsOfOrders(ex: Executor, orderIds: string[]): Promise<GiftCardRow[]> {
    if (orderIds.length === 0) return [];
    return ex.selectFrom("gift_cards").selectAll().where("order_id", "in", orderIds).orderBy("created_at").execute();
  }

  /** Each address, card, setting and listing changed since `since`, with its state before the earliest change. */
  async function rollbackTargets(ex: Executor, accountId: string, since: number) {
    const evs = await ex
      .selectFrom("events")
      .select(["type", "data", "at", "seq"])
      .where("account_id", "=", accountId)
      .where("at", ">=", since)
      .where("type", "in", ROLLBACK_TYPES)
      .orderBy("seq")
      .execute();
    const earliest = new Map<string, { objectType: string; before: Record<string, unknown> | null }>();
    for (const e of evs) {
      const data = JSON.parse(e.data) as { objectId?: string; before?: Record<string, unknown> | null };
      if (!data.objectId) continue;
      const objectType = e.type.slice(0, e.type.lastIndexOf("."));
      const key = `${objectType}|${data.objectId}`;
      if (!earliest.has(key)) earliest.set(key, { objectType, before: data.before ?? null });
    }
    return earliest;
  }

  /** Listings this seller created or edited since `since`. */
  const listingsSince = (ex: Executor, accountId: string, since: number) =>
    ex
      .selectFrom("listings")
      .selectAll()
      .where("seller_account_id", "=", accountId)
      .where((eb) => eb.or([eb("created_at", ">=", since), eb("updated_at", ">=", since)]))
      .orderBy("created_at")
      .execute();

  /** Orders on a listing that are not cancelled or refunded yet. */
  const openOrdersOfListing = (ex: Executor, listingId: string) =>
    ex
      .selectFrom("orders")
      .selectAll()
      .where("listing_id", "=", listingId)
      .where("status", "not in", FINAL)
      .orderBy("created_at")
      .execute();

  async function ordersOfSessions(ex: Executor, accountId: string, sessionIds: string[]): Promise<OrderRow[]> {
    if (sessionIds.length === 0) return [];
    return ex
      .selectFrom("orders")
      .selectAll()
      .where("account_id", "=", accountId)
      .where("session_id", "in", sessionIds)
      .orderBy("created_at")
      .execute();
  }

  return {
    /**
     * The lockdown preview: what cancelOrdersOfSessions, recoverGiftCards, rollbackCommerce and takeDownListings would
     * act on now, through the same selections, without acting.
     */
    async plan(r: { accountId: string; since: number; sessionIds: string[] }): Promise<CommercePlan> {
      const iso = (ms: number) => new Date(ms).toISOString();
      const byAttacker = (await ordersOfSessions(db, r.accountId, r.sessionIds)).filter(
        (o) => !FINAL.includes(o.status),
      );
      const listings = (await listingsSince(db, r.accountId, r.since)).filter((l) => l.status !== "taken_down");
      const onListings = (await Promise.all(listings.map((l) => openOrdersOfListing(db, l.id)))).flat();
      const orderRows: [OrderRow, "attacker_session" | "listing"][] = [
        ...byAttacker.map((o) => [o, "attacker_session"] as [OrderRow, "attacker_session"]),
        ...onListings
          .filter((o) => !byAttacker.some((b) => b.id === o.id))
          .map((o) => [o, "listing"] as [OrderRow, "listing"]),
      ];
      const orders = [];
      for (const [o, why] of orderRows) {
        const payments = await store.payments(db, o.id);
        orders.push({
          id: o.id,
          status: o.status,
          total: o.total,
          currency: o.currency,
          createdAt: iso(o.created_at),
          payments: payments.map((p) => ({ status: p.status, ...settlementPlan(p) })),
          why,
        });
      }
      const card = (c: GiftCardRow, action: "void" | "lock" | "recredit", to: "this_account" | "recipient" | null) => ({
        id: c.id,
        last4: c.last4,
        amount: c.amount,
        currency: c.currency,
        action,
        to,
      });
      const giftCards = [
        ...(
          await cardsOfOrders(
            db,
            byAttacker.map((o) => o.id),
          )
        )
          .filter((c) => c.status !== "void")
          .map((c) => card(c, c.status === "redeemed" ? "lock" : "void", null)),
        ...(await stolenCards(db, r.accountId, r.since)).map((c) => card(c, "recredit", "this_account")),
        ...(await redeemedHereBy(db, r.accountId, r.sessionIds)).map((c) =>
          card(c, c.recipient_email ? "recredit" : "lock", c.recipient_email ? "recipient" : null),
        ),
      ];
      const rollbacks = [...(await rollbackTargets(db, r.accountId, r.since))].map(([key, v]) => ({
        objectType: v.objectType,
        objectId: key.slice(key.indexOf("|") + 1),
        before: v.before,
      }));
      return {
        orders,
        giftCards,
        rollbacks,
        listings: listings.map((l) => ({
          id: l.id,
          title: l.title,
          price: l.price,
          currency: l.currency,
          status: l.status,
        })),
      };
    },

    async listOrderIdsOfSessions(q: { accountId: string; sessionIds: string[] }): Promise<string[]> {
      return (await ordersOfSessions(db, q.accountId, q.sessionIds)).map((o) => o.id);
    },

    /** Support lookup: the account behind an order id or a gift card code (hash lookup). */
    /** The accounts whose email is a gift card's recipient address (support lookup by gift card code). */
    async giftCardRecipientAccounts(giftCardId: string): Promise<string[]> {
      const rows = await db
        .selectFrom("gift_cards")
        .innerJoin("contact_points", "contact_points.value", "gift_cards.recipient_email")
        .select("contact_points.account_id")
        .where("gift_cards.id", "=", giftCardId)
        .where("contact_points.kind", "=", "email")
        .execute();
      return rows.map((r) => r.account_id);
    },

    async findByOrderOrGiftCard(
      q: string,
    ): Promise<
      | { kind: "order"; objectId: string; accountId: string; sellerAccountId: string | null }
      | { kind: "gift_card"; objectId: string; accountId: string; redeemedIntoAccount: string | null }
      | undefined
    > {
      const query = q.trim();
      if (!query || query.length > 200) return undefined;
      const o = await store.getOrder(db, query);
      if (o) return { kind: "order", objectId: o.id, accountId: o.account_id, sellerAccountId: o.seller_account_id };
      const c = await db
        .selectFrom("gift_cards")
        .selectAll()
        .where("code_hash", "=", giftCodeHash(query))
        .executeTakeFirst();
      if (c) {
        return {
          kind: "gift_card",
          objectId: c.id,
          accountId: c.purchaser_account_id,
          redeemedIntoAccount: c.redeemed_into_account,
        };
      }
      return undefined;
    },

    /**
     * Orders placed by the attacker's sessions: cancelled, their payments voided or refunded in full (shipped ones
     * too, noted for recall), never chargeable later; gift cards they bought voided, with redeemed value locked.
     */
    async cancelOrdersOfSessions(r: StepRef & { accountId: string; sessionIds: string[] }): Promise<void> {
      const orders = await ordersOfSessions(db, r.accountId, r.sessionIds);
      await cancelOrders(
        r,
        orders.map((o) => o.id),
        { notifyBuyer: null },
      );
      if (orders.length === 0) return;
      const cards = await cardsOfOrders(
        db,
        orders.map((o) => o.id),
      );
      for (const c of cards) {
        await tx(async (t) => {
          if (await done(t, r.caseId, "gift_card", c.id, "void")) return;
          const card = await t.selectFrom("gift_cards").selectAll().where("id", "=", c.id).executeTakeFirstOrThrow();
          if (card.status === "void") return;
          const now = clock.now();
          let note: string | null = null;
          if (card.status === "redeemed") {
            const held = await lockRedeemed(t, r, card, now);
            if (held < card.amount) note = `locked ${held} of ${card.amount}`;
          } else {
            // Unredeemed: its value goes back where it came from.
            await store.transferUpTo(t, {
              from: cardAccount(card.id),
              to: ISSUANCE,
              max: card.amount,
              idempotencyKey: `case:${r.caseId}:void:${card.id}`,
              memo: `voided by case ${r.caseId}`,
              now,
            });
          }
          if (!(await store.voidGiftCardOnce(t, card.id, card.status as "active" | "redeemed", now))) {
            throw new Error(`gift card ${card.id} changed while being voided; run the step again`);
          }
          await events.append(t, {
            accountId: card.purchaser_account_id,
            type: "gift_card.voided",
            data: { giftCardId: card.id, orderId: card.order_id, before: { status: card.status }, caseId: r.caseId },
            actor: actorOf(r.caseId),
          });
          const wh = await webhooks.emit(t, {
            type: "gift_card.voided",
            objectType: "gift_card",
            objectId: card.id,
            accountId: card.purchaser_account_id,
            caseId: r.caseId,
            data: { orderId: card.order_id, last4: card.last4, wasRedeemed: card.status === "redeemed" },
          });
          await recordCaseAction(t, {
            caseId: r.caseId,
            step: r.step,
            objectType: "gift_card",
            objectId: card.id,
            action: "void",
            before: cardSnapshot(card),
            after: { ...cardSnapshot(card), status: "void" },
            webhookId: wh.id,
            note,
            at: now,
          });
        });
      }
    },

    /**
     * (a) Cards sent to any address this account ever had and redeemed into another account in the window: lock what
     * remains there and re-credit this account (seed 004). (b) Cards the attacker's sessions redeemed into this
     * account: lock that value here, and re-credit the recipient's account when the card was meant for someone else.
     */
    async recoverGiftCards(r: StepRef & { accountId: string; since: number; sessionIds: string[] }): Promise<void> {
      const stolen = await stolenCards(db, r.accountId, r.since);
      for (const c of stolen) {
        await pollOnce();
        await tx(async (t) => {
          const now = clock.now();
          await lockRedeemed(t, r, c, now);
          await recredit(t, r, c, r.accountId, now);
        });
      }
      if (r.sessionIds.length === 0) return;
      const intoHere = await redeemedHereBy(db, r.accountId, r.sessionIds);
      for (const c of intoHere) {
        await pollOnce();
        await tx(async (t) => {
          const now = clock.now();
          await lockRedeemed(t, r, c, now);
          if (!c.recipient_email) return;
          const owner = await t
            .selectFrom("contact_points")
            .select("account_id")
            .where("kind", "=", "email")
            .where("value", "=", c.recipient_email)
            .where("removed_at", "is", null)
            .executeTakeFirst();
          if (owner && owner.account_id !== r.accountId) await recredit(t, r, c, owner.account_id, now);
        });
      }
    },

    /**
     * Puts every address, payment instrument, setting and listing changed in [since, now] back to its state before
     * the earliest change in the window. The roll-back is new events; nothing is deleted.
     */
    async rollbackCommerce(r: StepRef & { accountId: string; since: number; actor: string }): Promise<void> {
      const earliest = await rollbackTargets(db, r.accountId, r.since);
      for (const [key, { objectType, before }] of earliest) {
        const objectId = key.slice(key.indexOf("|") + 1);
        await pollOnce();
        await tx(async (t) => {
          if (await done(t, r.caseId, objectType, objectId, "rollback")) return;
          const now = clock.now();
          const restored = await restore(t, objectType, objectId, before, r, now);
          if (!restored) return;
          await events.append(t, {
            accountId: r.accountId,
            type: `${objectType}.rolled_back`,
            data: { objectId, before: restored.before, after: restored.after, caseId: r.caseId },
            actor: r.actor,
          });
          const wh = await webhooks.emit(t, {
            type: `${objectType}.rolled_back`,
            objectType,
            objectId,
            accountId: r.accountId,
            caseId: r.caseId,
            data: { after: restored.after },
          });
          await recordCaseAction(t, {
            caseId: r.caseId,
            step: r.step,
            objectType,
            objectId,
            action: "rollback",
            before: restored.before,
            after: restored.after,
            webhookId: wh.id,
            at: now,
          });
        });
      }
    },

    /**
     * Listings this seller created or edited in the window are taken down; every order on them is cancelled with its
     * money voided or refunded, and each buyer is told in their language.
     */
    async takeDownListings(r: StepRef & { accountId: string; since: number }): Promise<void> {
      const listings = await listingsSince(db, r.accountId, r.since);
      for (const l of listings) {
        await tx(async (t) => {
          if (await done(t, r.caseId, "listing", l.id, "take_down")) return;
          const cur = await t.selectFrom("listings").selectAll().where("id", "=", l.id).executeTakeFirstOrThrow();
          if (cur.status === "taken_down") return;
          const now = clock.now();
          // Guarded on the status read: a racing seller edit cannot put it back up.
          const u = await t
            .updateTable("listings")
            .set({ status: "taken_down", updated_at: now })
            .where("id", "=", l.id)
            .where("status", "=", cur.status)
            .executeTakeFirst();
          if (Number(u.numUpdatedRows) !== 1) throw new Error(`listing ${l.id} changed while being taken down`);
          const after = { ...listingSnapshot(cur), status: "taken_down" };
          await events.append(t, {
            accountId: r.accountId,
            type: "listing.taken_down",
            data: { objectId: l.id, before: listingSnapshot(cur), after, caseId: r.caseId },
            actor: actorOf(r.caseId),
          });
          const wh = await webhooks.emit(t, {
            type: "listing.taken_down",
            objectType: "listing",
            objectId: l.id,
            accountId: r.accountId,
            caseId: r.caseId,
            data: { title: cur.title, price: cur.price },
          });
          await recordCaseAction(t, {
            caseId: r.caseId,
            step: r.step,
            objectType: "listing",
            objectId: l.id,
            action: "take_down",
            before: listingSnapshot(cur),
            after,
            webhookId: wh.id,
            at: now,
          });
        });
        const orders = await openOrdersOfListing(db, l.id);
        await cancelOrders(
          r,
          orders.map((o) => o.id),
          { notifyBuyer: { title: l.title } },
        );
      }
    },
  };

  async function restore(
    t: Executor,
    objectType: string,
    objectId: string,
    before: Record<string, unknown> | null,
    r: { accountId: string; actor: string },
    now: number,
  ): Promise<{ before: Record<string, unknown>; after: Record<string, unknown> } | null> {
    const wantRemoved = before === null || before.removed === true;
    if (objectType === "address") {
      const a = await t.selectFrom("addresses").selectAll().where("id", "=", objectId).executeTakeFirst();
      if (!a || a.account_id !== r.accountId) return null;
      if ((a.removed_at !== null) === wantRemoved) return null;
      const next = { ...a, removed_at: wantRemoved ? now : null, removed_by: wantRemoved ? r.actor : null };
      await t
        .updateTable("addresses")
        .set({ removed_at: next.removed_at, removed_by: next.removed_by })
        .where("id", "=", objectId)
        .execute();
      return { before: addressSnapshot(a), after: addressSnapshot(next) };
    }
    if (objectType === "payment_instrument") {
      const p = await t.selectFrom("payment_instruments").selectAll().where("id", "=", objectId).executeTakeFirst();
      if (!p || p.account_id !== r.accountId) return null;
      if ((p.removed_at !== null) === wantRemoved) return null;
      const next = {
        ...p,
        removed_at: wantRemoved ? now : null,
        removed_by: wantRemoved ? r.actor : null,
        removed_reason: wantRemoved ? "rollback" : null,
      };
      await t
        .updateTable("payment_instruments")
        .set({ removed_at: next.removed_at, removed_by: next.removed_by, removed_reason: next.removed_reason })
        .where("id", "=", objectId)
        .execute();
      return { before: instrumentSnapshot(p), after: instrumentSnapshot(next) };
    }
    if (objectType === "commerce_settings") {
      const cur = await t
        .selectFrom("commerce_settings")
        .selectAll()
        .where("account_id", "=", r.accountId)
        .executeTakeFirst();
      const keepNow = (cur?.keep_cards ?? 1) === 1;
      const keep = before === null ? true : before.keepCards !== false;
      if (keepNow === keep) return null;
      await t
        .updateTable("commerce_settings")
        .set({ keep_cards: keep ? 1 : 0, updated_at: now, updated_by: r.actor })
        .where("account_id", "=", r.accountId)
        .execute();
      return { before: { keepCards: keepNow }, after: { keepCards: keep } };
    }
    if (objectType === "listing") {
      const l = await t.selectFrom("listings").selectAll().where("id", "=", objectId).executeTakeFirst();
      if (!l || l.seller_account_id !== r.accountId) return null;
      const target =
        before === null
          ? { ...l, status: l.status === "taken_down" ? l.status : "taken_down" }
          : {
              ...l,
              title: String(before.title ?? l.title),
              price: Number(before.price ?? l.price),
              quantity: Number(before.quantity ?? l.quantity),
              // A listing the case took down stays down even if it was active before the window.
              status: l.status === "taken_down" ? "taken_down" : String(before.status ?? l.status),
            };
      const same =
        target.title === l.title &&
        target.price === l.price &&
        target.quantity === l.quantity &&
        target.status === l.status;
      if (same) return null;
      await t
        .updateTable("listings")
        .set({
          title: target.title,
          price: target.price,
          quantity: target.quantity,
          status: target.status,
          updated_at: now,
          updated_by_session: null,
        })
        .where("id", "=", objectId)
        .execute();
      return { before: listingSnapshot(l), after: listingSnapshot(target) };
    }
    return null;
  }
}

export type CommerceResponder = ReturnType<typeof createCommerceResponder>;
