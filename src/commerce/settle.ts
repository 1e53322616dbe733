import type { Executor } from "../db/database.ts";
import type { PaymentGateway } from "./gateway.ts";
import { type PaymentRow, SALES, commerceStore as store, walletAccount } from "./store.ts";

/** What the gateway (or the ledger, for gift balance) said when asked to give an order's money back. */
export interface Settlement {
  payment: PaymentRow;
  action: "void" | "refund" | "none";
  amount: number;
  ok: boolean;
  declineCode: string | null;
}

/**
 * Asks the gateway to void (authorized) or refund in full (captured) each of an order's card payments, with keys
 * `<prefix>:void:<paymentId>` / `<prefix>:refund:<paymentId>`. Runs outside any transaction; a re-run after a crash
 * sends the same keys and gets the same answers without a second effect. Gift-balance payments are settled later,
 * in the ledger, inside the caller's transaction (`applySettlement`).
 */
/**
 * What settling a payment asks for: an authorisation is voided, captured money refunded in full, gift balance
 * given back in the ledger; nothing for the rest. (settleAtGateway acts on it; the lockdown preview shows it.)
 */
export function settlementPlan(p: {
  gateway: string;
  gateway_ref: string | null;
  status: string;
  amount: number;
  captured_amount: number;
  refunded_amount: number;
}): { action: "void" | "refund" | "none"; amount: number } {
  const refundable = p.captured_amount - p.refunded_amount;
  if (p.gateway === "wallet") return { action: refundable > 0 ? "refund" : "none", amount: refundable };
  if (!p.gateway_ref) return { action: "none", amount: 0 };
  if (p.status === "authorized") return { action: "void", amount: p.amount };
  if (p.status === "captured" && refundable > 0) return { action: "refund", amount: refundable };
  return { action: "none", amount: 0 };
}

export async function settleAtGateway(
  gateway: PaymentGateway,
  ex: Executor,
  orderId: string,
  prefix: string,
): Promise<Settlement[]> {
  const out: Settlement[] = [];
  for (const p of await store.payments(ex, orderId)) {
    const plan = settlementPlan(p);
    if (p.gateway === "wallet" || plan.action === "none") {
      out.push({ payment: p, action: plan.action, amount: plan.amount, ok: true, declineCode: null });
      continue;
    }
    const ref = p.gateway_ref as string;
    if (plan.action === "void") {
      const r = await gateway.void({ ref, idempotencyKey: `${prefix}:void:${p.id}` });
      if (r.ok) {
        out.push({ payment: p, action: "void", amount: p.amount, ok: true, declineCode: null });
        continue;
      }
      // A capture raced us at the gateway: the money was taken, so give all of it back instead.
      const f = await gateway.refund({ ref, amount: p.amount, idempotencyKey: `${prefix}:refund:${p.id}` });
      out.push({ payment: p, action: "refund", amount: p.amount, ok: f.ok, declineCode: f.ok ? null : f.declineCode });
      continue;
    }
    const r = await gateway.refund({ ref, amount: plan.amount, idempotencyKey: `${prefix}:refund:${p.id}` });
    out.push({
      payment: p,
      action: "refund",
      amount: plan.amount,
      ok: r.ok,
      declineCode: r.ok ? null : r.declineCode,
    });
  }
  return out;
}

/**
 * Records settlements in the caller's transaction: payment rows move (guarded on the status read, so a racing
 * settlement applies once) and gift-balance payments go back to the buyer's wallet in the ledger (idempotency key
 * `<prefix>:refund:<paymentId>`). Returns what changed.
 */
export async function applySettlement(
  t: Executor,
  s: Settlement,
  c: { buyerAccountId: string; prefix: string; now: number },
): Promise<{ applied: boolean; before: Record<string, unknown>; after: Record<string, unknown> }> {
  const p = s.payment;
  const before = paymentSnapshot(p);
  if (s.action === "none" || !s.ok) return { applied: false, before, after: before };
  if (p.gateway === "wallet") {
    const r = await store.transferBalance(t, {
      from: SALES,
      to: walletAccount(c.buyerAccountId),
      amount: s.amount,
      idempotencyKey: `${c.prefix}:refund:${p.id}`,
      memo: `refund of order ${p.order_id}`,
      now: c.now,
    });
    if (r.status === "insufficient") return { applied: false, before, after: before };
  }
  const set =
    s.action === "void"
      ? { status: "voided", updated_at: c.now }
      : {
          status: "refunded",
          refunded_amount: p.captured_amount > 0 ? p.captured_amount : s.amount,
          updated_at: c.now,
        };
  const moved = await store.movePayment(t, p.id, p.status, set);
  if (!moved) return { applied: false, before, after: before };
  return { applied: true, before, after: paymentSnapshot({ ...p, ...set }) };
}

export function paymentSnapshot(p: PaymentRow): Record<string, unknown> {
  return {
    id: p.id,
    gateway: p.gateway,
    status: p.status,
    amount: p.amount,
    capturedAmount: p.captured_amount,
    refundedAmount: p.refunded_amount,
  };
}
