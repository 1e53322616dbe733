// Child process of lockdown-crash-resume.test.ts: sets up a taken-over account in a store on disk, runs a lockdown
// that kills itself (SIGKILL) at a named point, or resumes whatever a killed run left. Prints JSON on stdout.
import path from "node:path";
import { openStore } from "../../src/store.ts";
import { APP_STORE, ATTACKER, codeIn, makeTestApp, STRONG, STRONG2, type TestApp } from "../../src/testing/app.ts";
import { migrateAmongTests } from "../../src/testing/stores.ts";
import { ADDRESS, shopper } from "../commerce/helpers.ts";

const [mode, dbSpec, nowArg] = process.argv.slice(2);
const crashAt = process.env.MAMORI_CRASH_AT;
const now = Number(nowArg);

function open() {
  if (!dbSpec) throw new Error("db spec");
  return dbSpec.startsWith("pg:")
    ? openStore({
        dataDir: "",
        databaseUrl: process.env.MAMORI_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test",
        pgSchema: dbSpec.slice(3),
      })
    : openStore({ dataDir: path.dirname(dbSpec), sqliteFile: path.basename(dbSpec) });
}

/** The owner's account with a card, then an attacker session that changes what it can and buys what it can. */
async function setup(t: TestApp) {
  const owner = await shopper(t, "crash@example.jp");
  await t.call("POST", "/v1/commerce/products", { id: "cam", title: "Camera", marketPrice: 120_000 });
  const listing = await t.call(
    "POST",
    "/v1/commerce/listings",
    { title: "Old book", price: 900, quantity: 1 },
    { session: owner.token },
  );
  t.clock.advance(5 * 86_400_000);
  const atk = await t.signIn("crash@example.jp", STRONG, ATTACKER);
  let s = atk.session.token as string;
  const call = (m: "POST" | "DELETE", url: string, body?: unknown) => t.call(m, url, body, { session: s });
  t.clock.advance(60_000);
  await call("POST", "/v1/email/change", { newEmail: "crash@attacker.example" });
  const ec = codeIn((await t.lastMail("crash@attacker.example", "email_change_code"))?.body);
  await call("POST", "/v1/email/change/confirm", { code: ec });
  // A password change gives the changer's session a new token.
  s = (await call("POST", "/v1/password", { currentPassword: STRONG, newPassword: STRONG2 })).json().session.token;
  await call("POST", "/v1/phones", { phone: "+1 415 555 0100" });
  const addr = (await call("POST", "/v1/commerce/addresses", { ...ADDRESS, name: "Drop" })).json();
  await call("POST", `/v1/commerce/listings/${listing.json().id}`, { price: 1 });
  const fake = (
    await call("POST", "/v1/commerce/listings", { title: "Camera", price: 30_000, quantity: 5, productId: "cam" })
  ).json();
  const pay = { method: "instrument", instrumentId: owner.instrumentId };
  const item = (category: string, unitPrice: number, extra: Record<string, unknown> = {}) => ({
    category,
    sku: category,
    title: category,
    quantity: 1,
    unitPrice,
    ...extra,
  });
  await call("POST", "/v1/commerce/orders", { items: [item("digital", 1200)] });
  await call("POST", "/v1/commerce/orders", { items: [item("physical", 80_000)], addressId: addr.id, payment: pay });
  await call("POST", "/v1/commerce/orders", {
    items: [item("gift_card", 2500, { quantity: 3, recipientEmail: "drop@attacker.example" })],
    payment: pay,
  });
  const code = (await t.lastMail("drop@attacker.example", "gift_card_delivered"))?.body.match(
    /[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}-[A-Z0-9]{4}/,
  )?.[0];
  // Last, so the owner's card stays usable for the orders above.
  await call("POST", "/v1/commerce/settings", { keepCards: false });
  const mule = await t.signUp("mule@attacker.example", STRONG, ATTACKER);
  await t.call("POST", "/v1/commerce/gift-cards/redeem", { code }, { session: mule.token });
  // A buyer pays for the fake listing.
  const buyer = await shopper(t, "buyer@example.com");
  const baddr = (await t.call("POST", "/v1/commerce/addresses", ADDRESS, { session: buyer.token })).json();
  const bo = await t.call(
    "POST",
    "/v1/commerce/orders",
    {
      items: [{ listingId: fake.id, quantity: 1 }],
      addressId: baddr.id,
      payment: { method: "instrument", instrumentId: buyer.instrumentId },
    },
    { session: buyer.token },
  );
  await t.call("POST", `/v1/commerce/orders/${bo.json().id}/capture`, {});
  t.clock.advance(60_000);
  return { accountId: owner.accountId };
}

const db = open();
await migrateAmongTests(db);
const t = await makeTestApp(APP_STORE, db, {
  now,
  crashPoint: (name) => {
    if (name === crashAt) process.kill(process.pid, "SIGKILL");
  },
});
let out: unknown;
if (mode === "setup") {
  out = { ...(await setup(t)), now: t.clock.now() };
} else if (mode === "lockdown") {
  const accountId = process.env.MAMORI_CRASH_ACCOUNT ?? "";
  out = await t.app.response.lockdownAccount({ accountId, reason: "crash test", openedBy: "admin:test" });
} else if (mode === "resume") {
  const resumed = await t.app.response.resumeAll();
  const cases = await t.app.response.listCases({});
  const c = cases[0];
  const report = c ? await t.app.response.getCase(c.id) : null;
  const events = await db.db.selectFrom("events").select(["type"]).execute();
  const outbox = await db.db.selectFrom("notifications").select(["template", "recipient"]).execute();
  const gateway = await db.db.selectFrom("gateway_requests").select(["op", "idempotency_key"]).execute();
  const ledger = await db.db.selectFrom("ledger_accounts").select(["id", "balance"]).execute();
  const webhooks = await db.db.selectFrom("webhook_messages").select(["type"]).execute();
  out = {
    resumed,
    report,
    events: events.map((e) => e.type),
    outbox,
    gatewayOps: gateway.filter((g) => g.idempotency_key.startsWith("case:")).map((g) => g.op),
    ledger: ledger.map((l) => ({ kind: l.id.split(":")[0], balance: Number(l.balance) })),
    webhooks: webhooks.map((w) => w.type),
  };
}
process.stdout.write(`${JSON.stringify(out)}\n`);
await t.close();
await db.close();
