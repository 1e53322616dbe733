import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RequestContext } from "../../src/shared/context.ts";
import { codeIn, makeTestApp, STRONG, type TestApp, TOKYO } from "../../src/testing/app.ts";
import { shopper } from "../commerce/helpers.ts";

// Seed 004: a gift card code was redeemed from a stranger's account minutes after delivery. The shipped rule held it
// only from a country (and device) the recipient never used, so through a Japanese proxy it passed. Now a device or
// a network new to the recipient holds it, and so does a session of the recipient's own account that came from a
// device or network new to it (a taken-over account redeeming its own mail).

const HANAKO_HOME: RequestContext = { ...TOKYO, ip: "153.150.10.20", deviceId: "hanako-pc" };
const IPHONE =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1";
/** A residential proxy of another Japanese ISP (SoftBank). */
const JP_PROXY: RequestContext = { ip: "126.10.44.5", userAgent: IPHONE, deviceId: "stranger-phone", channel: "web" };

const MIN = 60_000;
const CODE = /[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/;

describe("gift-card-redeemed-minutes-after-delivery", () => {
  let t: TestApp;
  let friend: Awaited<ReturnType<typeof shopper>>;
  let hanako: { accountId: string; token: string };
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default" });
    friend = await shopper(t, "friend@example.jp");
    hanako = await t.signUp("hanako@example.jp", STRONG, HANAKO_HOME);
    t.clock.advance(86_400_000);
  });
  after(() => t.close());

  /** The friend sends Hanako a card; the code as it arrives in her mailbox. */
  async function sendCard(): Promise<string> {
    // Apart enough that the friend's own purchases are not a burst (giftcard_burst holds the third in 10 minutes).
    t.clock.advance(11 * MIN);
    const r = await t.call(
      "POST",
      "/v1/commerce/orders",
      {
        items: [
          {
            category: "gift_card",
            sku: "gc",
            title: "Gift",
            quantity: 1,
            unitPrice: 5000,
            recipientEmail: "hanako@example.jp",
          },
        ],
        payment: { method: "instrument", instrumentId: friend.instrumentId },
      },
      { session: friend.token },
    );
    assert.equal(r.statusCode, 201, r.body);
    const code = (await t.lastMail("hanako@example.jp", "gift_card_delivered"))?.body.match(CODE)?.[0];
    assert.ok(code);
    return code;
  }

  const redeem = (code: string, session: string) =>
    t.call("POST", "/v1/commerce/gift-cards/redeem", { code }, { session });

  async function ruleOf(accountId: string) {
    const [d] = await t.app.risk.listDecisions(accountId);
    return d?.reasons.map((r) => r.ruleId) ?? [];
  }

  it("into a stranger's account through a Japanese proxy, minutes after delivery: held, with or without a device cookie", async () => {
    const code = await sendCard();
    t.clock.advance(5 * MIN);
    // The stranger's own account, signed up through the proxy: Japan, so no country rule sees it.
    const stranger = await t.signUp("stranger@example.net", STRONG, JP_PROXY);
    const r = await redeem(code, stranger.token);
    assert.equal(r.statusCode, 409, r.body);
    assert.equal(r.json().error.code, "redemption_held");
    assert.deepEqual(await ruleOf(stranger.accountId), ["giftcard_redeemed_soon_new_device_or_network"]);

    // A store that sends no device cookie: the network alone is new to Hanako.
    const { deviceId: _, ...noCookie } = { ...JP_PROXY, ip: "126.10.45.9" };
    const other = await t.signUp("stranger2@example.net", STRONG, noCookie);
    assert.equal((await redeem(code, other.token)).statusCode, 409);

    // The card is still Hanako's: from her own PC at home it goes through.
    const mine = await redeem(code, hanako.token);
    assert.equal(mine.statusCode, 200, mine.body);
    assert.equal(mine.json().balance, 5000);
  });

  it("into Hanako's own account by someone who read her mailbox and signed in from a new device and network: held", async () => {
    const code = await sendCard();
    t.clock.advance(3 * MIN);
    // The sign-in itself is challenged (unknown device, new network); the mailbox reader answers the emailed code.
    const s = await t.signIn("hanako@example.jp", STRONG, JP_PROXY);
    assert.equal(s.status, "challenge", JSON.stringify(s));
    await t.call("POST", "/v1/sign-in/challenge/code", { challengeToken: s.challengeToken });
    const c = codeIn((await t.lastMail("hanako@example.jp", "signin_code"))?.body);
    const done = await t.call("POST", "/v1/sign-in/challenge", {
      challengeToken: s.challengeToken,
      factor: "email_code",
      code: c,
      context: JP_PROXY,
    });
    assert.equal(done.json().status, "signed_in", done.body);
    const r = await redeem(code, done.json().session.token);
    assert.equal(r.statusCode, 409, r.body);
    assert.deepEqual(await ruleOf(hanako.accountId), ["giftcard_redeemed_soon_new_device_or_network"]);
    // Hanako at home, minutes later: hers.
    assert.equal((await redeem(code, hanako.token)).statusCode, 200);
  });

  it("what is not held: the recipient on her own device and network, and a card delivered more than two hours ago", async () => {
    const code = await sendCard();
    t.clock.advance(MIN);
    const home = await t.signIn("hanako@example.jp", STRONG, HANAKO_HOME);
    assert.equal(home.status, "signed_in");
    const own = await redeem(code, home.session.token);
    assert.equal(own.statusCode, 200, own.body);

    const late = await sendCard();
    t.clock.advance(3 * 60 * MIN);
    const stranger = await t.signUp("stranger3@example.net", STRONG, { ...JP_PROXY, deviceId: "stranger3-phone" });
    const lateR = await redeem(late, stranger.token);
    assert.equal(lateR.statusCode, 200, lateR.body);
  });
});
