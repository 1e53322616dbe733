// The README's quick-start snippet ("From a store's backend"), type-checked with the repository; not run.
import { createMamoriClient, unwrap } from "@mamori/client";
import { mamoriFastify, mamoriOf } from "@mamori/middleware/fastify";
import Fastify from "fastify";

const app = Fastify();

const mamori = createMamoriClient({ baseUrl: "http://127.0.0.1:7300", apiKey: process.env.MAMORI_API_KEY });
const m = mamoriFastify({ mamori, trustedProxies: ["10.0.0.0/8"], session: { cookie: "sid" }, deviceCookie: "did" });
app.setErrorHandler(m.errorHandler()); // 423 account_frozen, 429 + Retry-After, … as answers

app.post("/signin", async (req) => {
  const { email, password } = req.body as { email: string; password: string };
  return unwrap(mamori.POST("/v1/sign-in", { body: { email, password, context: m.context(req) } }));
});
app.post("/checkout", { preHandler: m.session({ kind: "money" }) }, async (req) => {
  const { session } = mamoriOf(req); // introspected on this request: a money route never uses a cache
  return { accountId: session?.accountId };
});

export { app };
