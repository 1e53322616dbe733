// docs/integration.md §4 and §6 with Express and with Hono: the same options, the same answers. Type-checked with the
// repository; not run.
import { createMamoriClient, unwrap } from "@mamori/client";
import { mamoriExpress, mamoriOf as fromExpress } from "@mamori/middleware/express";
import { mamoriHono, mamoriOf as fromHono } from "@mamori/middleware/hono";
import { createWebhookReceiver } from "@mamori/middleware/webhooks";
import express from "express";
import { Hono } from "hono";

const mamori = createMamoriClient({ baseUrl: "http://127.0.0.1:7300", apiKey: process.env.MAMORI_API_KEY ?? "" });
const options = { mamori, trustedProxies: ["10.0.0.0/8"], session: { cookie: "sid" }, deviceCookie: "did" };
const receiver = createWebhookReceiver({ secret: process.env.MAMORI_WEBHOOK_SECRET ?? "" });

// Express
const ex = mamoriExpress(options);
const shop = express();
shop.get("/account", ex.session(), (req, res, next) => {
  const { token = "" } = fromExpress(req);
  unwrap(mamori.GET("/v1/account", { params: { header: { "x-mamori-session": token } } })).then(
    (a) => res.json(a),
    next,
  );
});
shop.post("/checkout", ex.session({ kind: "money" }), (req, res) => {
  res.json({ accountId: fromExpress(req).session?.accountId });
});
// the raw body for the signature: express.raw on this route only
shop.post("/mamori/webhooks", express.raw({ type: "application/json" }), (req, res, next) => {
  receiver.receive(req.body as Buffer, req.headers, async (msg) => ({ status: "ok", type: msg.type })).then(
    (r) => res.status(r.status).json(r.body),
    next,
  );
});
shop.use(ex.errors());

// Hono (on @hono/node-server the peer address is read from c.env.incoming; other runtimes pass `peer`)
const ho = mamoriHono(options);
const api = new Hono();
api.onError((err, c) => ho.errorResponse(err) ?? c.json({ message: "error" }, 500));
api.post("/checkout", ho.session({ kind: "money" }), (c) => c.json({ accountId: fromHono(c).session?.accountId }));
api.post("/mamori/webhooks", async (c) => {
  const r = await receiver.receive(await c.req.text(), c.req.raw.headers, (msg) => ({ status: "ok", type: msg.type }));
  return c.json(r.body, r.status as 200 | 400);
});

export { api, shop };
