import { Type } from "@sinclair/typebox";
import type { FastifyRequest } from "fastify";
import { SESSION_HEADER, userSession } from "../api/context.ts";
import { errors, Nullable, named, Ok } from "../api/schemas.ts";
import type { Http } from "../api/types.ts";
import { IdentityErrors } from "../identity/errors.ts";
import type { RouteDeps } from "../route-deps.ts";
import type { MamoriError } from "../shared/errors.ts";
import { CommerceErrors } from "./errors.ts";
import { containsPan } from "./service.ts";

const SessionHeader = Type.Object({
  "x-mamori-session": Type.String({ description: "The end user's session token." }),
});
const strict = { additionalProperties: false } as const;
const Id = Type.String({ minLength: 1, maxLength: 64 });
const IdParams = Type.Object({ id: Id });
/** Amounts are positive integers in minor units (yen for JPY), bounded. */
const Amount = Type.Integer({ minimum: 1, maximum: 10_000_000 });
const Currency = Type.String({ pattern: "^[A-Z]{3}$" });
const Text = (max: number) => Type.String({ minLength: 1, maxLength: max });
const Time = Type.String({ format: "date-time" });

const AddressBody = Type.Object(
  {
    name: Text(100),
    line1: Text(200),
    line2: Type.Optional(Type.String({ maxLength: 200 })),
    city: Text(100),
    region: Type.Optional(Type.String({ maxLength: 100 })),
    postalCode: Text(20),
    country: Type.String({ pattern: "^[A-Za-z]{2}$" }),
    phone: Type.Optional(Type.String({ minLength: 5, maxLength: 32 })),
  },
  strict,
);
const AddressView = named(
  "Address",
  Type.Object({
    id: Type.String(),
    name: Type.String(),
    line1: Type.String(),
    line2: Nullable(Type.String()),
    city: Type.String(),
    region: Nullable(Type.String()),
    postalCode: Type.String(),
    country: Type.String(),
    phone: Nullable(Type.String()),
    createdAt: Time,
  }),
  "A saved shipping address.",
);
const InstrumentView = named(
  "PaymentInstrument",
  Type.Object({
    id: Type.String(),
    brand: Type.String(),
    last4: Type.String(),
    funding: Type.String(),
    billingCountry: Nullable(Type.String()),
    createdAt: Time,
  }),
  "A saved payment method (the gateway's token, never a card number).",
);
const ListingView = named(
  "Listing",
  Type.Object({
    id: Type.String(),
    title: Type.String(),
    price: Type.Integer(),
    currency: Type.String(),
    quantity: Type.Integer(),
    status: Type.String(),
    productId: Nullable(Type.String()),
    createdAt: Time,
    updatedAt: Time,
  }),
  "A seller's listing.",
);
const OrderView = named(
  "Order",
  Type.Object({
    id: Type.String(),
    status: Type.String(),
    kind: Type.String(),
    currency: Type.String(),
    total: Type.Integer(),
    paymentMethod: Type.String(),
    paymentRequired: Type.Boolean(),
    listingId: Nullable(Type.String()),
    externalRef: Nullable(Type.String()),
    address: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
    items: Type.Array(
      Type.Object({
        category: Type.String(),
        sku: Type.String(),
        title: Type.String(),
        quantity: Type.Integer(),
        unitPrice: Type.Integer(),
        listingId: Nullable(Type.String()),
        recipientEmail: Nullable(Type.String()),
      }),
    ),
    payments: Type.Array(
      Type.Object({
        id: Type.String(),
        status: Type.String(),
        amount: Type.Integer(),
        capturedAmount: Type.Integer(),
        refundedAmount: Type.Integer(),
        declineCode: Nullable(Type.String()),
      }),
    ),
    giftCards: Type.Array(
      Type.Object({ id: Type.String(), last4: Type.String(), amount: Type.Integer(), status: Type.String() }),
    ),
    createdAt: Time,
    shippedAt: Nullable(Type.String({ format: "date-time" })),
    deliveredAt: Nullable(Type.String({ format: "date-time" })),
    cancelledAt: Nullable(Type.String({ format: "date-time" })),
  }),
  "An order as its buyer sees it.",
);
const SellerOrderView = named(
  "SellerOrder",
  Type.Object({
    id: Type.String(),
    listingId: Nullable(Type.String()),
    status: Type.String(),
    total: Type.Integer(),
    currency: Type.String(),
    createdAt: Time,
    buyer: Type.Union([
      Type.Object({
        masked: Type.Boolean({ description: "true until the order ships: family name, city and phone's last 4 only" }),
        name: Type.String(),
        line1: Nullable(Type.String()),
        line2: Nullable(Type.String()),
        city: Nullable(Type.String()),
        region: Nullable(Type.String()),
        postalCode: Nullable(Type.String()),
        country: Nullable(Type.String()),
        phone: Nullable(Type.String()),
      }),
      Type.Null(),
    ]),
  }),
  "An order as its seller sees it.",
);
const Item = Type.Object(
  {
    category: Type.Optional(Type.Union([Type.Literal("gift_card"), Type.Literal("digital"), Type.Literal("physical")])),
    sku: Type.Optional(Text(64)),
    title: Type.Optional(Text(200)),
    quantity: Type.Integer({ minimum: 1, maximum: 100 }),
    unitPrice: Type.Optional(Amount),
    listingId: Type.Optional(Id),
    recipientEmail: Type.Optional(Type.String({ minLength: 3, maxLength: 254, format: "email" })),
  },
  strict,
);
const Payment = Type.Union([
  Type.Object({ method: Type.Literal("instrument"), instrumentId: Id }, strict),
  Type.Object({ method: Type.Literal("gift_balance") }, strict),
]);

