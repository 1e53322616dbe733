// `npm run demo`: Mamori and まもり商店 side by side, the way a store runs beside Mamori — Mamori its own process
// (`mamori start`), the shop a separate backend that only speaks Mamori's HTTP API with a store key. Setting up is
// what a store's team does once (docs/integration.md §1 and §6): a store key (`mamori keys create`), the webhook
// endpoint (createWebhookEndpoint) and the catalogue's market prices (upsertProduct). Their secrets are kept in the
// data directory (demo-store.json, mode 0600), so a second start reuses them.
//
//   MAMORI_PORT (7300), DEMO_STORE_PORT (7301), MAMORI_DATA_DIR (./mamori-data); other MAMORI_* pass to Mamori.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createMamoriClient, unwrap } from "@mamori/client";
import { PRODUCTS } from "./catalogue.ts";
import { SHOP_NAME } from "./pages.tsx";
import { createShop } from "./shop.tsx";

const root = path.resolve(import.meta.dirname, "../..");
const mamoriPort = process.env.MAMORI_PORT ?? "7300";
const shopPort = Number(process.env.DEMO_STORE_PORT ?? "7301");
const host = process.env.DEMO_STORE_HOST ?? "127.0.0.1";
const dataDir = path.resolve(process.env.MAMORI_DATA_DIR ?? "mamori-data");
const shopUrl = `http://localhost:${shopPort}`;
const mamoriUrl = `http://127.0.0.1:${mamoriPort}`;
const secretsFile = path.join(dataDir, "demo-store.json");

const env: NodeJS.ProcessEnv = {
  // the shop's name on every mail and page Mamori sends, its home linked from them; the caller's settings win
  MAMORI_STORE_NAME: SHOP_NAME,
  MAMORI_STORE_URL: `${shopUrl}/`,
  MAMORI_SUPPORT_CONTACT: "support@mamori-shoten.example",
  ...process.env,
  MAMORI_PORT: mamoriPort,
  MAMORI_DATA_DIR: dataDir,
};
const mamoriBin = path.join(root, "bin", "mamori.js");
const say = (s: string) => process.stdout.write(`[demo] ${s}\n`);

/** The store key `mamori start` printed on a first start (README quick start), if this start was the first. */
let firstStartKey: string | undefined;

/** `mamori start` as its own process; resolves once it listens. Its output (first-start credentials) is shown. */
function startMamori(): Promise<ChildProcess> {
  const child = spawn(process.execPath, [mamoriBin, "start"], { env, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout?.on("data", (b: Buffer) => {
      process.stdout.write(b);
      if (seen !== "up") {
        seen += b.toString("utf8");
        firstStartKey ??= /store API key:\s+(mk_\S+)/.exec(seen)?.[1];
        if (seen.includes("Mamori listening on")) {
          seen = "up";
          resolve(child);
        }
      }
    });
    child.once("exit", (code) => reject(new Error(`mamori start exited (${code}) before listening`)));
  });
}

interface Secrets {
  apiKey: string;
  webhookSecret?: string;
  endpointId?: string;
}

function readSecrets(): Secrets | undefined {
  if (!existsSync(secretsFile)) return undefined;
  try {
    return JSON.parse(readFileSync(secretsFile, "utf8")) as Secrets;
  } catch {
    return undefined;
  }
}

/** A store key, as `npx mamori keys create demo-store` makes one (printed once: kept in demo-store.json). */
function createKey(): string {
  const r = spawnSync(process.execPath, [mamoriBin, "keys", "create", "demo-store"], { env, encoding: "utf8" });
  const key = /key: (mk_\S+)/.exec(r.stdout ?? "")?.[1];
  if (r.status !== 0 || !key) throw new Error(`mamori keys create failed: ${r.stderr || r.stdout}`);
  return key;
}

async function setUp(): Promise<Required<Secrets>> {
  let s = readSecrets();
  let mamori = s && createMamoriClient({ baseUrl: mamoriUrl, apiKey: s.apiKey });
  // a key from another data directory, or revoked: make a new one
  if (!s || !mamori || !(await mamori.GET("/v1/webhooks/endpoints")).response.ok) {
    // a fresh data directory: the key Mamori's first start printed; else one more, as `mamori keys create` makes it
    s = { apiKey: firstStartKey ?? createKey() };
    mamori = createMamoriClient({ baseUrl: mamoriUrl, apiKey: s.apiKey });
    say(
      firstStartKey
        ? "the shop uses the store API key printed above"
        : "made a store API key for the shop (mamori keys create demo-store)",
    );
  }
  const known: Secrets = s;
  const hookUrl = `http://127.0.0.1:${shopPort}/mamori/webhooks`;
  const { endpoints } = await unwrap(mamori.GET("/v1/webhooks/endpoints"));
  const live = endpoints.find((e) => e.id === known.endpointId && e.url === hookUrl && !e.disabledAt);
  if (!live || !s.webhookSecret) {
    // an earlier demo's endpoint on another port would keep failing: stop it
    for (const e of endpoints) {
      if (e.description === "demo store" && !e.disabledAt) {
        await unwrap(mamori.DELETE("/v1/webhooks/endpoints/{id}", { params: { path: { id: e.id } } }));
      }
    }
    const ep = await unwrap(
      mamori.POST("/v1/webhooks/endpoints", { body: { url: hookUrl, description: "demo store" } }),
    );
    s = { ...s, webhookSecret: ep.secret, endpointId: ep.id };
    say(`registered the webhook endpoint ${hookUrl}`);
  }
  writeFileSync(secretsFile, JSON.stringify(s, null, 2), { mode: 0o600 });
  for (const p of PRODUCTS) {
    if (p.category !== "physical") continue;
    await unwrap(
      mamori.POST("/v1/commerce/products", {
        body: { id: p.id, title: p.title, marketPrice: p.price, currency: "JPY" },
      }),
    );
  }
  return s as Required<Secrets>;
}

const mamoriProcess = await startMamori();
let closing = false;
mamoriProcess.once("exit", (code) => {
  if (!closing) {
    say(`Mamori stopped (${code}); stopping the shop`);
    process.exit(code ?? 1);
  }
});
try {
  const secrets = await setUp();
  const shop = await createShop({
    mamoriUrl,
    mamoriPublicUrl: env.MAMORI_PUBLIC_URL ?? `http://localhost:${mamoriPort}`,
    apiKey: secrets.apiKey,
    webhookSecret: secrets.webhookSecret,
    stateFile: path.join(dataDir, "demo-store-shop.json"),
  });
  await shop.listen({ host, port: shopPort });
  process.stdout.write(
    [
      "",
      `${SHOP_NAME} (the demo store) listening on ${shopUrl}  — beside Mamori on http://localhost:${mamoriPort}`,
      `  open ${shopUrl} , sign up, buy something, then 「セキュリティ」. Codes are mailed to the local mailbox:`,
      "  npx mamori mail --to <your address> --limit 1",
      "",
    ].join("\n"),
  );
  const stop = async () => {
    closing = true;
    await shop.close();
    mamoriProcess.once("exit", () => process.exit(0));
    mamoriProcess.kill("SIGTERM");
  };
  process.once("SIGINT", () => void stop());
  process.once("SIGTERM", () => void stop());
} catch (e) {
  process.stderr.write(`[demo] ${(e as Error).message}\n`);
  closing = true;
  mamoriProcess.kill("SIGTERM");
  process.exitCode = 1;
}
