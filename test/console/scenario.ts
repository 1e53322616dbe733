import { ATTACKER, STRONG, type TestApp } from "../../src/testing/app.ts";
import { ADDRESS } from "../commerce/helpers.ts";

/**
 * Seed 001 as support meets it: Sato Hanako's account, taken over from abroad — the attacker changed the email and
 * bought a gift card for themselves with her saved card. She calls from her old address.
 */
export async function hijackedAccount(t: TestApp, sfx: string) {
  const oldEmail = `hanako.sato.${sfx}@example.jp`;
  const newEmail = `h.sato.${sfx}@attacker.example`;
  const owner = await t.signUp(oldEmail, STRONG, undefined, "ja");
  const card = await t.call(
    "POST",
    "/v1/commerce/payment-instruments",
    { token: "tok_visa" },
    { session: owner.token },
  );
  if (card.statusCode !== 201) throw new Error(`card ${card.body}`);
  const addr = await t.call(
    "POST",
    "/v1/commerce/addresses",
    { ...ADDRESS, name: "佐藤 花子", line1: "神宮前1-2-3 メゾン原宿101", postalCode: "150-0001" },
    { session: owner.token },
  );
  if (addr.statusCode !== 201) throw new Error(`address ${addr.body}`);
  t.clock.advance(10 * 86_400_000);
  const atk = await t.signIn(oldEmail, STRONG, ATTACKER);
  if (atk.http !== 200) throw new Error(`attacker sign-in ${JSON.stringify(atk)}`);
  const s = atk.session.token as string;
  t.clock.advance(60_000);
  await t.call("POST", "/v1/email/change", { newEmail }, { session: s });
  const code = (await t.lastMail(newEmail, "email_change_code"))?.body.match(/\b(\d{6})\b/)?.[1];
  const changed = await t.call("POST", "/v1/email/change/confirm", { code }, { session: s });
  if (changed.statusCode !== 200) throw new Error(`email change ${changed.body}`);
  t.clock.advance(60_000);
  const order = await t.call(
    "POST",
    "/v1/commerce/orders",
    {
      items: [
        {
          category: "gift_card",
          sku: "gc-5000",
          title: "ギフトカード 5,000円",
          quantity: 1,
          unitPrice: 5000,
          recipientEmail: `drop.${sfx}@attacker.example`,
        },
      ],
      payment: { method: "instrument", instrumentId: card.json().id },
    },
    { session: s },
  );
  if (order.statusCode !== 201) throw new Error(`order ${order.body}`);
  t.clock.advance(60 * 60_000);
  return {
    owner,
    attackerSessionId: atk.session.id as string,
    attackerToken: s,
    orderId: order.json().id as string,
    addressId: addr.json().id as string,
    oldEmail,
    newEmail,
  };
}
