import { newId } from "../../src/shared/crypto.ts";
import type { TestApp } from "../../src/testing/app.ts";

export const ADDRESS = {
  name: "山田 太郎",
  line1: "1-2-3 Jingumae",
  city: "Shibuya",
  region: "Tokyo",
  postalCode: "150-0001",
  country: "JP",
  phone: "+81-90-1234-5678",
};

/** A signed-up, verified account with a saved card (added right after sign-in, so the session is fresh). */
export async function shopper(t: TestApp, email: string, token = "tok_visa") {
  const u = await t.signUp(email);
  await t.verifyEmail(u.token, email);
  const card = await t.call("POST", "/v1/commerce/payment-instruments", { token }, { session: u.token });
  if (card.statusCode !== 201) throw new Error(`card ${card.statusCode} ${card.body}`);
  return { ...u, instrumentId: card.json().id as string };
}

export async function openCase(t: TestApp, accountId: string): Promise<string> {
  const id = newId();
  const now = t.clock.now();
  await t.app.database.db
    .insertInto("cases")
    .values({
      id,
      account_id: accountId,
      status: "locking",
      reason: "test",
      opened_by: "system",
      since: null,
      since_source: null,
      window_basis: null,
      created_at: now,
      updated_at: now,
      locked_down_at: null,
      recovered_at: null,
    })
    .execute();
  return id;
}

export async function caseActions(t: TestApp, caseId: string) {
  return t.app.database.db.selectFrom("case_actions").selectAll().where("case_id", "=", caseId).execute();
}

export async function ledgerSum(t: TestApp): Promise<number> {
  const r = await t.app.database.db
    .selectFrom("ledger_entries")
    .select((eb) => eb.fn.sum<number>("amount").as("s"))
    .executeTakeFirst();
  return Number(r?.s ?? 0);
}

export async function balance(t: TestApp, id: string): Promise<number> {
  const r = await t.app.database.db
    .selectFrom("ledger_accounts")
    .select("balance")
    .where("id", "=", id)
    .executeTakeFirst();
  return Number(r?.balance ?? 0);
}

export async function webhookCount(t: TestApp, caseId: string, type: string): Promise<number> {
  const rows = await t.app.database.db
    .selectFrom("webhook_messages")
    .select("id")
    .where("case_id", "=", caseId)
    .where("type", "=", type)
    .execute();
  return rows.length;
}

/**
 * Seed 003's burst: from `session` (the attacker's), `n` gift cards of 3,000 paid with the owner's saved card, a minute
 * apart; each order must be accepted (201), held or not.
 */
export async function giftCardBurst(t: TestApp, session: string, instrumentId: string, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    t.clock.advance(60_000);
    const r = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [
          {
            category: "gift_card",
            sku: "gc",
            title: "Gift card",
            quantity: 1,
            unitPrice: 3000,
            recipientEmail: "x@attacker.example",
          },
        ],
        payment: { method: "instrument", instrumentId },
      },
      { session },
    );
    if (r.statusCode !== 201) throw new Error(`gift card order ${r.statusCode} ${r.body}`);
  }
}
