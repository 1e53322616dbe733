import assert from "node:assert/strict";
import { createMamoriClient } from "@mamori/client";
import type { FastifyInstance } from "fastify";
import { PRODUCTS } from "../../examples/demo-store/catalogue.ts";
import { createShop } from "../../examples/demo-store/shop.tsx";
import { totpCodeAt } from "../../src/identity/totp.ts";
import { freePort } from "../../src/simulate/harness.ts";
import { codeIn } from "../../src/testing/app.ts";
import { type ConsoleStaff, enrolStaff } from "../console/helpers.ts";
import {
  type Browser,
  type BrowserContext,
  inlineScriptRuns,
  type LiveMamori,
  launch,
  liveMamori,
  type Page,
  screenshot,
  seriousA11yViolations,
} from "./browser.ts";

/**
 * The set-up the seed stories share: Mamori on a port of its own (its public URL there, so its redirects are
 * followed), the demo store (examples/demo-store) in front of it as a store integrates it — store key, signed webhooks
 * — and one Chromium. Mamori runs the default risk policy, the one production starts with. The shop trusts the loopback as its load balancer, so each person's browser context says where
 * it is with X-Forwarded-For: the owner in Tokyo and the attacker abroad are different networks and devices to Mamori,
 * as they are in the stories.
 */
export interface Stage {
  m: LiveMamori;
  shop: FastifyInstance;
  shopUrl: string;
  browser: Browser;
  /** A browser context for one person: their own cookies (device), network (IP) and browser. */
  person(p: Person): Promise<BrowserContext>;
  /** Deliver every webhook due now (the shop applies what Mamori tells it). */
  deliverWebhooks(): Promise<void>;
  close(): Promise<void>;
}

export interface Person {
  ip: string;
  locale?: string;
  phone?: boolean;
  userAgent?: string;
}

/** The owner on her phone in Tokyo. */
export const OWNER_PHONE: Person = {
  ip: "133.0.0.10",
  locale: "ja-JP",
  phone: true,
  userAgent:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
};
/** An attacker's desktop browser in the United States. */
export const ATTACKER_US: Person = {
  ip: "8.8.8.8",
  locale: "en-US",
  userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
};
/** An attacker's desktop browser in Taiwan (seed 003). */
export const ATTACKER_TW: Person = {
  ip: "110.30.1.1",
  locale: "zh-TW",
  userAgent:
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/119.0.0.0 Safari/537.36",
};
/** Someone reading mailboxes from China (seeds 002, 004). */
export const ATTACKER_CN: Person = {
  ip: "36.110.1.1",
  locale: "zh-CN",
  userAgent: "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Firefox/115.0",
};
/** A shopper on her phone in Osaka. */
export const BUYER_PHONE: Person = {
  ip: "126.0.0.1",
  locale: "ja-JP",
  phone: true,
  userAgent:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.2 Mobile/15E148 Safari/604.1",
};
/** The support desk: a wide screen in Japanese. */
export const SUPPORT_DESK: Person = { ip: "133.0.0.200", locale: "ja-JP" };

/**
 * `risk`: "default" for the seed stories; "permissive" for a test that walks the shop's pages and plays the stranger
 * through the API (shopper-buys-and-opens-security-center).
 */
export async function openStage(o: { env?: NodeJS.ProcessEnv; risk?: "default" | "permissive" } = {}): Promise<Stage> {
  const port = await freePort();
  const mamoriPort = await freePort();
  const shopUrl = `http://127.0.0.1:${port}`;
  const m = await liveMamori(
    {
      MAMORI_STORE_NAME: "まもり商店",
      MAMORI_STORE_URL: `${shopUrl}/`,
      MAMORI_SUPPORT_CONTACT: "support@shop.example",
      MAMORI_PUBLIC_URL: `http://127.0.0.1:${mamoriPort}`,
      ...o.env,
    },
    mamoriPort,
    // the policy production starts with: the stories meet Mamori's real challenges and holds
    o.risk ?? "default",
  );
  const ep = await m.t.call("POST", "/v1/webhooks/endpoints", { url: `${shopUrl}/mamori/webhooks` });
  assert.equal(ep.statusCode, 201);
  // the shop's catalogue with its market prices, as `npm run demo` records it (a listing far below one is judged)
  for (const p of PRODUCTS.filter((x) => x.category === "physical")) {
    const r = await m.t.call("POST", "/v1/commerce/products", {
      id: p.id,
      title: p.title,
      marketPrice: p.price,
      currency: "JPY",
    });
    assert.equal(r.statusCode, 200, r.body);
  }
  const shop = await createShop({
    mamoriUrl: m.base,
    mamoriPublicUrl: m.base,
    apiKey: m.t.apiKey,
    webhookSecret: ep.json().secret,
    mamori: createMamoriClient({ baseUrl: m.base, apiKey: m.t.apiKey }),
    // the browsers reach the shop through "the load balancer" on the loopback, which says who they are
    trustedProxies: ["127.0.0.1"],
    // Mamori runs on the tests' manual clock: its webhook timestamps are that clock's
    now: () => m.t.clock.now(),
  });
  await shop.listen({ host: "127.0.0.1", port });
  const browser = await launch();
  return {
    m,
    shop,
    shopUrl,
    browser,
    person: (p) =>
      browser.newContext({
        viewport: p.phone ? { width: 390, height: 844 } : { width: 1280, height: 900 },
        deviceScaleFactor: 1,
        isMobile: Boolean(p.phone),
        hasTouch: Boolean(p.phone),
        locale: p.locale ?? "ja-JP",
        ...(p.userAgent ? { userAgent: p.userAgent } : {}),
        extraHTTPHeaders: { "x-forwarded-for": p.ip },
      }),
    async deliverWebhooks() {
      while ((await m.t.app.webhookDispatcher.runOnce()).delivered > 0) {}
    },
    async close() {
      await browser.close();
      await shop.close();
      await m.close();
    },
  };
}

