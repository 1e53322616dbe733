import { sql } from "kysely";
import type { Executor } from "../db/database.ts";
import type {
  AddressesTable,
  GiftCardsTable,
  ListingsTable,
  OrdersTable,
  PaymentInstrumentsTable,
  PaymentsTable,
} from "./tables.ts";

/**
 * What other faces read of commerce (the owner's security center, the support console): read-only, so no other
 * module queries commerce's tables. Nothing is filtered by status: held, unpaid, cancelled and refunded orders are
 * shown like any other (seed 003: orders only the card company could show are how the owner lost weeks).
 */
export interface CommerceReads {
  /** Every order the account placed, newest first, with items, payments and the gift cards each issued. */
  ordersOfAccount(accountId: string, limit?: number): Promise<AccountOrderView[]>;
  /** Names on addresses (removed ones too) starting with `prefix`, newest first: a store knows buyers by them. */
  addressesNamed(
    prefix: string,
    limit?: number,
  ): Promise<{ account_id: string; name: string; removed_at: number | null }[]>;
  /**
   * One account's commerce record as stored, for the support console (which masks what it shows): orders as buyer or
   * seller (each with its payments), addresses, saved cards, listings, and gift cards bought, received at one of
   * `emails`, or redeemed into it.
   */
  accountRecord(accountId: string, emails: string[]): Promise<AccountCommerceRecord>;
  /** The account an address, an order (its address snapshot) or a saved card belongs to; undefined: no such object. */
  ownerOf(kind: "address" | "order_address" | "card", id: string): Promise<string | undefined>;
  /**
   * The review queue's holds on these objects (orders, gift cards, listings), every status, newest first: the
   * account view links each held row to its decision.
   */
  holdsOf(
    objectIds: string[],
  ): Promise<{ id: string; kind: string; objectId: string; accountId: string; status: string }[]>;
}

export interface AccountCommerceRecord {
  orders: (OrdersTable & { payments: PaymentsTable[] })[];
  addresses: AddressesTable[];
  instruments: PaymentInstrumentsTable[];
  listings: ListingsTable[];
  giftCards: GiftCardsTable[];
}

/** LIKE pattern for a prefix, with the wildcards of the input taken literally ('!' escapes). */
const prefixPattern = (q: string) => `${q.replace(/[!%_]/g, (c) => `!${c}`)}%`;

export interface AccountOrderView {
  id: string;
  /** pending_payment | placed | on_hold | shipped | delivered | cancelled | refunded */
  status: string;
  kind: string;
  currency: string;
  total: number;
  /** the session that placed it: the security center shows its device and country */
  sessionId: string | null;
  paymentMethod: string;
  paymentRequired: boolean;
  items: { category: string; title: string; quantity: number; unitPrice: number; recipientEmail: string | null }[];
  payments: { status: string; amount: number; capturedAmount: number; refundedAmount: number }[];
  giftCards: { last4: string; amount: number; status: string; recipientEmail: string | null }[];
  createdAt: string;
  shippedAt: string | null;
  deliveredAt: string | null;
  cancelledAt: string | null;
  /** who cancelled: the owner's session, the lockdown (case), support or the store */
  cancelledBy: string | null;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(Number(ms)).toISOString());

