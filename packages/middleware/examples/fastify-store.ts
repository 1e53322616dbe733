// docs/integration.md's code, as one Fastify store backend. Each "// §n" marks the section of the guide that quotes
// it. This file is type-checked with the repository (tsconfig.json includes packages/middleware/examples), so the
// guide's samples compile against the API's own types; it is not run.
import { createMamoriClient, isMamoriError, unwrap } from "@mamori/client";
import { mamoriFastify, mamoriOf } from "@mamori/middleware/fastify";
import { createWebhookReceiver, type MamoriWebhook } from "@mamori/middleware/webhooks";
import Fastify from "fastify";

// §1 the client, with the store API key Mamori printed on first start
const mamori = createMamoriClient({
  baseUrl: process.env.MAMORI_URL ?? "http://127.0.0.1:7300",
  apiKey: process.env.MAMORI_API_KEY ?? "",
});

// §4 the middleware: where the session token lives, which proxies may set X-Forwarded-For
const m = mamoriFastify({
  mamori,
  trustedProxies: ["10.0.0.0/8"], // the load balancer's range; nobody else's X-Forwarded-For is believed
  session: { cookie: "sid" },
  deviceCookie: "did",
  cacheMs: 0, // the default: ask Mamori on every request
});

const app = Fastify();
// §4 Mamori's refusals (423 account_frozen, 429 + Retry-After, …) become answers; other errors go on as usual
app.setErrorHandler(m.errorHandler());

const SESSION_COOKIE = (token: string) => `sid=${token}; Path=/; HttpOnly; Secure; SameSite=Lax`;

// §2 sign-up: start (a code goes to the address), then confirm (the account exists, signed in)
app.post("/signup", async (req) => {
  const { email, password } = req.body as { email: string; password: string };
  const started = await unwrap(
    mamori.POST("/v1/accounts", { body: { email, password, language: "ja", context: m.context(req) } }),
  );
  return { signupId: started.signupId };
});
app.post("/signup/confirm", async (req, reply) => {
  const { signupId, code } = req.body as { signupId: string; code: string };
  const created = await unwrap(
    mamori.POST("/v1/accounts/confirm", { body: { signupId, code, context: m.context(req) } }),
  );
  void reply.header("set-cookie", SESSION_COOKIE(created.session.token));
  return { accountId: created.accountId };
});

// §3 sign-in: a session, or a challenge (a second factor, or an emailed code when the context is risky)
app.post("/signin", async (req, reply) => {
  const { email, password } = req.body as { email: string; password: string };
  try {
    const r = await unwrap(mamori.POST("/v1/sign-in", { body: { email, password, context: m.context(req) } }));
    if (r.status === "challenge") {
      // no authenticator enrolled: the only factor offered is an emailed code, sent when the user asks for it
      if (r.factors.length === 1 && r.factors[0] === "email_code") {
        await unwrap(mamori.POST("/v1/sign-in/challenge/code", { body: { challengeToken: r.challengeToken } }));
      }
      return { status: "challenge", challengeToken: r.challengeToken, factors: r.factors };
    }
    void reply.header("set-cookie", SESSION_COOKIE(r.session.token));
    return { status: "signed_in" };
  } catch (e) {
    // the same words for a wrong password and an unknown address: Mamori answers both alike
    if (isMamoriError(e, "invalid_credentials")) return reply.code(401).send({ message: "メールアドレスまたはパスワードが違います" });
    throw e; // account_frozen (423), rate_limited (429), …: the error handler answers them
  }
});
app.post("/signin/challenge", async (req, reply) => {
  const { challengeToken, factor, code } = req.body as {
    challengeToken: string;
    factor: "totp" | "recovery_code" | "email_code";
    code: string;
  };
  const r = await unwrap(
    mamori.POST("/v1/sign-in/challenge", { body: { challengeToken, factor, code, context: m.context(req) } }),
  );
  if (r.status === "challenge") return { status: "challenge", challengeToken: r.challengeToken, factors: r.factors };
  void reply.header("set-cookie", SESSION_COOKIE(r.session.token));
  return { status: "signed_in" };
});

// §4 session checks: every signed-in route names its kind; credential and money routes never use a cache
app.get("/account", { preHandler: m.session() }, async (req) => {
  const { token } = mamoriOf(req);
  return unwrap(mamori.GET("/v1/account", { params: { header: { "x-mamori-session": token ?? "" } } }));
});