/**
 * What every page a person sees must be: in the expected language, accessible (axe: 0 serious or critical), running no
 * injected script (the CSP), no wider than a phone when on one; then its screenshot (docs/screenshots/ with
 * MAMORI_UPDATE_SCREENSHOTS=1).
 */
export async function checkPage(page: Page, name: string, o: { lang?: string; shot?: boolean } = {}) {
  assert.equal(await page.getAttribute("html", "lang"), o.lang ?? "ja", `${name}: language`);
  assert.deepEqual(await seriousA11yViolations(page), [], `axe on ${name}`);
  assert.equal(await inlineScriptRuns(page), false, `${name}: the CSP stops an injected script`);
  const width = page.viewportSize()?.width ?? 1280;
  if (width < 600)
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= width, `${name} fits the phone`);
  if (o.shot !== false) await screenshot(page, name);
}

export const mainText = async (page: Page) => (await page.textContent("main")) ?? "";

/** Sign-up in the shop (§2): address and password, then the code from the mail. */
export async function shopSignUp(s: Stage, page: Page, email: string, password: string) {
  await page.goto(`${s.shopUrl}/signup`);
  await page.getByLabel("メールアドレス").fill(email);
  await page.getByLabel("パスワード").fill(password);
  await page.getByRole("button", { name: "確認コードを送る" }).click();
  assert.equal(await page.textContent("h1"), "確認コードの入力");
  await page.getByLabel("確認コード").fill(codeIn((await s.m.t.lastMail(email, "signup_code"))?.body));
  await page.getByRole("button", { name: "登録する" }).click();
  assert.equal(await page.getByRole("button", { name: "ログアウト" }).count(), 1, "signed up and in");
}

/**
 * Sign-in in the shop (§3). A challenge is answered with the newest sign-in code in `email`'s mailbox — the stories'
 * attackers read the owner's mail (seed 004) or relay the code she never asked for (seed 003). Returns whether Mamori
 * challenged and whether the person ended signed in.
 */
export async function shopSignIn(s: Stage, page: Page, email: string, password: string) {
  await page.goto(`${s.shopUrl}/signin`);
  await page.getByLabel("メールアドレス").fill(email);
  await page.getByLabel("パスワード").fill(password);
  const codesBefore = (await s.m.t.mails(email)).filter((x) => x.template === "signin_code").length;
  await page.getByRole("button", { name: "ログイン" }).click();
  let challenged = false;
  let codeMailed = false;
  if ((await page.textContent("h1")) === "本人確認") {
    challenged = true;
    const codes = (await s.m.t.mails(email)).filter((x) => x.template === "signin_code");
    codeMailed = codes.length > codesBefore;
    if (codeMailed) {
      await page.getByLabel("コード", { exact: true }).fill(codeIn(codes.at(-1)?.body));
      await page.getByRole("button", { name: "確認してログイン" }).click();
    }
  }
  const signedIn = (await page.getByRole("button", { name: "ログアウト" }).count()) === 1;
  return { challenged, codeMailed, signedIn };
}

/** Puts products of the shop's catalogue into the cart by their titles, from the front page. */
export async function addToCart(s: Stage, page: Page, ...titles: string[]) {
  for (const t of titles) {
    await page.goto(`${s.shopUrl}/`);
    await page.getByRole("button", { name: `${t}をカートに入れる` }).click();
  }
}

/**
 * Checkout (§5) of what is in the cart (or a listing): a new address when one is asked for and none is saved, the
 * payment choice by its label (default: the first offered). Returns the order id from the page the shop lands on.
 */
