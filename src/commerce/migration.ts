import type { Kysely, Migration } from "kysely";
import { sql } from "kysely";

const ts = "bigint" as const;
// Money in minor units; bigint so the issuance account's running total never overflows (parsed back to Number).
const money = "bigint" as const;

/** The commerce module's tables (portable: see db/migrations.ts). */
export const commerceMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("addresses")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("name", "text", (c) => c.notNull())
      .addColumn("line1", "text", (c) => c.notNull())
      .addColumn("line2", "text")
      .addColumn("city", "text", (c) => c.notNull())
      .addColumn("region", "text")
      .addColumn("postal_code", "text", (c) => c.notNull())
      .addColumn("country", "text", (c) => c.notNull())
      .addColumn("phone", "text")
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("created_by_session", "text")
      .addColumn("removed_at", ts)
      .addColumn("removed_by", "text")
      .execute();
    await db.schema.createIndex("addresses_account").on("addresses").column("account_id").execute();

    await db.schema
      .createTable("payment_instruments")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("gateway_token", "text", (c) => c.notNull())
      .addColumn("brand", "text", (c) => c.notNull())
      .addColumn("last4", "text", (c) => c.notNull())
      .addColumn("fingerprint", "text", (c) => c.notNull())
      .addColumn("billing_country", "text")
      .addColumn("funding", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("created_by_session", "text")
      .addColumn("removed_at", ts)
      .addColumn("removed_by", "text")
      .addColumn("removed_reason", "text")
      .execute();
    await db.schema.createIndex("payment_instruments_account").on("payment_instruments").column("account_id").execute();

    await db.schema
      .createTable("commerce_settings")
      .addColumn("account_id", "text", (c) => c.primaryKey().references("accounts.id"))
      .addColumn("keep_cards", "integer", (c) => c.notNull())
      .addColumn("updated_at", ts, (c) => c.notNull())
      .addColumn("updated_by", "text", (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("products")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("title", "text", (c) => c.notNull())
      .addColumn("market_price", money, (c) => c.notNull())
      .addColumn("currency", "text", (c) => c.notNull())
      .addColumn("updated_at", ts, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("listings")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("seller_account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("product_id", "text")
      .addColumn("title", "text", (c) => c.notNull())
      .addColumn("price", money, (c) => c.notNull())
      .addColumn("currency", "text", (c) => c.notNull())
      .addColumn("quantity", "integer", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("created_by_session", "text")
      .addColumn("updated_at", ts, (c) => c.notNull())
      .addColumn("updated_by_session", "text")
      .execute();
    await db.schema.createIndex("listings_seller").on("listings").column("seller_account_id").execute();

    await db.schema
      .createTable("orders")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("session_id", "text")
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("currency", "text", (c) => c.notNull().defaultTo("JPY"))
      .addColumn("total", money, (c) => c.notNull())
      .addColumn("address_id", "text")
      .addColumn("address_snapshot", "text")
      .addColumn("payment_method", "text", (c) => c.notNull())
      .addColumn("payment_instrument_id", "text")
      .addColumn("payment_required", "integer", (c) => c.notNull())
      .addColumn("listing_id", "text")
      .addColumn("seller_account_id", "text")
      .addColumn("external_ref", "text")
      .addColumn("gift_cards_issued_at", ts)
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("updated_at", ts, (c) => c.notNull())
      .addColumn("shipped_at", ts)
      .addColumn("delivered_at", ts)
      .addColumn("cancelled_at", ts)
      .addColumn("cancelled_by", "text")
      .execute();
    await db.schema.createIndex("orders_account").on("orders").column("account_id").execute();
    await db.schema.createIndex("orders_session").on("orders").column("session_id").execute();
    await db.schema.createIndex("orders_seller").on("orders").column("seller_account_id").execute();
    await db.schema.createIndex("orders_listing").on("orders").column("listing_id").execute();

    await db.schema
      .createTable("order_items")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("order_id", "text", (c) => c.notNull().references("orders.id"))
      .addColumn("category", "text", (c) => c.notNull())
      .addColumn("sku", "text", (c) => c.notNull())
      .addColumn("title", "text", (c) => c.notNull())
      .addColumn("quantity", "integer", (c) => c.notNull())
      .addColumn("unit_price", money, (c) => c.notNull())
      .addColumn("listing_id", "text")
      .addColumn("recipient_email", "text")
      .execute();
    await db.schema.createIndex("order_items_order").on("order_items").column("order_id").execute();

    await db.schema
      .createTable("payments")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("order_id", "text", (c) => c.notNull().references("orders.id"))
      .addColumn("gateway", "text", (c) => c.notNull())
      .addColumn("gateway_ref", "text")
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("amount", money, (c) => c.notNull())
      .addColumn("captured_amount", money, (c) => c.notNull())
      .addColumn("refunded_amount", money, (c) => c.notNull())
      .addColumn("decline_code", "text")
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("updated_at", ts, (c) => c.notNull())
      .execute();
    await db.schema.createIndex("payments_order").on("payments").column("order_id").execute();

    await db.schema
      .createTable("gift_cards")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("code_hash", "text", (c) => c.notNull().unique())
      .addColumn("last4", "text", (c) => c.notNull())
      .addColumn("amount", money, (c) => c.notNull())
      .addColumn("currency", "text", (c) => c.notNull())
      .addColumn("order_id", "text", (c) => c.notNull().references("orders.id"))
      .addColumn("purchaser_account_id", "text", (c) => c.notNull())
      .addColumn("recipient_email", "text")
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("delivered_at", ts)
      .addColumn("redeemed_into_account", "text")
      .addColumn("redeemed_by_session", "text")
      .addColumn("redeemed_at", ts)
      .addColumn("voided_at", ts)
      .execute();
    await db.schema.createIndex("gift_cards_order").on("gift_cards").column("order_id").execute();
    await db.schema.createIndex("gift_cards_recipient").on("gift_cards").column("recipient_email").execute();
    await db.schema.createIndex("gift_cards_redeemer").on("gift_cards").column("redeemed_into_account").execute();

    await db.schema
      .createTable("ledger_accounts")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("balance", money, (c) => c.notNull())
      .addColumn("allow_negative", "integer", (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      // Only issuance may go negative. The guarded debit keeps this; the CHECK (enforced by both stores) is the backstop.
      .addCheckConstraint("ledger_balance_not_negative", sql`allow_negative = 1 or balance >= 0`)
      .execute();

    await db.schema
      .createTable("ledger_entries")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("txn_id", "text", (c) => c.notNull())
      .addColumn("account", "text", (c) => c.notNull().references("ledger_accounts.id"))
      .addColumn("amount", money, (c) => c.notNull())
      .addColumn("leg", "text", (c) => c.notNull())
      .addColumn("idempotency_key", "text", (c) => c.notNull())
      .addColumn("memo", "text")
      .addColumn("at", ts, (c) => c.notNull())
      .addUniqueConstraint("ledger_entries_once", ["idempotency_key", "leg"])
      .execute();
    await db.schema.createIndex("ledger_entries_account").on("ledger_entries").column("account").execute();

    await db.schema
      .createTable("gateway_tokens")
      .addColumn("token", "text", (c) => c.primaryKey())
      .addColumn("brand", "text", (c) => c.notNull())
      .addColumn("last4", "text", (c) => c.notNull())
      .addColumn("fingerprint", "text", (c) => c.notNull())
      .addColumn("funding", "text", (c) => c.notNull())
      .addColumn("billing_country", "text")
      .addColumn("balance", money)
      .addColumn("decline_code", "text")
      .execute();

    await db.schema
      .createTable("gateway_charges")
      .addColumn("ref", "text", (c) => c.primaryKey())
      .addColumn("token", "text", (c) => c.notNull())
      .addColumn("currency", "text", (c) => c.notNull())
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("amount", money, (c) => c.notNull())
      .addColumn("captured_amount", money, (c) => c.notNull())
      .addColumn("refunded_amount", money, (c) => c.notNull())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("updated_at", ts, (c) => c.notNull())
      .execute();

    await db.schema
      .createTable("gateway_requests")
      .addColumn("idempotency_key", "text", (c) => c.primaryKey())
      .addColumn("op", "text", (c) => c.notNull())
      .addColumn("result", "text", (c) => c.notNull())
      .addColumn("at", ts, (c) => c.notNull())
      .execute();
  },
};

/**
 * 0024: the review queue (issue 15 item 2). One row per action the risk policy held — an order (on_hold), a gift-card
 * redemption (nothing moved; the card stays active), a listing (held) — and, once support decides, who decided, how
 * and why. `open_key` is set while the hold is pending and cleared when it is decided, so an attacker retrying the same
 * held redemption files one hold, not a hundred. Orders and listings already held get their hold here.
 */
export const commerceHoldsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable("commerce_holds")
      .addColumn("id", "text", (c) => c.primaryKey())
      .addColumn("kind", "text", (c) => c.notNull())
      .addColumn("object_id", "text", (c) => c.notNull())
      .addColumn("account_id", "text", (c) => c.notNull().references("accounts.id"))
      .addColumn("session_id", "text")
      .addColumn("decision_id", "text")
      .addColumn("amount", money)
      .addColumn("currency", "text")
      .addColumn("status", "text", (c) => c.notNull())
      .addColumn("open_key", "text", (c) => c.unique())
      .addColumn("created_at", ts, (c) => c.notNull())
      .addColumn("decided_at", ts)
      .addColumn("decided_by", "text")
      .addColumn("reason", "text")
      .execute();
    await db.schema
      .createIndex("commerce_holds_status")
      .on("commerce_holds")
      .columns(["status", "created_at"])
      .execute();
    await db.schema.createIndex("commerce_holds_object").on("commerce_holds").column("object_id").execute();
    await sql`insert into commerce_holds (id, kind, object_id, account_id, session_id, decision_id, amount, currency,
        status, open_key, created_at)
      select 'hold_' || id, 'order', id, account_id, session_id, null, total, currency, 'pending',
        'order:' || id || ':' || account_id, created_at
      from orders where status = 'on_hold'`.execute(db);
    await sql`insert into commerce_holds (id, kind, object_id, account_id, session_id, decision_id, amount, currency,
        status, open_key, created_at)
      select 'hold_' || id, 'listing', id, seller_account_id, updated_by_session, null, price, currency, 'pending',
        'listing:' || id || ':' || seller_account_id, updated_at
      from listings where status = 'held'`.execute(db);
  },
};
