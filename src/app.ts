import { randomBytes } from "node:crypto";
import { createRequire } from "node:module";
import type { FastifyBaseLogger } from "fastify";
import { createAdminService } from "./admin/service.ts";
import { buildHttp } from "./api/http.ts";
import type { Http } from "./api/types.ts";
import { createTestGateway, type PaymentGateway } from "./commerce/gateway.ts";
import { createCommerceResponder } from "./commerce/response.ts";
import { createCommerceService } from "./commerce/service.ts";
import type { Config } from "./config.ts";
import { createContextEnricher } from "./context/enricher.ts";
import { type DatabaseHandle, openDatabase } from "./db/database.ts";
import { createEventLog } from "./events/store.ts";
import { createActionTokens } from "./identity/action-tokens.ts";
import { createArgon2Hasher, type PasswordHasher } from "./identity/passwords.ts";
import { createIdentityService } from "./identity/service.ts";
import type { CounterStore } from "./limits/counters.ts";
import { RateLimiter } from "./limits/limiter.ts";
import { createMemoryCounterStore } from "./limits/memory.ts";
import { createRedisCounterStore } from "./limits/redis.ts";
import { createDispatcher } from "./notify/dispatcher.ts";
import { createNotifier } from "./notify/notifier.ts";
import { createOutboxStore } from "./notify/store.ts";
import { createTransportRouter, type Transport } from "./notify/transport.ts";
import { createRecovery } from "./response/recovery.ts";
import { createResponseService } from "./response/service.ts";
import { createSessionService } from "./sessions/service.ts";
import { type Clock, systemClock } from "./shared/clock.ts";
import type { ContextEnricher } from "./shared/context.ts";
import { deriveKey } from "./shared/crypto.ts";
import { createWebhookDispatcher } from "./webhooks/dispatcher.ts";
import { createWebhookService } from "./webhooks/service.ts";

export const VERSION: string = (createRequire(import.meta.url)("../package.json") as { version: string }).version;

export interface BuildOptions {
  clock?: Clock;
  hasher?: PasswordHasher;
  counters?: CounterStore;
  transport?: Transport;
  enricher?: ContextEnricher;
  logger?: FastifyBaseLogger;
  /** test seam: the crash-resume test kills the process at named lockdown points */
  crashPoint?: (name: string) => void;
  /** a payment gateway adapter; default: the test gateway over the same database */
  gateway?: PaymentGateway;
  /** an already-open store (tests share one per file) */
  database?: DatabaseHandle;
}

/**
 * The composition root: builds every module from config and hands each the narrow deps it needs.
 * Starts nothing: `start()` in server.ts listens and runs the dispatcher.
 */
export async function buildApp(config: Config, opts: BuildOptions = {}) {
  const clock = opts.clock ?? systemClock;
  const database = opts.database ?? openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  if (!opts.database) await database.migrate();
  const { db, dialect } = database;

  const secret = await instanceSecret(database, config.secret);
  const keys = {
    totp: deriveKey(secret, "totp-seal"),
    codes: deriveKey(secret, "one-time-codes"),
    links: deriveKey(secret, "action-links"),
    webhooks: deriveKey(secret, "webhook-secrets"),
  };

  const hasher = opts.hasher ?? createArgon2Hasher(config.argon2);
  const enricher = opts.enricher ?? createContextEnricher();
  const counters =
    opts.counters ?? (config.redisUrl ? createRedisCounterStore(config.redisUrl) : createMemoryCounterStore());
  const limiter = new RateLimiter(counters, clock);
  const events = createEventLog({ db, dialect, clock });

  // Signed webhooks to the store's backend: services emit in their own transactions, the dispatcher delivers.
  const webhooks = createWebhookService({ db, clock, key: keys.webhooks });
  const webhookDispatcher = createWebhookDispatcher({ db, clock, key: keys.webhooks, logger: opts.logger });

  const outbox = createOutboxStore(db, clock);
  const transport = opts.transport ?? createTransportRouter({ smtpUrl: config.smtpUrl, from: config.mailFrom });
  const dispatcher = createDispatcher({ outbox, transport, clock });
  const actionTokens = createActionTokens(keys.links);
  const notifier = createNotifier({
    outbox,
    actionTokens,
    clock,
    publicUrl: config.publicUrl,
    notMeTtlMs: config.notMeTtlMs,
    kick: () => {
      if (config.dispatcher) dispatcher.kick();
    },
  });

  const sessions = createSessionService({ db, hot: database.hot, clock, events, notifier, config });
  // Commerce record and the lockdown's commerce primitives; the test gateway keeps its state in this database.
  const gateway = opts.gateway ?? createTestGateway(db, clock);
  const commerce = createCommerceService({ db, clock, events, notifier, sessions, webhooks, gateway });
  const commerceResponder = createCommerceResponder({ db, clock, events, notifier, webhooks, gateway });
  const response = createResponseService({
    db,
    clock,
    events,
    notifier,
    commerce: commerceResponder,
    webhookStates: (ids) => webhooks.states(ids),
    crashPoint: opts.crashPoint,
  });
  const recovery = createRecovery({ db, clock, events, notifier, hasher, limiter, codeKey: keys.codes });
  const identity = createIdentityService({
    db,
    clock,
    config,
    events,
    notifier,
    sessions,
    hasher,
    enricher,
    limiter,
    actionTokens,
    keys,
    startLockdown: (i) => response.lockdownAccount(i),
  });
  const admin = createAdminService({ db, clock, hasher });

  const http: Http = await buildHttp(
    { identity, sessions, admin, events, response, recovery, webhooks, commerce },
    {
      logger: opts.logger ?? false,
      version: VERSION,
      health: async () => {
        await db.selectFrom("instance").select("key").limit(1).execute();
        return { store: dialect, ok: true };
      },
    },
  );

  return {
    config,
    clock,
    database,
    http,
    identity,
    sessions,
    admin,
    events,
    response,
    recovery,
    outbox,
    dispatcher,
    webhooks,
    webhookDispatcher,
    commerce,
    commerceResponder,
    gateway,
    limiter,
    async close() {
      await http.close();
      await dispatcher.stop();
      await webhookDispatcher.stop();
      await counters.close();
      if (!opts.database) await database.close();
    },
  };
}

export type App = Awaited<ReturnType<typeof buildApp>>;

/** MAMORI_SECRET if set; otherwise one generated on first start and kept in the store (shared by every node). */
async function instanceSecret(database: DatabaseHandle, configured: string | undefined): Promise<Buffer> {
  if (configured) {
    const b = /^[0-9a-f]+$/i.test(configured) ? Buffer.from(configured, "hex") : Buffer.from(configured, "base64");
    if (b.length < 32) throw new Error("MAMORI_SECRET must hold at least 32 bytes (64 hex characters)");
    return b;
  }
  const { db } = database;
  await db
    .insertInto("instance")
    .values({ key: "secret", value: randomBytes(32).toString("hex") })
    .onConflict((oc) => oc.column("key").doNothing())
    .execute();
  const row = await db.selectFrom("instance").select("value").where("key", "=", "secret").executeTakeFirstOrThrow();
  return Buffer.from(row.value, "hex");
}