export function registerCommerceRoutes(app: Http, deps: RouteDeps) {
  const { commerce, sessions } = deps;
  const tag = { tags: ["commerce"] };
  const ok = { ok: true as const };
  /** The session, checked against the store; a live session of a frozen account gets 423 rather than 401. */
  const me = async (req: FastifyRequest) => {
    try {
      return await userSession(sessions, req);
    } catch (e) {
      const h = req.headers[SESSION_HEADER];
      if ((e as MamoriError).code === "session_invalid" && typeof h === "string") {
        if (await commerce.sessionOfFrozenAccount(h)) throw IdentityErrors.account_frozen();
      }
      throw e;
    }
  };

  app.post(
    "/v1/commerce/addresses",
    {
      schema: {
        operationId: "addAddress",
        ...tag,
        summary: "Add a shipping address (sensitive: fresh sign-in; the owner is told).",
        headers: SessionHeader,
        body: AddressBody,
        response: {
          201: AddressView,
          ...errors(
            "account_frozen",
            "account_not_found",
            "card_number_refused",
            "rate_limited",
            "reauthentication_required",
            "risk_denied",
            "second_factor_required",
            "session_invalid",
            "unavailable",
          ),
        },
      },
    },
    async (req, reply) => reply.status(201).send(await commerce.addAddress(await me(req), req.body)),
  );

  app.get(
    "/v1/commerce/addresses",
    {
      schema: {
        operationId: "listAddresses",
        ...tag,
        summary: "The account's live shipping addresses.",
        headers: SessionHeader,
        response: {
          200: Type.Object({ addresses: Type.Array(AddressView) }),
          ...errors("account_frozen", "account_not_found", "session_invalid"),
        },
      },
    },
    async (req) => ({ addresses: await commerce.listAddresses(await me(req)) }),
  );

  app.delete(
    "/v1/commerce/addresses/:id",
    {
      schema: {
        operationId: "removeAddress",
        ...tag,
        summary: "Remove a shipping address (kept in history).",
        headers: SessionHeader,
        params: IdParams,
        response: { 200: Ok, ...errors("account_frozen", "account_not_found", "address_not_found", "session_invalid") },
      },
    },
    async (req) => {
      await commerce.removeAddress(await me(req), req.params.id);
      return ok;
    },
  );

  app.post(
    "/v1/commerce/payment-instruments",
    {
      schema: {
        operationId: "addPaymentInstrument",
        ...tag,
        summary: "Save a card by the gateway's token (never a card number; sensitive: fresh sign-in; owner told).",
        headers: SessionHeader,
        body: Type.Object(
          {
            token: Type.String({ minLength: 3, maxLength: 128, pattern: "^[A-Za-z0-9_\\-]+$" }),
            billingCountry: Type.Optional(Type.String({ pattern: "^[A-Za-z]{2}$" })),
          },
          strict,
        ),
        response: {
          201: InstrumentView,
          ...errors(
            "account_frozen",
            "account_not_found",
            "card_number_refused",
            "payment_token_invalid",
            "rate_limited",
            "reauthentication_required",
            "risk_denied",
            "second_factor_required",
            "session_invalid",
            "unavailable",
          ),
        },
      },
      // A body carrying a card number is refused with its own code before schema validation can echo it back.
      preValidation: async (req) => {
        if (containsPan(req.body)) throw CommerceErrors.card_number_refused();
      },
    },
    async (req, reply) => reply.status(201).send(await commerce.addPaymentInstrument(await me(req), req.body)),
  );

  app.get(
    "/v1/commerce/payment-instruments",
    {
      schema: {
        operationId: "listPaymentInstruments",
        ...tag,
        summary: "The account's saved cards and its keep-cards setting.",
        headers: SessionHeader,
        response: {
          200: Type.Object({ instruments: Type.Array(InstrumentView), keepCards: Type.Boolean() }),
          ...errors("account_frozen", "account_not_found", "session_invalid"),
        },
      },
    },
    async (req) => commerce.listPaymentInstruments(await me(req)),
  );

  app.delete(
    "/v1/commerce/payment-instruments/:id",
    {
      schema: {
        operationId: "removePaymentInstrument",
        ...tag,
        summary: "Remove a saved card (kept in history).",
        headers: SessionHeader,
        params: IdParams,
        response: {
          200: Ok,
          ...errors("account_frozen", "account_not_found", "payment_instrument_not_found", "session_invalid"),
        },
      },
    },
    async (req) => {
      await commerce.removePaymentInstrument(await me(req), req.params.id);
      return ok;
    },
  );

  app.post(
    "/v1/commerce/settings",
    {
      schema: {
        operationId: "updateCommerceSettings",
        ...tag,
        summary: 'keepCards false: "don\'t keep my card" (a card is removed after the order it paid for).',
        headers: SessionHeader,
        body: Type.Object({ keepCards: Type.Boolean() }, strict),
        response: {
          200: Type.Object({ keepCards: Type.Boolean() }),
          ...errors("account_frozen", "account_not_found", "session_invalid"),
        },
      },
    },
    async (req) => commerce.updateSettings(await me(req), req.body),
  );

  app.post(
    "/v1/commerce/products",
    {
      schema: {
        operationId: "upsertProduct",
        ...tag,
        summary: "Store catalogue: a product and its market price (API key only).",
        body: Type.Object({ id: Id, title: Text(200), marketPrice: Amount, currency: Type.Optional(Currency) }, strict),
        response: {
          200: Type.Object({
            id: Type.String(),
            title: Type.String(),
            marketPrice: Type.Integer(),
            currency: Type.String(),
          }),
          ...errors(),
        },
      },
    },
    async (req) => commerce.upsertProduct(req.body),
  );

  app.post(
    "/v1/commerce/listings",
    {
      schema: {
        operationId: "createListing",
        ...tag,
        summary: "A seller lists an item.",
        headers: SessionHeader,
        body: Type.Object(
          {
            title: Text(200),
            price: Amount,
            quantity: Type.Integer({ minimum: 1, maximum: 10_000 }),
            productId: Type.Optional(Id),
            currency: Type.Optional(Currency),
          },
          strict,
        ),
        response: {
          201: ListingView,
          ...errors(
            "account_frozen",
            "account_not_found",
            "product_not_found",
            "rate_limited",
            "reauthentication_required",
            "risk_denied",
            "second_factor_required",
            "session_invalid",
            "unavailable",
          ),
        },
      },
    },
    async (req, reply) => reply.status(201).send(await commerce.createListing(await me(req), req.body)),
  );

  app.post(
    "/v1/commerce/listings/:id",
    {
      schema: {
        operationId: "updateListing",
        ...tag,
        summary: "A seller edits a listing.",
        headers: SessionHeader,
        params: IdParams,
        body: Type.Object(
          {
            title: Type.Optional(Text(200)),
            price: Type.Optional(Amount),
            quantity: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
            status: Type.Optional(Type.Union([Type.Literal("active"), Type.Literal("held")])),
          },
          strict,
        ),
        response: {
          200: ListingView,
          ...errors(
            "account_frozen",
            "account_not_found",
            "listing_not_found",
            "listing_unavailable",
            "rate_limited",
            "reauthentication_required",
            "risk_denied",
            "second_factor_required",
            "session_invalid",
            "unavailable",
          ),
        },
      },
    },
    async (req) => commerce.updateListing(await me(req), req.params.id, req.body),
  );

  app.get(
    "/v1/commerce/seller/orders",
    {
      schema: {
        operationId: "listSellerOrders",
        ...tag,
        summary: "Orders on the seller's listings; buyer name, address and phone masked until shipped.",
        headers: SessionHeader,
        response: {
          200: Type.Object({ orders: Type.Array(SellerOrderView) }),
          ...errors("account_frozen", "account_not_found", "rate_limited", "session_invalid"),
        },
      },
    },
    async (req) => ({ orders: await commerce.listSellerOrders(await me(req)) }),
  );

  app.post(
    "/v1/commerce/orders",
    {
      schema: {
        operationId: "placeOrder",
        ...tag,
        summary:
          "Place an order: store items or one listing item; paid by a saved card or the gift balance. Declined or unpaid: pending_payment.",
        headers: SessionHeader,
        body: Type.Object(
          {
            items: Type.Array(Item, { minItems: 1, maxItems: 50 }),
            addressId: Type.Optional(Id),
            payment: Type.Optional(Payment),
            currency: Type.Optional(Currency),
            externalRef: Type.Optional(Text(128)),
          },
          strict,
        ),
        response: {
          201: OrderView,
          ...errors(
            "account_frozen",
            "account_not_found",
            "address_not_found",
            "address_required",
            "invalid_request",
            "listing_not_found",
            "listing_unavailable",
            "order_not_found",
            "order_state_invalid",
            "order_total_out_of_range",
            "own_listing",
            "payment_failed",
            "payment_instrument_not_found",
            "rate_limited",
            "reauthentication_required",
            "risk_denied",
            "second_factor_required",
            "session_invalid",
            "unavailable",
          ),
        },
      },
    },
    async (req, reply) => reply.status(201).send(await commerce.placeOrder(await me(req), req.body)),
  );

  app.get(
    "/v1/commerce/orders/:id",
    {
      schema: {
        operationId: "getOrder",
        ...tag,
        summary: "One of the account's orders.",
        headers: SessionHeader,
        params: IdParams,
        response: {
          200: OrderView,
          ...errors("account_frozen", "account_not_found", "order_not_found", "session_invalid"),
        },
      },
    },
    async (req) => commerce.getOrder(await me(req), req.params.id),
  );

  app.get(
    "/v1/commerce/orders",
    {
      schema: {
        operationId: "listOrders",
        ...tag,
        summary: "The account's latest 100 orders.",
        headers: SessionHeader,
        response: {
          200: Type.Object({ orders: Type.Array(OrderView) }),
          ...errors("account_frozen", "account_not_found", "rate_limited", "session_invalid"),
        },
      },
    },
    async (req) => ({ orders: await commerce.listOrders(await me(req)) }),
  );

  for (const [op, path, fn, summary] of [
    ["captureOrder", "capture", commerce.captureOrder, "Store: capture the authorized payment (issues gift cards)."],
    ["shipOrder", "ship", commerce.shipOrder, "Store: mark shipped (captures first if needed)."],
    ["deliverOrder", "deliver", commerce.deliverOrder, "Store: mark delivered."],
  ] as const) {
    app.post(
      `/v1/commerce/orders/:id/${path}`,
      {
        schema: {
          operationId: op,
          ...tag,
          summary,
          params: IdParams,
          response: { 200: OrderView, ...errors("order_not_found", "order_state_invalid", "payment_failed") },
        },
      },
      async (req) => fn(req.params.id),
    );
  }

  app.post(
    "/v1/commerce/orders/:id/cancel",
    {
      schema: {
        operationId: "cancelOrder",
        ...tag,
        summary: "The buyer cancels an unshipped order: the payment is voided or refunded.",
        headers: SessionHeader,
        params: IdParams,
        response: {
          200: OrderView,
          ...errors(
            "account_frozen",
            "account_not_found",
            "order_not_found",
            "order_state_invalid",
            "payment_failed",
            "session_invalid",
          ),
        },
      },
    },
    async (req) => commerce.cancelOrder(await me(req), req.params.id),
  );

  app.post(
    "/v1/commerce/gift-cards/redeem",
    {
      schema: {
        operationId: "redeemGiftCard",
        ...tag,
        summary: "Redeem a gift card code into the account's wallet (once per card).",
        headers: SessionHeader,
        body: Type.Object({ code: Type.String({ minLength: 4, maxLength: 64 }) }, strict),
        response: {
          200: Type.Object({
            giftCardId: Type.String(),
            amount: Type.Integer(),
            currency: Type.String(),
            balance: Type.Integer(),
          }),
          ...errors(
            "account_frozen",
            "account_not_found",
            "gift_card_invalid",
            "rate_limited",
            "reauthentication_required",
            "redemption_held",
            "risk_denied",
            "second_factor_required",
            "session_invalid",
            "unavailable",
          ),
        },
      },
    },
    async (req) => commerce.redeemGiftCard(await me(req), req.body.code),
  );

  app.get(
    "/v1/commerce/wallet",
    {
      schema: {
        operationId: "getWallet",
        ...tag,
        summary: "The account's gift balance and its latest entries.",
        headers: SessionHeader,
        response: {
          200: Type.Object({
            balance: Type.Integer(),
            currency: Type.String(),
            entries: Type.Array(Type.Object({ amount: Type.Integer(), memo: Nullable(Type.String()), at: Time })),
          }),
          ...errors("account_frozen", "account_not_found", "rate_limited", "session_invalid"),
        },
      },
    },
    async (req) => commerce.getWallet(await me(req)),
  );
}

