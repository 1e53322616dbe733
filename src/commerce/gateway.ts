import type { Db, Executor } from "../db/database.ts";
import type { Clock } from "../shared/clock.ts";
import { newId, sha256 } from "../shared/crypto.ts";

export type ChargeStatus = "authorized" | "captured" | "voided" | "refunded";
export type GatewayResult = { ok: true; ref: string; status: ChargeStatus } | { ok: false; declineCode: string };

export interface CardInfo {
  brand: string;
  last4: string;
  fingerprint: string;
  funding: "card" | "prepaid";
  billingCountry: string | null;
}

/**
 * A card payment gateway. Every call carries an idempotency key: the same key gives the same result and never a
 * second effect, so a caller killed after the call but before recording it can simply call again.
 * Call it outside any database transaction: it is a remote system (the test gateway runs its own transactions).
 */
export interface PaymentGateway {
  readonly name: string;
  authorize(r: {
    amount: number;
    currency: string;
    instrumentToken: string;
    idempotencyKey: string;
  }): Promise<GatewayResult>;
  capture(r: { ref: string; amount?: number; idempotencyKey: string }): Promise<GatewayResult>;
  void(r: { ref: string; idempotencyKey: string }): Promise<GatewayResult>;
  refund(r: { ref: string; amount: number; idempotencyKey: string }): Promise<GatewayResult>;
  /** Display data for a token the store's checkout obtained from the gateway; undefined: unknown token. */
  describeToken(token: string): Promise<CardInfo | undefined>;
}

/** Test cards, like a real gateway's sandbox. */
export const TEST_TOKENS: Record<
  string,
  { brand: string; last4: string; funding: "card" | "prepaid"; country: string; balance?: number; decline?: string }
> = {
  tok_visa: { brand: "visa", last4: "4242", funding: "card", country: "JP" },
  tok_mastercard: { brand: "mastercard", last4: "4444", funding: "card", country: "JP" },
  tok_jcb: { brand: "jcb", last4: "0000", funding: "card", country: "JP" },
  tok_amex_us: { brand: "amex", last4: "8431", funding: "card", country: "US" },
  tok_prepaid_low: { brand: "visa", last4: "5556", funding: "prepaid", country: "JP", balance: 3000 },
  tok_declined: { brand: "visa", last4: "0002", funding: "card", country: "JP", decline: "card_declined" },
  tok_expired: { brand: "visa", last4: "0069", funding: "card", country: "JP", decline: "expired_card" },
};

const one = (r: { numUpdatedRows: bigint }) => Number(r.numUpdatedRows) === 1;

/**
 * The default gateway: behaves like a real one (authorize, capture only what is authorized, void only what is not
 * captured, refund at most what was captured and not refunded, prepaid balances) and keeps its state in its own
 * tables of the same database, so it survives a process crash like a remote gateway would.
 */
