import type { Executor } from "../db/database.ts";

/**
 * What other faces read of commerce (the owner's security center, the support console): read-only, so no other
 * module queries commerce's tables. Nothing is filtered by status: held, unpaid, cancelled and refunded orders are
 * shown like any other (seed 003: orders only the card company could show are how the owner lost weeks).
 */
export interface CommerceReads {
  /** Every order the account placed, newest first, with items, payments and the gift cards each issued. */
  ordersOfAccount(accountId: string, limit?: number): Promise<AccountOrderView[]>;
}

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
  };
}