// §5 orders: the session carries the sign-in's context; Mamori judges the order in it
app.post("/checkout", { preHandler: m.session({ kind: "money" }) }, async (req, reply) => {
  const { token = "" } = mamoriOf(req);
  const { sku, quantity, instrumentId } = req.body as { sku: string; quantity: number; instrumentId: string };
  try {
    const order = await unwrap(
      mamori.POST("/v1/commerce/orders", {
        params: { header: { "x-mamori-session": token } },
        body: { items: [{ sku, quantity }], payment: { method: "instrument", instrumentId } },
      }),
    );
    // on_hold: authorized, nothing captured until support looks at it
    return { orderId: order.id, status: order.status };
  } catch (e) {
    // a risky order wants a fresh second factor: the page asks for it, then calls /reauthenticate
    if (isMamoriError(e, "second_factor_required", "reauthentication_required")) {
      return reply.code(403).send({ stepUp: true, code: e.code });
    }
    throw e; // risk_denied (403) and the rest: the error handler
  }
});
app.post("/reauthenticate", { preHandler: m.session({ kind: "credential" }) }, async (req, reply) => {
  const { token = "" } = mamoriOf(req);
  const { password, emailCode } = req.body as { password: string; emailCode?: string };
  const r = await unwrap(
    mamori.POST("/v1/session/reauthenticate", {
      params: { header: { "x-mamori-session": token } },
      body: { password, ...(emailCode ? { emailCode } : {}) },
    }),
  );
  // a new token: the old one stopped working
  void reply.header("set-cookie", SESSION_COOKIE(r.session.token));
  return { ok: true };
});

// §5 a money action Mamori does not record (a seller's payout): ask the risk engine with the request's context
app.post("/payouts", { preHandler: m.session({ kind: "money" }) }, async (req, reply) => {
  const { context, session } = mamoriOf(req);
  const { amount } = req.body as { amount: number };
  const d = await unwrap(
    mamori.POST("/v1/risk/assess", { body: { type: "order", accountId: session?.accountId, context, data: { amount } } }),
  );
  if (d.decision === "deny") return reply.code(403).send({ message: "この操作はできません" });
  if (d.decision === "challenge") return reply.code(403).send({ stepUp: true, factor: d.factor });
  return { queued: true, held: d.hold || d.decision === "review" };
});

// §7 the security center: a one-time link (5 min) to Mamori's hosted page, behind the store's 「セキュリティ」 menu
app.get("/security", { preHandler: m.session({ kind: "credential" }) }, async (req, reply) => {
  const { token = "" } = mamoriOf(req);
  const portal = await unwrap(
    mamori.POST("/v1/portal-sessions", { params: { header: { "x-mamori-session": token } } }),
  );
  return reply.redirect(portal.url, 303);
});

// sign-out: end the Mamori session too, not only the cookie
app.post("/signout", { preHandler: m.session({ optional: true }) }, async (req, reply) => {
  const { token } = mamoriOf(req);
  if (token) {
    await mamori.POST("/v1/session/sign-out", { params: { header: { "x-mamori-session": token } } });
    m.guard.forget(token);
  }
  void reply.header("set-cookie", "sid=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax");
  return { ok: true };
});

// §6 webhooks: the raw body (the signature covers its bytes), verified, each message id handled once
declare function endStoreSessions(accountId: string): Promise<void>;
declare function markOrderCancelled(orderId: string): Promise<void>;

const receiver = createWebhookReceiver({ secret: process.env.MAMORI_WEBHOOK_SECRET ?? "" });

async function handleWebhook(msg: MamoriWebhook): Promise<{ status: "applied" } | { status: "ok" }> {
  switch (msg.type) {
    case "security.lockdown.started": // frozen: end the store's own sessions (and its app's refresh tokens)
    case "security.sessions.ended":
    case "security.password.changed":
      if (msg.data.accountId) await endStoreSessions(msg.data.accountId);
      return { status: "ok" };
    case "order.cancelled": // a commerce action: apply it, then say so
      await markOrderCancelled(msg.data.objectId);
      return { status: "applied" };
    default:
      return { status: "ok" };
  }
}

await app.register(async (hooks) => {
  hooks.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => done(null, body));
  hooks.post("/mamori/webhooks", async (req, reply) => {
    const r = await receiver.receive(req.body as string, req.headers, handleWebhook);
    return reply.code(r.status).send(r.body);
  });
});

// §8 recovery after a lockdown, in the store's own pages (or link to Mamori's /links/ pages instead)
app.post("/recovery/start", async (req) => {
  const { identifier } = req.body as { identifier: string };
  return unwrap(mamori.POST("/v1/recovery/start", { body: { identifier, context: m.context(req) } }));
});
app.post("/recovery/finish", async (req) => {
  const { recoveryId, code, newPassword, claimed } = req.body as {
    recoveryId: string;
    code: string;
    newPassword: string;
    claimed: string[];
  };
  const context = m.context(req);
  const { recoveryToken } = await unwrap(mamori.POST("/v1/recovery/verify", { body: { recoveryId, code, context } }));
  await unwrap(mamori.POST("/v1/recovery/password", { body: { recoveryToken, newPassword, context } }));
  await unwrap(mamori.POST("/v1/recovery/devices", { body: { recoveryToken, claimed, context } }));
  return unwrap(mamori.POST("/v1/recovery/complete", { body: { recoveryToken, context } }));
});

export { app };