export async function checkout(
  s: Stage,
  page: Page,
  o: {
    listingId?: string;
    address?: { name: string; postalCode: string; city: string; line1: string };
    pay?: string | RegExp;
    giftRecipient?: string;
  } = {},
): Promise<{ orderId: string; flash: string }> {
  await page.goto(`${s.shopUrl}/checkout${o.listingId ? `?listing=${encodeURIComponent(o.listingId)}` : ""}`);
  assert.equal(await page.textContent("h1"), "レジ");
  if (o.address) {
    await page.getByLabel("新しいお届け先").check();
    await page.getByLabel("お名前").fill(o.address.name);
    await page.getByLabel("郵便番号").fill(o.address.postalCode);
    await page.getByLabel("都道府県・市区町村").fill(o.address.city);
    await page.getByLabel("番地・建物").fill(o.address.line1);
  }
  if (o.giftRecipient) await page.getByLabel("ギフト券の送り先メールアドレス").fill(o.giftRecipient);
  if (o.pay) await page.getByLabel(o.pay).check();
  await page.getByRole("button", { name: "注文を確定する" }).click();
  const url = new URL(page.url());
  assert.equal(url.pathname, "/orders", `checkout answered: ${await mainText(page)}`);
  return { orderId: url.searchParams.get("placed") ?? "", flash: url.searchParams.get("r") ?? "" };
}

/**
 * The stranger signs in with the stolen password as the seeds' attackers do: first from abroad in his own browser;
 * where Mamori refuses that (a challenge whose code never comes — the answer a wrong password gets too), again through
 * a residential proxy in Japan in a fresh browser (what attackers do when a shop blocks foreign sign-ins). A challenge
 * is answered with the code from her mailbox (seed 004: he reads it; seed 003: his phishing relay captures it). He ends
 * signed in, or the story cannot show the response. `page` is the browser he got in with.
 */
export async function breakIn(s: Stage, abroad: Person, email: string, password: string) {
  const told = async () =>
    (await s.m.t.mails(email)).filter((x) => x.template === "signin_code" || x.template === "signin_new_device").length;
  const before = await told();
  let ctx = await s.person(abroad);
  let page = await ctx.newPage();
  const first = await shopSignIn(s, page, email, password);
  let via: "abroad" | "proxy" = "abroad";
  let last = first;
  if (!first.signedIn) {
    assert.equal(first.codeMailed, false, "a refused sign-in mails no code");
    await ctx.close();
    ctx = await s.person({ ...abroad, ip: "126.200.3.4", locale: "ja-JP" });
    page = await ctx.newPage();
    last = await shopSignIn(s, page, email, password);
    via = "proxy";
  }
  assert.ok(last.signedIn, `the stranger got in (${via}, challenged: ${last.challenged})`);
  // She is told in her mailbox either way: the code she never asked for, or the new-device notice.
  assert.ok((await told()) > before, "she is told of the sign-in (a code or a new-device notice)");
  return { ctx, page, via, refusedAbroad: !first.signedIn, codeMailed: last.codeMailed };
}

/** A new staff login for the console (the operator's setup, then the staff member's own password and authenticator). */
export async function supportAgent(s: { m: LiveMamori }, username = "suzuki"): Promise<ConsoleStaff> {
  const { staff } = await enrolStaff(s.m.t, username, "agent");
  return staff;
}

/** The console's sign-in as a person does it: password, then the authenticator's six digits. */
export async function consoleSignIn(
  s: { m: LiveMamori },
  page: Page,
  staff: ConsoleStaff,
  o: { check?: boolean } = {},
) {
  await page.goto(`${s.m.base}/console`);
  assert.match(page.url(), /\/console\/sign-in$/);
  assert.equal(await page.textContent("h1"), "スタッフのログイン");
  await page.getByLabel("ユーザー名").fill(staff.username);
  await page.getByLabel("パスワード").fill(staff.password);
  if (o.check) await checkPage(page, "console-sign-in");
  await page.getByRole("button", { name: "次へ" }).click();
  assert.equal(await page.textContent("h1"), "認証アプリのコード");
  await page.getByLabel("6桁のコード").fill(totpCodeAt(staff.secret, s.m.t.clock.now()));
  await page.getByRole("button", { name: "ログイン" }).click();
  assert.equal(await page.textContent("h1"), "アカウントを探す");
  // the next code is a fresh step
  s.m.t.clock.advance(30_000);
}

/** In the console: search by what the caller gives (an address, a phone) and open the account found under `link`. */
export async function consoleOpenAccount(page: Page, query: string, link: string | RegExp) {
  await page.getByLabel(/メールアドレス・電話番号/).fill(query);
  await page.getByRole("button", { name: "検索" }).click();
  await page.getByRole("link", { name: link }).click();
}

/** Is the session behind this token still accepted by Mamori? (What no page can show: the API's own answer.) */
export async function sessionActive(s: Stage, token: string): Promise<boolean> {
  const out = await s.m.t.call("POST", "/v1/sessions/introspect", { token });
  return out.json().active === true;
}

/** The Mamori session token a browser holds in the shop's cookie. */
export async function shopToken(s: Stage, ctx: BrowserContext): Promise<string> {
  return (await ctx.cookies(s.shopUrl)).find((c) => c.name === "shop_session")?.value ?? "";
}