export function createCommerceReads(db: Executor): CommerceReads {
  return {
    async ordersOfAccount(accountId, limit = 200) {
      const orders = await db
        .selectFrom("orders")
        .selectAll()
        .where("account_id", "=", accountId)
        .orderBy("created_at", "desc")
        .orderBy("id")
        .limit(Math.min(Math.max(limit, 1), 500))
        .execute();
      if (orders.length === 0) return [];
      const ids = orders.map((o) => o.id);
      // Three reads for the whole page, not three per order.
      const [items, payments, cards] = await Promise.all([
        db.selectFrom("order_items").selectAll().where("order_id", "in", ids).orderBy("id").execute(),
        db.selectFrom("payments").selectAll().where("order_id", "in", ids).orderBy("created_at").execute(),
        db
          .selectFrom("gift_cards")
          .select(["order_id", "last4", "amount", "status", "recipient_email", "created_at"])
          .where("order_id", "in", ids)
          .orderBy("created_at")
          .execute(),
      ]);
      return orders.map((o) => ({
        id: o.id,
        status: o.status,
        kind: o.kind,
        currency: o.currency,
        total: Number(o.total),
        sessionId: o.session_id,
        paymentMethod: o.payment_method,
        paymentRequired: Number(o.payment_required) === 1,
        items: items
          .filter((i) => i.order_id === o.id)
          .map((i) => ({
            category: i.category,
            title: i.title,
            quantity: Number(i.quantity),
            unitPrice: Number(i.unit_price),
            recipientEmail: i.recipient_email,
          })),
        payments: payments
          .filter((p) => p.order_id === o.id)
          .map((p) => ({
            status: p.status,
            amount: Number(p.amount),
            capturedAmount: Number(p.captured_amount),
            refundedAmount: Number(p.refunded_amount),
          })),
        giftCards: cards
          .filter((c) => c.order_id === o.id)
          .map((c) => ({
            last4: c.last4,
            amount: Number(c.amount),
            status: c.status,
            recipientEmail: c.recipient_email,
          })),
        createdAt: iso(o.created_at)!,
        shippedAt: iso(o.shipped_at),
        deliveredAt: iso(o.delivered_at),
        cancelledAt: iso(o.cancelled_at),
        cancelledBy: o.cancelled_by,
      }));
    },
    addressesNamed(prefix, limit = 50) {
      return db
        .selectFrom("addresses")
        .select(["account_id", "name", "removed_at"])
        .where(sql<boolean>`name like ${prefixPattern(prefix)} escape '!'`)
        .orderBy("created_at", "desc")
        .limit(limit)
        .execute();
    },

    async accountRecord(accountId, emails) {
      const [orders, addresses, instruments, listings, giftCards] = await Promise.all([
        db
          .selectFrom("orders")
          .selectAll()
          .where((eb) => eb.or([eb("account_id", "=", accountId), eb("seller_account_id", "=", accountId)]))
          .orderBy("created_at", "desc")
          .limit(200)
          .execute(),
        db.selectFrom("addresses").selectAll().where("account_id", "=", accountId).orderBy("created_at").execute(),
        db
          .selectFrom("payment_instruments")
          .selectAll()
          .where("account_id", "=", accountId)
          .orderBy("created_at")
          .execute(),
        db
          .selectFrom("listings")
          .selectAll()
          .where("seller_account_id", "=", accountId)
          .orderBy("created_at", "desc")
          .execute(),
        db
          .selectFrom("gift_cards")
          .selectAll()
          .where((eb) =>
            eb.or([
              eb("purchaser_account_id", "=", accountId),
              eb("redeemed_into_account", "=", accountId),
              ...(emails.length ? [eb("recipient_email", "in", emails)] : []),
            ]),
          )
          .orderBy("created_at", "desc")
          .limit(200)
          .execute(),
      ]);
      const orderIds = orders.map((o) => o.id);
      const payments = orderIds.length
        ? await db.selectFrom("payments").selectAll().where("order_id", "in", orderIds).execute()
        : [];
      return {
        orders: orders.map((o) => ({ ...o, payments: payments.filter((p) => p.order_id === o.id) })),
        addresses,
        instruments,
        listings,
        giftCards,
      };
    },

    async holdsOf(objectIds) {
      if (objectIds.length === 0) return [];
      const rows = await db
        .selectFrom("commerce_holds")
        .select(["id", "kind", "object_id", "account_id", "status"])
        .where("object_id", "in", objectIds.slice(0, 1000))
        .orderBy("created_at", "desc")
        .execute();
      return rows.map((h) => ({
        id: h.id,
        kind: h.kind,
        objectId: h.object_id,
        accountId: h.account_id,
        status: h.status,
      }));
    },

    async ownerOf(kind, id) {
      if (kind === "address") {
        return (await db.selectFrom("addresses").select("account_id").where("id", "=", id).executeTakeFirst())
          ?.account_id;
      }
      if (kind === "order_address") {
        return (await db.selectFrom("orders").select("account_id").where("id", "=", id).executeTakeFirst())?.account_id;
      }
      return (await db.selectFrom("payment_instruments").select("account_id").where("id", "=", id).executeTakeFirst())
        ?.account_id;
    },
  };
}
