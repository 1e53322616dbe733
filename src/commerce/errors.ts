import { defineErrors } from "../shared/errors.ts";

export const CommerceErrors = defineErrors({
  address_not_found: { status: 404, message: "No such address on this account." },
  address_required: { status: 400, message: "An order with physical items needs a shipping address." },
  payment_instrument_not_found: { status: 404, message: "No such payment method on this account." },
  payment_token_invalid: { status: 400, message: "The gateway does not know that payment token." },
  card_number_refused: {
    status: 400,
    message: "Card numbers are never accepted; send the gateway's token for the card instead.",
  },
  order_not_found: { status: 404, message: "No such order." },
  order_state_invalid: { status: 409, message: "The order is not in a state that allows this." },
  order_total_out_of_range: { status: 400, message: "The order total is out of range." },
  payment_failed: { status: 402, message: "The payment gateway refused the operation." },
  product_not_found: { status: 404, message: "No such product." },
  listing_not_found: { status: 404, message: "No such listing." },
  listing_unavailable: { status: 409, message: "The listing is not available in that quantity." },
  own_listing: { status: 409, message: "Sellers cannot buy from their own listing." },
  gift_card_invalid: { status: 400, message: "The gift card code is wrong or was already used." },
  risk_denied: { status: 403, message: "The store's risk policy refused this action." },
  redemption_held: {
    status: 409,
    message: "This redemption is held for review; the card stays valid for its rightful recipient.",
  },
  hold_not_found: { status: 404, message: "No such held item." },
  hold_already_decided: { status: 409, message: "Someone already approved or denied this held item." },
  hold_lapsed: {
    status: 409,
    message:
      "The item is no longer held: a lockdown cancelled the order, the card was redeemed or voided, or the listing changed.",
  },
  reason_required: { status: 400, message: "Say why (at least 3 characters)." },
});