const AdminHeader = Type.Object({ authorization: Type.String({ description: "Bearer <admin session token>" }) });
const HeldItemView = named(
  "HeldItem",
  Type.Object({
    id: Type.String(),
    kind: Type.Union([Type.Literal("order"), Type.Literal("redemption"), Type.Literal("listing")]),
    objectId: Type.String({ description: "the order, the gift card (redemption) or the listing" }),
    accountId: Type.String({ description: "the buyer, the account the card was to go into, or the seller" }),
    accountEmail: Nullable(Type.String()),
    title: Nullable(Type.String()),
    amount: Nullable(Type.Integer()),
    currency: Nullable(Type.String()),
    status: Type.String({ description: "pending | approved | denied | lapsed" }),
    objectStatus: Nullable(Type.String()),
    giftCards: Nullable(Type.Integer()),
    recipientEmail: Nullable(Type.String({ description: "where the gift cards go (orders) or went (redemptions)" })),
    createdAt: Time,
    decidedAt: Nullable(Time),
    decidedBy: Nullable(Type.String()),
    reason: Nullable(Type.String()),
    decisionId: Nullable(Type.String()),
    rules: Type.Array(Type.Object({ ruleId: Type.String(), description: Nullable(Type.String()) })),
    policyVersion: Nullable(Type.Integer()),
    session: Nullable(
      Type.Object({
        id: Type.String(),
        ip: Type.String(),
        country: Nullable(Type.String()),
        asn: Nullable(Type.Integer()),
        network: Nullable(Type.String()),
        browser: Nullable(Type.String()),
        os: Nullable(Type.String()),
        deviceType: Nullable(Type.String()),
        channel: Type.String(),
      }),
    ),
  }),
  "An order, gift-card redemption or listing the risk policy held, with why (the rules that fired) and from where.",
);
const DecideBody = Type.Object(
  { reason: Type.String({ minLength: 1, maxLength: 500, description: "why (at least 3 characters); kept" }) },
  { additionalProperties: false },
);

