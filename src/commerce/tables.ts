/** Tables of the commerce module (conventions in db/schema.ts: ms timestamps, 0/1 booleans, JSON as text). */
type Ms = number;
type Bool = number;

/** A shipping address. Removal keeps the row (rollback can restore it); nothing here is ever deleted. */
export interface AddressesTable {
  id: string;
  account_id: string;
  name: string;
  line1: string;
  line2: string | null;
  city: string;
  region: string | null;
  postal_code: string;
  country: string;
  phone: string | null;
  created_at: Ms;
  created_by_session: string | null;
  removed_at: Ms | null;
  removed_by: string | null;
}

/** A saved card, as the gateway's token and display data only: never a card number. */
export interface PaymentInstrumentsTable {
  id: string;
  account_id: string;
  gateway_token: string;
  brand: string;
  last4: string;
  fingerprint: string;
  billing_country: string | null;
  /** card | prepaid */
  funding: string;
  created_at: Ms;
  created_by_session: string | null;
  removed_at: Ms | null;
  removed_by: string | null;
  /** user | not_kept ("don't keep my card") | rollback */
  removed_reason: string | null;
}

export interface CommerceSettingsTable {
  account_id: string;
  /** 0: "don't keep my card" — an instrument is removed after the order it paid for */
  keep_cards: Bool;
  updated_at: Ms;
  updated_by: string;
}

export interface ProductsTable {
  id: string;
  title: string;
  /** what the product sells for elsewhere, in minor units (to spot far-below-market listings) */
  market_price: number;
  currency: string;
  updated_at: Ms;
}

export interface ListingsTable {
  id: string;
  seller_account_id: string;
  product_id: string | null;
  title: string;
  price: number;
  currency: string;
  quantity: number;
  /** active | held | taken_down | sold_out */
  status: string;
  created_at: Ms;
  created_by_session: string | null;
  updated_at: Ms;
  updated_by_session: string | null;
}

export interface OrdersTable {
  id: string;
  account_id: string;
  /** the session that placed it (the lockdown cancels orders of attacker sessions) */
  session_id: string | null;
  /** pending_payment | placed | on_hold | shipped | delivered | cancelled | refunded */
  status: string;
  /** digital | physical | mixed */
  kind: string;
  currency: string;
  total: number;
  address_id: string | null;
  /** JSON snapshot of the address at order time */
  address_snapshot: string | null;
  /** instrument | gift_balance | none */
  payment_method: string;
  payment_instrument_id: string | null;
  /** 1 while the order waits for a payment method; 0 once paid or cancelled (never charged later) */
  payment_required: Bool;
  listing_id: string | null;
  seller_account_id: string | null;
  external_ref: string | null;
  /** set once the order's gift cards are issued (guards issuing twice) */
  gift_cards_issued_at: Ms | null;
  created_at: Ms;
  updated_at: Ms;
  shipped_at: Ms | null;
  delivered_at: Ms | null;
  cancelled_at: Ms | null;
  cancelled_by: string | null;
}

export interface OrderItemsTable {
  id: string;
  order_id: string;
  /** gift_card | digital | physical */
  category: string;
  sku: string;
  title: string;
  quantity: number;
  unit_price: number;
  listing_id: string | null;
  recipient_email: string | null;
}

export interface PaymentsTable {
  id: string;
  order_id: string;
  /** test | wallet (gift balance, settled in the ledger) */
  gateway: string;
  gateway_ref: string | null;
  /** authorized | captured | voided | refunded | declined */
  status: string;
  amount: number;
  captured_amount: number;
  refunded_amount: number;
  decline_code: string | null;
  created_at: Ms;
  updated_at: Ms;
}

export interface GiftCardsTable {
  id: string;
  /** sha256 of the normalized code; the code itself is only in the delivery mail */
  code_hash: string;
  last4: string;
  amount: number;
  currency: string;
  order_id: string;
  purchaser_account_id: string;
  recipient_email: string | null;
  /** active | redeemed | void */
  status: string;
  created_at: Ms;
  delivered_at: Ms | null;
  redeemed_into_account: string | null;
  redeemed_by_session: string | null;
  redeemed_at: Ms | null;
  voided_at: Ms | null;
}

/** card:<giftCardId> | wallet:<accountId> | hold:<caseId>:<giftCardId> | issuance | sales */
export interface LedgerAccountsTable {
  id: string;
  balance: number;
  /** only the issuance account may go negative (it is where gift-card value comes from) */
  allow_negative: Bool;
  created_at: Ms;
}

/** Two rows per transfer (debit, credit) summing to zero; (idempotency_key, leg) is unique. */
export interface LedgerEntriesTable {
  id: string;
  txn_id: string;
  account: string;
  amount: number;
  /** debit | credit */
  leg: string;
  idempotency_key: string;
  memo: string | null;
  at: Ms;
}

/** The test gateway's card tokens (a real gateway keeps these on its side). */
export interface GatewayTokensTable {
  token: string;
  brand: string;
  last4: string;
  fingerprint: string;
  funding: string;
  billing_country: string | null;
  /** prepaid cards: what is left to spend; null: no limit */
  balance: number | null;
  /** always declines with this code (card_declined, expired_card) */
  decline_code: string | null;
}

export interface GatewayChargesTable {
  ref: string;
  token: string;
  currency: string;
  /** authorized | captured | voided | refunded */
  status: string;
  amount: number;
  captured_amount: number;
  refunded_amount: number;
  created_at: Ms;
  updated_at: Ms;
}

/** Every gateway call by idempotency key, with the result it gave: the same key gives the same result. */
export interface GatewayRequestsTable {
  idempotency_key: string;
  op: string;
  /** JSON result */
  result: string;
  at: Ms;
}

/** An action the risk policy held for support to decide (the review queue). */
export interface CommerceHoldsTable {
  id: string;
  /** order | redemption | listing */
  kind: string;
  /** the order, the gift card (redemption) or the listing */
  object_id: string;
  /** the buyer, the account the card was to go into, or the seller */
  account_id: string;
  session_id: string | null;
  /** the risk decision that held it (risk_decisions.id); null for holds from before 0024 */
  decision_id: string | null;
  amount: number | null;
  currency: string | null;
  /** pending | approved | denied | lapsed (the object left its held state another way: a lockdown, a redemption) */
  status: string;
  /** kind:object:account while pending; null once decided (one pending hold per object and account) */
  open_key: string | null;
  created_at: Ms;
  decided_at: Ms | null;
  /** admin:<staff id> | system */
  decided_by: string | null;
  reason: string | null;
}

export interface CommerceTables {
  commerce_holds: CommerceHoldsTable;
  addresses: AddressesTable;
  payment_instruments: PaymentInstrumentsTable;
  commerce_settings: CommerceSettingsTable;
  products: ProductsTable;
  listings: ListingsTable;
  orders: OrdersTable;
  order_items: OrderItemsTable;
  payments: PaymentsTable;
  gift_cards: GiftCardsTable;
  ledger_accounts: LedgerAccountsTable;
  ledger_entries: LedgerEntriesTable;
  gateway_tokens: GatewayTokensTable;
  gateway_charges: GatewayChargesTable;
  gateway_requests: GatewayRequestsTable;
}

// The store's schema is every module's tables: this adds commerce's to db/schema.ts's Database (db/ names no module).
declare module "../db/schema.ts" {
  interface Database extends CommerceTables {}
}
