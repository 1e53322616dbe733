// まもり商店: a small web shop that uses Mamori exactly as README.md and docs/integration.md tell a store to. Each
// "§n" names the section of docs/integration.md the code follows. The shop never sees a password hash, a card number
// or a session it could keep alive itself: Mamori owns the account, the shop asks it.
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createMamoriClient, isMamoriError, type MamoriClient, unwrap } from "@mamori/client";
import { type MamoriRequestState, mamoriFastify, mamoriRefusal, type RouteKind } from "@mamori/middleware/fastify";
import { createWebhookReceiver, type MamoriWebhook } from "@mamori/middleware/webhooks";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { PRODUCTS, type Product, productById, TEST_CARDS, yen } from "./catalogue.ts";
import {
  Cart,
  type CartLine,
  Challenge,
  Checkout,
  type CheckoutView,
  type Chrome,
  GiftCards,
  Home,
  Message,
  Orders,
  page,
  Sell,
  SignInForm,
  SignUpCode,
  SignUpForm,
  StepUp,
} from "./pages.tsx";
import { ShopState } from "./state.ts";

export interface ShopOptions {
  /** Mamori's base URL, as the shop's backend reaches it (never the browser: Mamori is not public) */
  mamoriUrl: string;
  /** the store API key (mk_…) */
  apiKey: string;
  /** Mamori's public URL, as browsers reach its pages (MAMORI_PUBLIC_URL): the hosted recovery is linked there */
  mamoriPublicUrl?: string;
  /** the webhook endpoint's secret (whsec_…); unset: webhooks are refused */
  webhookSecret?: string;
  /** the load balancers in front of the shop (§4); none for the demo, which browsers reach directly */
  trustedProxies?: string[];
  /** the shop's own record (listings, notices); unset: in memory */
  stateFile?: string;
  /** Secure on the cookies (the shop served over https); default false for http://localhost */
  secureCookies?: boolean;
  /** the clock of the webhook receiver's timestamp check (tests that run Mamori on a manual clock) */
  now?: () => number;
  /** a client to use instead of one made from mamoriUrl/apiKey (tests: Mamori in the same process) */
  mamori?: MamoriClient;
}

const SESSION_COOKIE = "shop_session";
const DEVICE_COOKIE = "shop_device";
const CART_COOKIE = "shop_cart";

/** What the shop tells its customers for each Mamori refusal: in Japanese, and what to do next. */
const MESSAGES: Record<string, string> = {
  invalid_credentials: "メールアドレスまたはパスワードが違います。",
  account_frozen:
    "このアカウントは不正利用から守るため、一時的に凍結されています。Mamoriから届いたメールの案内に従って、アカウントを復旧してください。",
  account_locked: "このアカウントは一時的にロックされています。しばらくしてからお試しください。",
  rate_limited: "試行の回数が多すぎます。しばらく待ってからお試しください。",
  challenge_failed: "コードが違うか、有効期限が切れています。もう一度ログインからやり直してください。",
  challenge_invalid: "確認の有効期限が切れました。もう一度ログインしてください。",
  code_invalid: "コードが違います。メールに書かれた6桁のコードを入力してください。",
  code_expired: "コードの有効期限が切れました。もう一度登録からやり直してください。",
  code_replayed: "このコードはすでに使われています。",
  invalid_email: "メールアドレスの形式が正しくありません。",
  password_too_short: "パスワードが短すぎます。",
  password_too_long: "パスワードが長すぎます。",
  password_too_weak: "推測されやすいパスワードです。単語をいくつかつなげた、長めのものにしてください。",
  password_breached: "このパスワードは過去に漏えいしたことが知られています。別のものにしてください。",
  password_contains_context: "お店の名前やメールアドレスを含むパスワードは使えません。",
  current_password_wrong: "パスワードが違います。",
  risk_denied: "安全のため、この操作はお受けできませんでした。",
  payment_failed: "カードがご利用いただけませんでした。別のカードをお選びください。",
  payment_token_invalid: "カードを登録できませんでした。",
  address_required: "お届け先を入力してください。",
  gift_card_invalid: "コードが正しくないか、すでに使われています。",
  redemption_held: "確認のため、このギフト券の登録を保留しました。確認が済むまでお待ちください。",
  listing_unavailable: "この商品は現在購入できません。",
  listing_not_found: "この商品は見つかりません。",
  own_listing: "自分の出品は購入できません。",
  order_state_invalid: "この注文はもうキャンセルできません。",
  order_total_out_of_range: "注文の金額が範囲外です。",
  session_invalid: "ログインの有効期限が切れました。もう一度ログインしてください。",
  mamori_unavailable: "ただいま混み合っています。少し待ってからもう一度お試しください。",
  invalid_request: "入力内容を確認してください。",
};
export const messageFor = (code: string) => MESSAGES[code] ?? `処理できませんでした（${code}）。`;