/**
 * The review queue over the admin API (staff session, agent or lead): what the risk policy held, and support's
 * decision on each. The console's /console/review page is the same service.
 */
export function registerHoldRoutes(app: Http, deps: RouteDeps) {
  const { commerce, admin } = deps;
  const tags = ["admin", "commerce"];
  const decider = async (req: FastifyRequest) => {
    const id = req.adminId ?? "unknown";
    const u = req.adminId ? await admin.staffStatus(req.adminId).catch(() => null) : null;
    return { staffId: id, username: u?.username ?? null };
  };

  app.get(
    "/v1/admin/holds",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "listHeldItems",
        tags,
        summary: "Held orders, redemptions and listings still waiting for a decision, oldest first.",
        headers: AdminHeader,
        querystring: Type.Object({
          accountId: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
          limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })),
        }),
        response: { 200: Type.Object({ items: Type.Array(HeldItemView) }), ...errors("rate_limited") },
      },
    },
    async (req) => ({ items: await commerce.listHeldItems(req.query) }),
  );

  app.get(
    "/v1/admin/holds/:id",
    {
      config: { auth: "admin" },
      schema: {
        operationId: "getHeldItem",
        tags,
        summary: "One held item, decided or not.",
        headers: AdminHeader,
        params: IdParams,
        response: { 200: HeldItemView, ...errors("hold_not_found") },
      },
    },
    async (req) => commerce.getHeldItem(req.params.id),
  );

  for (const [op, path, summary] of [
    [
      "approveHeldItem",
      "approve",
      "Approve: an order is released, then captured and delivered as any placed order (gift cards issued once); a " +
        "redemption credits the balance; a listing goes on sale. 409 hold_already_decided when someone decided first; " +
        "409 hold_lapsed when a lockdown or the card's owner moved the object meanwhile.",
    ],
    [
      "denyHeldItem",
      "deny",
      "Deny: an order is cancelled and its authorisation voided (nothing captured, nothing issued); a redemption is " +
        "refused and the card stays as it was; a listing is taken down.",
    ],
  ] as const) {
    app.post(
      `/v1/admin/holds/:id/${path}`,
      {
        config: { auth: "admin" },
        schema: {
          operationId: op,
          tags,
          summary,
          headers: AdminHeader,
          params: IdParams,
          body: DecideBody,
          response: {
            200: HeldItemView,
            ...errors(
              "account_frozen",
              "account_not_found",
              "hold_already_decided",
              "hold_lapsed",
              "hold_not_found",
              "payment_failed",
              "reason_required",
            ),
          },
        },
      },
      async (req) => {
        const by = await decider(req);
        return op === "approveHeldItem"
          ? commerce.approveHeldItem(req.params.id, by, req.body.reason, req.ip)
          : commerce.denyHeldItem(req.params.id, by, req.body.reason, req.ip);
      },
    );
  }
}
