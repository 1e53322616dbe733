import { ATO_MODEL } from "./ato-model.ts";
import type { PolicySetSource } from "./policy.ts";

/**
 * The policy set loaded as version 1 (active) on first start. Each rule answers one seed story; docs/risk.md says
 * why each threshold is what it is. Velocity counters count events *before* the one being decided, so "the third
 * purchase in 10 minutes" is `velocity.x >= 2`.
 */
export const DEFAULT_POLICY: PolicySetSource = {
  name: "default",
  description: "Mamori's shipped policy: stops the seed stories (000, 002, 003, 004) with the least friction.",
  velocity: [
    { name: "giftcard_purchases_10m", event: "gift_card_purchase", key: "account", window: "10m", agg: "count" },
    {
      name: "cheap_listings_24h",
      event: "listing_created",
      key: "seller",
      window: "24h",
      agg: "count",
      where: "has(event.data.price) && has(event.data.marketPrice) && event.data.price < 0.6 * event.data.marketPrice",
    },
  ],
  rules: [
    {
      id: "attack_ip",
      description: "Known attack IP: many failed sign-ins or many accounts tried from it in the last hour (003).",
      events: ["login", "password_reset_request"],
      when: "signals.attackIp",
      action: "deny",
    },
    {
      id: "country_not_allowed",
      description: "The owner allows sign-ins only from some countries (004's 'block foreign access').",
      events: ["login"],
      when: "size(account.allowedCountries) > 0 && !(event.country in account.allowedCountries)",
      action: "deny",
    },
    {
      id: "new_country_new_device",
      description: "Sign-in from a country and a device this account never signed in from (003).",
      events: ["login"],
      when: "signals.newCountry && signals.newDevice",
      action: "challenge",
      factor: "any",
    },
    {
      id: "new_network_unknown_device",
      description:
        "Sign-in from a device the account does not know (or without a device cookie) and a network (ASN, or /24 or /48) it never signed in from — in any country: stuffing runs through domestic residential proxies (issue 14).",
      events: ["login"],
      when: "signals.unknownDevice && signals.newNetwork",
      action: "challenge",
      factor: "any",
    },
    {
      id: "hosting_network_unknown_device",
      description:
        "Sign-in through a hosting or VPN network (the curated ASN table, context/hosting-asns.json) from a device the account does not know.",
      events: ["login"],
      when: "signals.hostingAsn && signals.unknownDevice",
      action: "challenge",
      factor: "any",
    },
    {
      id: "impossible_travel",
      description: "Faster than an airliner since the previous sign-in.",
      events: ["login"],
      when: "signals.impossibleTravel",
      action: "challenge",
    },
    {
      id: "high_rba_score",
      description: "Freeman RBA score high: IP and browser both unlike this user's history (NDSS 2016).",
      events: ["login"],
      when: "scores.rbaKnownUser && scores.rba >= 12.0",
      action: "challenge",
    },
    {
      id: "takeover_model",
      description:
        "Takeover model (ato-model.ts): new network, address and browser for the account, hosting exits, older browser versions, failing sources; threshold fitted on generated logins (docs/risk.md).",
      events: ["login"],
      when: `scores.atoKnownUser && scores.ato >= ${ATO_MODEL.threshold}`,
      action: "challenge",
    },
    {
      id: "giftcard_burst",
      description: "Third or later gift card purchase on the account within 10 minutes (003: seven in minutes).",
      events: ["gift_card_purchase"],
      when: "velocity.giftcard_purchases_10m >= 2.0",
      action: "review",
      hold: true,
    },
    {
      id: "order_new_address_new_card_after_credential_change",
      description:
        "Order to an address and with a card both added in the last 24 h, within 24 h of a credential change (000).",
      events: ["order"],
      when: [
        "has(event.data.addressCreatedAgeS) && event.data.addressCreatedAgeS <= 86400.0",
        "has(event.data.paymentInstrumentCreatedAgeS) && event.data.paymentInstrumentCreatedAgeS <= 86400.0",
        "signals.sinceCredentialChangeS != null && signals.sinceCredentialChangeS <= 86400.0",
      ].join(" && "),
      action: "challenge",
    },
    {
      id: "dormant_seller_cheap_listings",
      description: "Seller idle 180 days or more lists a fifth item under 60 % of market price within a day.",
      events: ["listing_created", "listing_updated"],
      when: [
        "account.dormantDays >= 180.0",
        "has(event.data.price) && has(event.data.marketPrice) && event.data.price < 0.6 * event.data.marketPrice",
        "velocity.cheap_listings_24h >= 4.0",
      ].join(" && "),
      action: "review",
      hold: true,
    },
    {
      id: "cheap_listing_burst_new_device",
      description:
        "Fifth listing under 60 % of market price within a day from a device or network new to the seller, dormant or not (002).",
      events: ["listing_created", "listing_updated"],
      when: [
        "(signals.unknownDevice || signals.newNetwork)",
        "has(event.data.price) && has(event.data.marketPrice) && event.data.price < 0.6 * event.data.marketPrice",
        "velocity.cheap_listings_24h >= 4.0",
      ].join(" && "),
      action: "review",
      hold: true,
    },
    {
      id: "giftcard_redeemed_soon_new_device_or_network",
      description:
        "Gift card redeemed within 2 h of delivery from a device or network its recipient never used, or by the recipient's account from a device or network new to it (004, also through a domestic proxy).",
      events: ["gift_card_redemption"],
      when: "has(event.data.deliveredAgeS) && event.data.deliveredAgeS <= 7200.0 && (signals.recipientNewDevice || signals.recipientNewNetwork)",
      action: "review",
      hold: true,
    },
  ],
};

/** No rules: every event is allowed (and still recorded). Tests that do not exercise the engine start with it. */
export const PERMISSIVE_POLICY: PolicySetSource = {
  name: "permissive",
  description: "Allows everything; decisions are still recorded.",
  rules: [],
};