type Form = Record<string, string>;

/** A form's fields: strings only, whatever was posted (no body, JSON, repeated fields), so bad input is a 4xx page. */
function form(req: FastifyRequest): Form {
  const b = req.body;
  if (!b || typeof b !== "object") return {};
  return Object.fromEntries(Object.entries(b).filter((e): e is [string, string] => typeof e[1] === "string"));
}

function parseCart(raw: string | undefined): Map<string, number> {
  const cart = new Map<string, number>();
  for (const part of (raw ?? "").split(".")) {
    const [sku = "", n = ""] = part.split("~");
    const q = Number(n);
    if (productById(sku) && Number.isInteger(q) && q > 0 && q <= 20) cart.set(sku, q);
  }
  return cart;
}
const cartCookie = (cart: Map<string, number>) => [...cart].map(([s, q]) => `${s}~${q}`).join(".");

/** Only the shop's own paths after sign-in: never an open redirect to somewhere else. */
const safeNext = (n: unknown) => (typeof n === "string" && /^\/(?![/\\])[\w\-/?=&.%]*$/.test(n) ? n : "/");

export async function createShop(o: ShopOptions): Promise<FastifyInstance> {
  // §1 the client, with the store key
  const mamori = o.mamori ?? createMamoriClient({ baseUrl: o.mamoriUrl, apiKey: o.apiKey });
  // §4 the middleware: the session token in the shop's cookie, the device cookie, no trusted proxies unless told,
  // and no introspection cache (cacheMs 0): every request asks Mamori
  const m = mamoriFastify({
    mamori,
    trustedProxies: o.trustedProxies ?? [],
    session: { cookie: SESSION_COOKIE },
    deviceCookie: DEVICE_COOKIE,
    cacheMs: 0,
  });
  const state = new ShopState(o.stateFile);
  const recoverUrl = `${(o.mamoriPublicUrl ?? o.mamoriUrl).replace(/\/$/, "")}/recover/`;
  const css = readFileSync(new URL("./style.css", import.meta.url), "utf8");
  const secure = o.secureCookies ? "; Secure" : "";
  const cookie = (name: string, value: string, maxAge?: number) =>
    `${name}=${encodeURIComponent(value)}; Path=/; HttpOnly; SameSite=Lax${secure}${maxAge === undefined ? "" : `; Max-Age=${maxAge}`}`;

  const app = Fastify({ logger: false, bodyLimit: 64 * 1024 });

  app.addContentTypeParser("application/x-www-form-urlencoded", { parseAs: "string" }, (_req, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  // Every answer: a strict CSP (no script at all, the shop's own stylesheet), never cached (pages carry the
  // customer's orders and balance), no framing; and a device cookie on the first visit, so Mamori knows the browser.
  app.addHook("onRequest", async (req, reply) => {
    void reply.headers({
      "content-security-policy":
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      // same-origin, not no-referrer: with no-referrer the browser sends "Origin: null" on the shop's own form posts
      "referrer-policy": "same-origin",
    });
    if (!m.guard.context(view(req)).deviceId) {
      const did = randomBytes(16).toString("base64url");
      // the cookie header of this very request has none; later requests carry it
      (req.headers as Record<string, string>).cookie =
        `${req.headers.cookie ? `${req.headers.cookie}; ` : ""}${DEVICE_COOKIE}=${did}`;
      void reply.header("set-cookie", cookie(DEVICE_COOKIE, did, 400 * 24 * 3600));
    }
    // Cross-site form posts are refused: the browser names the page a form came from (the session cookie is also
    // SameSite=Lax). The webhook receiver is called by Mamori's server, not a browser, and is checked by signature.
    if (req.method === "POST" && !req.url.startsWith("/mamori/webhooks")) {
      const origin = req.headers.origin;
      if (origin && origin !== `http${o.secureCookies ? "s" : ""}://${req.headers.host}`) {
        return reply
          .code(403)
          .type("text/html")
          .send(page("送信できません", chromeOf(req), <Message text="別のサイトからの送信はお受けできません。" />));
      }
    }
  });

  /** The framework-free view of a request the middleware's guard reads (as its Fastify adapter does). */
  function view(req: FastifyRequest) {
    return {
      peer: req.raw.socket?.remoteAddress,
      header: (name: string) => {
        const v = req.headers[name];
        return Array.isArray(v) ? v.join(", ") : v;
      },
    };
  }

  const sessions = new WeakMap<FastifyRequest, MamoriRequestState>();
  const cartOf = (req: FastifyRequest) => parseCart(cookieOf(req, CART_COOKIE));
  function cookieOf(req: FastifyRequest, name: string): string | undefined {
    for (const part of (req.headers.cookie ?? "").split(";")) {
      const eq = part.indexOf("=");
      if (eq > 0 && part.slice(0, eq).trim() === name) {
        try {
          return decodeURIComponent(part.slice(eq + 1).trim());
        } catch {
          return undefined;
        }
      }
    }
    return undefined;
  }
  function chromeOf(req: FastifyRequest): Chrome {
    const s = sessions.get(req)?.session;
    return {
      signedIn: Boolean(s),
      cartCount: [...cartOf(req).values()].reduce((a, b) => a + b, 0),
      ...(s ? { notices: state.notices(s.accountId) } : {}),
    };
  }
  const html = (
    reply: FastifyReply,
    req: FastifyRequest,
    title: string,
    body: preact.ComponentChildren,
    status = 200,
  ) =>
    reply
      .code(status)
      .type("text/html; charset=utf-8")
      .send(page(title, chromeOf(req), body));

  /**
   * §4 The session behind a page, introspected on this request by the middleware's guard. A page answers with a
   * page, not the adapter's JSON refusal: an ended session clears the cookie and, where the page needs one, sends the
   * browser to sign in; Mamori unreachable is a 503 page (never "signed out", never let through unchecked).
   */
  function signedIn(kind: RouteKind = "normal", required = true) {
    return async (req: FastifyRequest, reply: FastifyReply) => {
      const r = await m.guard.authenticate(view(req), { kind, optional: true });
      if (r.ok) {
        sessions.set(req, r.state);
        if (r.state.session || !required) return undefined;
      } else if (r.refusal.status !== 401) {
        return html(reply, req, "エラー", <Message text={messageFor(r.refusal.body.error.code)} />, r.refusal.status);
      } else {
        void reply.header("set-cookie", cookie(SESSION_COOKIE, "", 0));
        sessions.set(req, { context: m.guard.context(view(req)), token: undefined, session: undefined });
        if (!required) return undefined;
      }
      return reply.redirect(`/signin?next=${encodeURIComponent(req.url)}`, 303);
    };
  }
  const stateOf = (req: FastifyRequest) => {
    const s = sessions.get(req);
    if (!s?.session || !s.token) throw new Error("signedIn() did not run");
    return { token: s.token, accountId: s.session.accountId, context: s.context };
  };
  const sessionHeader = (token: string) => ({ header: { "x-mamori-session": token } });

  // Mamori's refusals as pages (the middleware's mapping: its status, 503 when Mamori fails); anything else a 500 page
  // that says nothing of the inside.
  app.setErrorHandler((err, req, reply) => {
    const r = mamoriRefusal(err);
    if (r) {
      if (r.body.error.code === "session_invalid") {
        void reply.header("set-cookie", cookie(SESSION_COOKIE, "", 0));
        return reply.redirect("/signin", 303);
      }
      void reply.headers(r.headers);
      return html(
        reply,
        req,
        "エラー",
        <Message text={messageFor(r.body.error.code)} link={{ href: "/", label: "トップへ戻る" }} />,
        r.status,
      );
    }
    if ((err as { statusCode?: number }).statusCode && (err as { statusCode: number }).statusCode < 500) {
      return html(
        reply,
        req,
        "エラー",
        <Message text="リクエストを処理できませんでした。" link={{ href: "/", label: "トップへ戻る" }} />,
        (err as { statusCode: number }).statusCode,
      );
    }
    // Mamori unreachable (the client's fetch failed): the shop cannot ask, so it says so — a 503, never "signed out"
    if (err instanceof TypeError && err.message === "fetch failed") {
      void reply.header("retry-after", "5");
      return html(reply, req, "エラー", <Message text={messageFor("mamori_unavailable")} />, 503);
    }
    req.log.error(err);
    return html(
      reply,
      req,
      "エラー",
      <Message text="問題が発生しました。時間をおいてお試しください。" link={{ href: "/", label: "トップへ戻る" }} />,
      500,
    );
  });
  app.setNotFoundHandler((req, reply) =>
    html(
      reply,
      req,
      "ページが見つかりません",
      <Message text="お探しのページは見つかりませんでした。" link={{ href: "/", label: "トップへ戻る" }} />,
      404,
    ),
  );

  app.get("/style.css", async (_req, reply) =>
    reply.type("text/css; charset=utf-8").header("cache-control", "public, max-age=300").send(css),
  );

  app.get("/", { preHandler: signedIn("normal", false) }, async (req, reply) =>
    html(
      reply,
      req,
      "いらっしゃいませ",
      <Home products={PRODUCTS} listings={state.listings((l) => l.status === "active" && l.quantity > 0)} />,
    ),
  );

  // §2 sign-up: the address and password, then the code mailed to the address
  app.get("/signup", { preHandler: signedIn("normal", false) }, async (req, reply) =>
    html(reply, req, "新規登録", <SignUpForm />),
  );
  app.post("/signup", { preHandler: signedIn("normal", false) }, async (req, reply) => {
    const f = form(req);
    const email = (f.email ?? "").trim();
    try {
      const started = await unwrap(
        mamori.POST("/v1/accounts", {
          body: { email, password: f.password ?? "", language: "ja", context: m.context(req) },
        }),
      );
      return html(reply, req, "確認コードの入力", <SignUpCode signupId={started.signupId} email={email} />);
    } catch (e) {
      if (isMamoriError(e) && e.status < 500 && e.status !== 429)
        return html(reply, req, "新規登録", <SignUpForm email={email} error={messageFor(e.code)} />, e.status);
      throw e;
    }
  });
  app.post("/signup/confirm", { preHandler: signedIn("normal", false) }, async (req, reply) => {
    const f = form(req);
    const signupId = f.signupId ?? "";
    const email = f.email ?? "";
    try {
      const created = await unwrap(
        mamori.POST("/v1/accounts/confirm", {
          body: { signupId, code: (f.code ?? "").trim(), context: m.context(req) },
        }),
      );
      void reply.header("set-cookie", cookie(SESSION_COOKIE, created.session.token));
      return reply.redirect("/?welcome=1", 303);
    } catch (e) {
      if (isMamoriError(e, "code_invalid"))
        return html(
          reply,
          req,
          "確認コードの入力",
          <SignUpCode signupId={signupId} email={email} error={messageFor(e.code)} />,
          400,
        );
      throw e;
    }
  });

  // §3 sign-in: a session, or a challenge (the emailed code is sent when it is the only factor)
  app.get("/signin", { preHandler: signedIn("normal", false) }, async (req, reply) =>
    html(reply, req, "ログイン", <SignInForm recoverUrl={recoverUrl} next={safeNext((req.query as Form).next)} />),
  );
  app.post("/signin", { preHandler: signedIn("normal", false) }, async (req, reply) => {
    const f = form(req);
    const email = (f.email ?? "").trim();
    const next = safeNext(f.next);
    try {
      const r = await unwrap(
        mamori.POST("/v1/sign-in", { body: { email, password: f.password ?? "", context: m.context(req) } }),
      );
      if (r.status === "challenge") {
        if (r.factors.length === 1 && r.factors[0] === "email_code") {
          await unwrap(mamori.POST("/v1/sign-in/challenge/code", { body: { challengeToken: r.challengeToken } }));
        }
        return html(
          reply,
          req,
          "本人確認",
          <Challenge
            recoverUrl={recoverUrl}
            challengeToken={r.challengeToken}
            factors={r.factors}
            email={email}
            next={next}
          />,
        );
      }
      void reply.header("set-cookie", cookie(SESSION_COOKIE, r.session.token));
      return reply.redirect(next, 303);
    } catch (e) {
      // the same words for a wrong password and an unknown address: Mamori answers both alike
      if (isMamoriError(e, "invalid_credentials", "account_frozen", "account_locked", "password_reset_required"))
        return html(
          reply,
          req,
          "ログイン",
          <SignInForm recoverUrl={recoverUrl} email={email} next={next} error={messageFor(e.code)} />,
          e.status,
        );
      throw e;
    }
  });
  app.post("/signin/challenge", { preHandler: signedIn("normal", false) }, async (req, reply) => {
    const f = form(req);
    const factor = f.factor === "totp" || f.factor === "recovery_code" ? f.factor : "email_code";
    const next = safeNext(f.next);
    const email = f.email ?? "";
    try {
      const r = await unwrap(
        mamori.POST("/v1/sign-in/challenge", {
          body: {
            challengeToken: f.challengeToken ?? "",
            factor,
            code: (f.code ?? "").trim(),
            context: m.context(req),
          },
        }),
      );
      if (r.status === "challenge")
        return html(
          reply,
          req,
          "本人確認",
          <Challenge
            recoverUrl={recoverUrl}
            challengeToken={r.challengeToken}
            factors={r.factors}
            email={email}
            next={next}
          />,
        );
      void reply.header("set-cookie", cookie(SESSION_COOKIE, r.session.token));
      return reply.redirect(next, 303);
    } catch (e) {
      if (isMamoriError(e, "challenge_failed", "challenge_invalid", "account_frozen"))
        return html(
          reply,
          req,
          "ログイン",
          <SignInForm recoverUrl={recoverUrl} email={email} next={next} error={messageFor(e.code)} />,
          e.status,
        );
      throw e;
    }
  });

  // sign-out: the Mamori session ends too, not only the cookie
  app.post("/signout", { preHandler: signedIn("normal", false) }, async (req, reply) => {
    const token = sessions.get(req)?.token;
    if (token) {
      await mamori.POST("/v1/session/sign-out", { params: sessionHeader(token) });
      m.guard.forget(token);
    }
    void reply.header("set-cookie", cookie(SESSION_COOKIE, "", 0));
    return reply.redirect("/", 303);
  });

  // the cart: the shop's own cookie (what is in it is not a secret; prices are looked up here, never taken from it)
  app.get("/cart", { preHandler: signedIn("normal", false) }, async (req, reply) => {
    const lines: CartLine[] = [...cartOf(req)].map(([sku, quantity]) => ({
      product: productById(sku) as Product,
      quantity,
    }));
    return html(reply, req, "カート", <Cart lines={lines} />);
  });
  app.post("/cart/add", async (req, reply) => {
    const sku = form(req).sku ?? "";
    const cart = cartOf(req);
    if (productById(sku)) cart.set(sku, Math.min(20, (cart.get(sku) ?? 0) + 1));
    void reply.header("set-cookie", cookie(CART_COOKIE, cartCookie(cart)));
    return reply.redirect("/cart", 303);
  });
  app.post("/cart/remove", async (req, reply) => {
    const cart = cartOf(req);
    cart.delete(form(req).sku ?? "");
    void reply.header("set-cookie", cookie(CART_COOKIE, cartCookie(cart)));
    return reply.redirect("/cart", 303);
  });

  // §5 checkout: a money route, introspected on this request
  async function checkoutView(
    req: FastifyRequest,
    listingId: string | undefined,
    error?: string,
  ): Promise<CheckoutView | undefined> {
    const { token } = stateOf(req);
    const h = { params: sessionHeader(token) };
    const [account, addresses, instruments, wallet] = await Promise.all([
      unwrap(mamori.GET("/v1/account", h)),
      unwrap(mamori.GET("/v1/commerce/addresses", h)),
      unwrap(mamori.GET("/v1/commerce/payment-instruments", h)),
      unwrap(mamori.GET("/v1/commerce/wallet", h)),
    ]);
    let lines: CheckoutView["lines"];
    let products: Product[] = [];
    if (listingId) {
      const l = state.listing(listingId);
      const active = l?.status === "active" ? l : undefined;
      if (!active) return undefined;
      lines = [{ title: active.title, quantity: 1, price: active.price }];
    } else {
      products = [...cartOf(req).keys()].map((s) => productById(s) as Product);
      lines = [...cartOf(req)].map(([sku, quantity]) => {
        const p = productById(sku) as Product;
        return { title: p.title, quantity, price: p.price };
      });
      if (lines.length === 0) return undefined;
    }
    const primary = account.emails.find((e) => e.primary)?.value ?? account.emails[0]?.value ?? "";
    return {
      lines,
      ...(listingId ? { listingId } : {}),
      hasGiftCards: products.some((p) => p.category === "gift_card"),
      hasPhysical: Boolean(listingId) || products.some((p) => p.category === "physical"),
      defaultRecipient: primary,
      addresses: addresses.addresses.map((a) => ({
        id: a.id,
        label: `${a.name}　〒${a.postalCode} ${a.city} ${a.line1}`,
      })),
      instruments: instruments.instruments.map((c) => ({
        id: c.id,
        label: `${c.brand.toUpperCase()} •••• ${c.last4}`,
      })),
      giftBalance: wallet.balance,
      ...(error ? { error } : {}),
    };
  }
  app.get("/checkout", { preHandler: signedIn("money") }, async (req, reply) => {
    const listing = (req.query as Form).listing;
    const v = await checkoutView(req, listing);
    if (!v)
      return html(
        reply,
        req,
        "レジ",
        <Message text="購入できる商品がありません。" link={{ href: "/", label: "商品を見る" }} />,
      );
    return html(reply, req, "レジ", <Checkout {...v} />);
  });
  app.post("/checkout", { preHandler: signedIn("money") }, async (req, reply) => {
    const { token } = stateOf(req);
    const f = form(req);
    const listingId = f.listing || undefined;
    const h = { params: sessionHeader(token) };
    const again = async (error: string, status = 400) => {
      const v = await checkoutView(req, listingId, error);
      if (!v)
        return html(reply, req, "レジ", <Message text={error} link={{ href: "/", label: "商品を見る" }} />, status);
      return html(reply, req, "レジ", <Checkout {...v} />, status);
    };
    try {
      const cart = cartOf(req);
      const items = listingId
        ? [{ listingId, quantity: 1 }]
        : [...cart].map(([sku, quantity]) => {
            const p = productById(sku) as Product;
            return {
              sku: p.id,
              title: p.title,
              category: p.category,
              quantity,
              unitPrice: p.price,
              ...(p.category === "gift_card" ? { recipientEmail: (f.recipientEmail ?? "").trim() } : {}),
            };
          });
      if (items.length === 0) return again("カートが空です。");
      const physical = listingId || items.some((i) => "category" in i && i.category === "physical");
      let addressId: string | undefined;
      if (physical) {
        if (f.addressId && f.addressId !== "new") addressId = f.addressId;
        else {
          if (!f.name || !f.postalCode || !f.city || !f.line1) return again("お届け先をすべて入力してください。");
          const a = await unwrap(
            mamori.POST("/v1/commerce/addresses", {
              ...h,
              body: { name: f.name, postalCode: f.postalCode, city: f.city, line1: f.line1, country: "JP" },
            }),
          );
          addressId = a.id;
        }
      }
      let payment: { method: "instrument"; instrumentId: string } | { method: "gift_balance" };
      const pay = f.pay ?? "";
      if (pay === "gift_balance") payment = { method: "gift_balance" };
      else if (pay.startsWith("instrument:")) payment = { method: "instrument", instrumentId: pay.slice(11) };
      else if (pay.startsWith("token:") && TEST_CARDS.some((c) => c.token === pay.slice(6))) {
        // the gateway's token from the shop's checkout (here: a test card), never a card number
        const c = await unwrap(
          mamori.POST("/v1/commerce/payment-instruments", {
            ...h,
            body: { token: pay.slice(6), billingCountry: "JP" },
          }),
        );
        payment = { method: "instrument", instrumentId: c.id };
      } else return again("お支払い方法を選んでください。");

      const order = await unwrap(
        mamori.POST("/v1/commerce/orders", {
          ...h,
          body: { items, payment, currency: "JPY", ...(addressId ? { addressId } : {}) },
        }),
      );
      // Gift cards are digital: the shop delivers at once, by capturing (Mamori issues the cards and mails each code
      // to its recipient). Physical goods stay authorized until the shop ships them.
      let status = order.status;
      if (order.status === "placed" && order.items.some((i) => i.category === "gift_card")) {
        status = (await unwrap(mamori.POST("/v1/commerce/orders/{id}/capture", { params: { path: { id: order.id } } })))
          .status;
      }
      if (!listingId) void reply.header("set-cookie", cookie(CART_COOKIE, "", 0));
      else {
        const l = state.listing(listingId);
        if (l) state.putListing({ ...l, quantity: Math.max(0, l.quantity - 1) });
      }
      const flash = status === "on_hold" ? "held" : status === "pending_payment" ? "unpaid" : "ok";
      return reply.redirect(`/orders?placed=${encodeURIComponent(order.id)}&r=${flash}`, 303);
    } catch (e) {
      // a risky order wants a fresh sign-in (and second factor): ask, then come back (§5)
      if (isMamoriError(e, "second_factor_required", "reauthentication_required"))
        return reply.redirect(
          `/reauth?next=${encodeURIComponent(listingId ? `/checkout?listing=${listingId}` : "/checkout")}`,
          303,
        );
      if (
        isMamoriError(e) &&
        e.status < 500 &&
        e.status !== 429 &&
        e.code !== "account_frozen" &&
        e.code !== "session_invalid"
      )
        return again(messageFor(e.code), e.status);
      throw e;
    }
  });

  app.get("/reauth", { preHandler: signedIn("credential") }, async (req, reply) =>
    html(reply, req, "本人確認", <StepUp next={safeNext((req.query as Form).next)} />),
  );
  app.post("/reauth/code", { preHandler: signedIn("credential") }, async (req, reply) => {
    const { token } = stateOf(req);
    await unwrap(mamori.POST("/v1/session/reauthenticate/code", { params: sessionHeader(token), body: {} }));
    return html(reply, req, "本人確認", <StepUp next={safeNext(form(req).next)} codeSent />);
  });
  app.post("/reauth", { preHandler: signedIn("credential") }, async (req, reply) => {
    const { token } = stateOf(req);
    const f = form(req);
    const next = safeNext(f.next);
    try {
      const r = await unwrap(
        mamori.POST("/v1/session/reauthenticate", {
          params: sessionHeader(token),
          body: { password: f.password ?? "", ...(f.emailCode ? { emailCode: f.emailCode.trim() } : {}) },
        }),
      );
      // a new token: the old one stopped working
      void reply.header("set-cookie", cookie(SESSION_COOKIE, r.session.token));
      m.guard.forget(token);
      return reply.redirect(next, 303);
    } catch (e) {
      if (
        isMamoriError(e) &&
        e.status < 500 &&
        e.status !== 429 &&
        e.code !== "account_frozen" &&
        e.code !== "session_invalid"
      )
        return html(reply, req, "本人確認", <StepUp next={next} error={messageFor(e.code)} />, e.status);
      throw e;
    }
  });

  // orders: Mamori's record of them (every status, nothing hidden), and what its webhooks told the shop
  app.get("/orders", { preHandler: signedIn("normal") }, async (req, reply) => {
    const { token } = stateOf(req);
    const q = req.query as Form;
    const { orders } = await unwrap(mamori.GET("/v1/commerce/orders", { params: sessionHeader(token) }));
    const flash = q.placed
      ? q.r === "held"
        ? "ご注文を受け付けました。安全のため確認中です。確認が済むまで請求は確定しません。"
        : q.r === "unpaid"
          ? "ご注文を受け付けましたが、お支払いが完了していません。"
          : "ご注文ありがとうございました。"
      : q.cancelled
        ? "注文をキャンセルしました。お支払いは取り消されます。"
        : undefined;
    return html(
      reply,
      req,
      "注文履歴",
      <Orders
        {...(flash ? { flash } : {})}
        orders={orders.map((o) => ({
          id: o.id,
          status: o.status,
          total: o.total,
          createdAt: o.createdAt,
          items: o.items.map((i) => ({ title: i.title, quantity: i.quantity })),
          giftCards: o.giftCards.map((g) => ({ last4: g.last4, amount: g.amount, status: g.status })),
          cancelledByMamori: state.orderCancelledByMamori(o.id),
        }))}
      />,
    );
  });
  app.post("/orders/:id/cancel", { preHandler: signedIn("money") }, async (req, reply) => {
    const { token } = stateOf(req);
    const { id } = req.params as { id: string };
    try {
      await unwrap(
        mamori.POST("/v1/commerce/orders/{id}/cancel", { params: { ...sessionHeader(token), path: { id } } }),
      );
    } catch (e) {
      if (isMamoriError(e, "order_state_invalid", "order_not_found"))
        return html(
          reply,
          req,
          "注文履歴",
          <Message text={messageFor(e.code)} link={{ href: "/orders", label: "注文履歴へ" }} />,
          e.status,
        );
      throw e;
    }
    return reply.redirect("/orders?cancelled=1", 303);
  });

  // gift cards: the balance, and redeeming a code (a money route)
  async function giftPage(
    req: FastifyRequest,
    reply: FastifyReply,
    extra: { flash?: string; error?: string } = {},
    status = 200,
  ) {
    const { token } = stateOf(req);
    const w = await unwrap(mamori.GET("/v1/commerce/wallet", { params: sessionHeader(token) }));
    return html(reply, req, "ギフト券", <GiftCards balance={w.balance} entries={w.entries} {...extra} />, status);
  }
  app.get("/gift-cards", { preHandler: signedIn("money") }, async (req, reply) => giftPage(req, reply));
  app.post("/gift-cards/redeem", { preHandler: signedIn("money") }, async (req, reply) => {
    const { token } = stateOf(req);
    try {
      const r = await unwrap(
        mamori.POST("/v1/commerce/gift-cards/redeem", {
          params: sessionHeader(token),
          body: { code: (form(req).code ?? "").trim() },
        }),
      );
      return giftPage(req, reply, { flash: `${yen(r.amount)}を残高に追加しました。` });
    } catch (e) {
      if (isMamoriError(e, "gift_card_invalid", "redemption_held", "risk_denied", "invalid_request"))
        return giftPage(req, reply, { error: messageFor(e.code) }, e.status);
      throw e;
    }
  });

  // a seller's listings: Mamori records and judges them (a price far below the market price, a new seller); the shop
  // keeps its own copy to show them to buyers
  async function sellPage(
    req: FastifyRequest,
    reply: FastifyReply,
    extra: { flash?: string; error?: string } = {},
    status = 200,
  ) {
    const { token, accountId } = stateOf(req);
    const { orders } = await unwrap(mamori.GET("/v1/commerce/seller/orders", { params: sessionHeader(token) }));
    return html(
      reply,
      req,
      "出品",
      <Sell
        listings={state.listings((l) => l.sellerAccountId === accountId)}
        products={PRODUCTS}
        sellerOrders={orders.map((o) => ({
          id: o.id,
          status: o.status,
          total: o.total,
          buyer: o.buyer ? `${o.buyer.name}${o.buyer.city ? `（${o.buyer.city}）` : ""}` : "—",
        }))}
        {...extra}
      />,
      status,
    );
  }
  app.get("/sell", { preHandler: signedIn("normal") }, async (req, reply) => sellPage(req, reply));
  app.post("/sell", { preHandler: signedIn("money") }, async (req, reply) => {
    const { token, accountId } = stateOf(req);
    const f = form(req);
    const price = Number(f.price);
    const quantity = Number(f.quantity);
    if (!f.title?.trim() || !Number.isInteger(price) || price < 1 || !Number.isInteger(quantity) || quantity < 1)
      return sellPage(req, reply, { error: "商品名・価格・数量を正しく入力してください。" }, 400);
    try {
      const l = await unwrap(
        mamori.POST("/v1/commerce/listings", {
          params: sessionHeader(token),
          body: {
            title: f.title.trim(),
            price,
            quantity,
            currency: "JPY",
            ...(productById(f.productId ?? "") ? { productId: f.productId } : {}),
          },
        }),
      );
      state.putListing({
        id: l.id,
        sellerAccountId: accountId,
        title: l.title,
        price: l.price,
        quantity: l.quantity,
        productId: l.productId,
        status: l.status,
      });
      return sellPage(req, reply, {
        flash: l.status === "active" ? "出品しました。" : "出品を受け付けました。確認のため保留中です。",
      });
    } catch (e) {
      if (isMamoriError(e, "second_factor_required", "reauthentication_required"))
        return reply.redirect("/reauth?next=/sell", 303);
      if (
        isMamoriError(e) &&
        e.status < 500 &&
        e.status !== 429 &&
        e.code !== "account_frozen" &&
        e.code !== "session_invalid"
      )
        return sellPage(req, reply, { error: messageFor(e.code) }, e.status);
      throw e;
    }
  });
  app.post("/sell/:id/hold", { preHandler: signedIn("money") }, async (req, reply) => {
    const { token, accountId } = stateOf(req);
    const { id } = req.params as { id: string };
    const l = state.listing(id);
    if (!l || l.sellerAccountId !== accountId)
      return sellPage(req, reply, { error: messageFor("listing_not_found") }, 404);
    const u = await unwrap(
      mamori.POST("/v1/commerce/listings/{id}", {
        params: { ...sessionHeader(token), path: { id } },
        body: { status: "held" },
      }),
    );
    state.setListingStatus(id, u.status);
    return sellPage(req, reply, { flash: "出品を停止しました。" });
  });

  // §7 「セキュリティ」: a one-time link to Mamori's security center, bound to this session
  app.get("/security", { preHandler: signedIn("credential") }, async (req, reply) => {
    const { token } = stateOf(req);
    const portal = await unwrap(mamori.POST("/v1/portal-sessions", { params: sessionHeader(token) }));
    return reply.redirect(portal.url, 303);
  });

  app.post("/notices/dismiss", { preHandler: signedIn("normal") }, async (req, reply) => {
    state.dismissNotices(stateOf(req).accountId);
    return reply.redirect("/", 303);
  });

  // §6 webhooks: the raw body (the signature covers its bytes), verified, each message id handled once
  const receiver = o.webhookSecret
    ? createWebhookReceiver({ secret: o.webhookSecret, ...(o.now ? { now: o.now } : {}) })
    : undefined;
  const at = () => new Date(o.now ? o.now() : Date.now());
  async function handleWebhook(msg: MamoriWebhook): Promise<{ status: "applied" } | { status: "ok" }> {
    const account = msg.data.accountId;
    let answer: { status: "applied" } | { status: "ok" } = { status: "ok" };
    switch (msg.type) {
      case "security.lockdown.started":
        // Mamori has ended every session; the shop keeps none of its own beyond the cookie, which now introspects
        // as ended. What the shop owes its customer is the word, shown when they are back.
        if (account)
          state.addNotice(
            account,
            "不正利用の疑いがあったため、アカウントを保護しました。身に覚えのない注文は取り消されます。",
            at(),
          );
        break;
      case "security.recovery.completed":
        if (account) state.addNotice(account, "アカウントの復旧が完了しました。ご不便をおかけしました。", at());
        break;
      case "order.cancelled":
        state.markOrderCancelled(msg.data.objectId);
        if (account)
          state.addNotice(
            account,
            `ご注文 ${msg.data.objectId.slice(0, 8)} は不正利用の疑いにより取り消されました。請求は発生しません。`,
            at(),
          );
        answer = { status: "applied" };
        break;
      case "listing.taken_down":
        state.setListingStatus(msg.data.objectId, "taken_down");
        answer = { status: "applied" };
        break;
      case "listing.rolled_back": {
        // a listing created or edited during the takeover, put back to its state before: one the attacker created is
        // taken down this way (seed 002), so the shop's copy follows, or the front page would still offer it
        const after = (msg.data as { after?: { status?: unknown } }).after;
        if (typeof after?.status === "string") state.setListingStatus(msg.data.objectId, after.status);
        answer = { status: "applied" };
        break;
      }
      default:
        // payments voided or refunded, gift cards locked: Mamori did it at the gateway and in its ledger; the shop
        // keeps no copy to change, so it applies them by saying so
        if (!msg.type.startsWith("security.")) answer = { status: "applied" };
    }
    state.logWebhook(msg.type, msg.data.objectId, answer.status, at());
    return answer;
  }
  await app.register(async (hooks) => {
    hooks.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => done(null, body));
    hooks.post("/mamori/webhooks", async (req, reply) => {
      if (!receiver) return reply.code(503).send({ error: { code: "webhooks_off", message: "No webhook secret." } });
      const r = await receiver.receive(req.body as string, req.headers, handleWebhook);
      return reply.code(r.status).send(r.body);
    });
  });

  return app;
}