export function createTestGateway(db: Db, clock: Clock): PaymentGateway {
  let seeded: Promise<void> | undefined;
  const seed = () => {
    seeded ??= (async () => {
      for (const [token, t] of Object.entries(TEST_TOKENS)) {
        await db
          .insertInto("gateway_tokens")
          .values({
            token,
            brand: t.brand,
            last4: t.last4,
            fingerprint: `fp_${sha256(`test-gateway:${token}`).slice(0, 16)}`,
            funding: t.funding,
            billing_country: t.country,
            balance: t.balance ?? null,
            decline_code: t.decline ?? null,
          })
          .onConflict((oc) => oc.column("token").doNothing())
          .execute();
      }
    })();
    return seeded;
  };

  /**
   * Runs `effect` once per key. The key row is claimed first (insert … do nothing): of two racing calls one claims
   * it, the other waits on the unique key (PostgreSQL) or the single writer (SQLite) and then reads the stored result.
   */
  async function once(
    op: string,
    key: string,
    effect: (t: Executor) => Promise<GatewayResult>,
  ): Promise<GatewayResult> {
    await seed();
    return db.transaction().execute(async (t) => {
      const claim = await t
        .insertInto("gateway_requests")
        .values({ idempotency_key: key, op, result: "", at: clock.now() })
        .onConflict((oc) => oc.column("idempotency_key").doNothing())
        .executeTakeFirst();
      if (Number(claim.numInsertedOrUpdatedRows ?? 0n) !== 1) {
        const prev = await t
          .selectFrom("gateway_requests")
          .select(["op", "result"])
          .where("idempotency_key", "=", key)
          .executeTakeFirstOrThrow();
        if (prev.op !== op) return { ok: false, declineCode: "idempotency_key_reused" };
        return JSON.parse(prev.result) as GatewayResult;
      }
      const result = await effect(t);
      await t
        .updateTable("gateway_requests")
        .set({ result: JSON.stringify(result) })
        .where("idempotency_key", "=", key)
        .execute();
      return result;
    });
  }

  const charge = (t: Executor, ref: string) =>
    t.selectFrom("gateway_charges").selectAll().where("ref", "=", ref).executeTakeFirst();

  async function release(t: Executor, token: string, amount: number) {
    if (amount <= 0) return;
    await t
      .updateTable("gateway_tokens")
      .set((eb) => ({ balance: eb("balance", "+", amount) }))
      .where("token", "=", token)
      .where("balance", "is not", null)
      .execute();
  }

  return {
    name: "test",

    authorize: (r) =>
      once("authorize", r.idempotencyKey, async (t) => {
        if (!Number.isSafeInteger(r.amount) || r.amount <= 0) return { ok: false, declineCode: "invalid_amount" };
        const tok = await t
          .selectFrom("gateway_tokens")
          .selectAll()
          .where("token", "=", r.instrumentToken)
          .executeTakeFirst();
        if (!tok) return { ok: false, declineCode: "invalid_token" };
        if (tok.decline_code) return { ok: false, declineCode: tok.decline_code };
        if (tok.balance !== null) {
          // Guarded on the balance: two racing authorizations cannot both spend the same prepaid money.
          const held = await t
            .updateTable("gateway_tokens")
            .set((eb) => ({ balance: eb("balance", "-", r.amount) }))
            .where("token", "=", tok.token)
            .where("balance", ">=", r.amount)
            .executeTakeFirst();
          if (!one(held)) return { ok: false, declineCode: "insufficient_funds" };
        }
        const ref = `ch_${newId()}`;
        const now = clock.now();
        await t
          .insertInto("gateway_charges")
          .values({
            ref,
            token: tok.token,
            currency: r.currency,
            status: "authorized",
            amount: r.amount,
            captured_amount: 0,
            refunded_amount: 0,
            created_at: now,
            updated_at: now,
          })
          .execute();
        return { ok: true, ref, status: "authorized" };
      }),

    capture: (r) =>
      once("capture", r.idempotencyKey, async (t) => {
        const c = await charge(t, r.ref);
        if (!c) return { ok: false, declineCode: "no_such_charge" };
        const amount = r.amount ?? c.amount;
        if (!Number.isSafeInteger(amount) || amount <= 0 || amount > c.amount) {
          return { ok: false, declineCode: "amount_exceeds_authorized" };
        }
        // Guarded on status: only an authorization is captured, and only once.
        const u = await t
          .updateTable("gateway_charges")
          .set({ status: "captured", captured_amount: amount, updated_at: clock.now() })
          .where("ref", "=", r.ref)
          .where("status", "=", "authorized")
          .executeTakeFirst();
        if (!one(u)) return { ok: false, declineCode: "not_authorized" };
        await release(t, c.token, c.amount - amount);
        return { ok: true, ref: r.ref, status: "captured" };
      }),

    void: (r) =>
      once("void", r.idempotencyKey, async (t) => {
        const c = await charge(t, r.ref);
        if (!c) return { ok: false, declineCode: "no_such_charge" };
        // Guarded on status: a captured charge cannot be voided (it must be refunded).
        const u = await t
          .updateTable("gateway_charges")
          .set({ status: "voided", updated_at: clock.now() })
          .where("ref", "=", r.ref)
          .where("status", "=", "authorized")
          .executeTakeFirst();
        if (!one(u)) return { ok: false, declineCode: "not_voidable" };
        await release(t, c.token, c.amount);
        return { ok: true, ref: r.ref, status: "voided" };
      }),

    refund: (r) =>
      once("refund", r.idempotencyKey, async (t) => {
        const c = await charge(t, r.ref);
        if (!c) return { ok: false, declineCode: "no_such_charge" };
        if (!Number.isSafeInteger(r.amount) || r.amount <= 0) return { ok: false, declineCode: "invalid_amount" };
        // Guarded on the refunded total: refunds never exceed what was captured, however they race.
        const u = await t
          .updateTable("gateway_charges")
          .set((eb) => ({
            refunded_amount: eb("refunded_amount", "+", r.amount),
            status: eb
              .case()
              .when(eb("refunded_amount", "+", r.amount), "=", eb.ref("captured_amount"))
              .then("refunded")
              .else("captured")
              .end(),
            updated_at: clock.now(),
          }))
          .where("ref", "=", r.ref)
          .where("status", "=", "captured")
          .where((eb) => eb(eb("refunded_amount", "+", r.amount), "<=", eb.ref("captured_amount")))
          .executeTakeFirst();
        if (!one(u))
          return { ok: false, declineCode: c.status === "captured" ? "amount_exceeds_refundable" : "not_captured" };
        await release(t, c.token, r.amount);
        const after = await charge(t, r.ref);
        return { ok: true, ref: r.ref, status: (after?.status ?? "captured") as ChargeStatus };
      }),

    async describeToken(token) {
      await seed();
      const t = await db.selectFrom("gateway_tokens").selectAll().where("token", "=", token).executeTakeFirst();
      if (!t) return undefined;
      return {
        brand: t.brand,
        last4: t.last4,
        fingerprint: t.fingerprint,
        funding: t.funding === "prepaid" ? "prepaid" : "card",
        billingCountry: t.billing_country,
      };
    },
  };
}
