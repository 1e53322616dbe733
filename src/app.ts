import { createRequire } from "node:module";
import type { FastifyBaseLogger } from "fastify";
import { createStaffAudit } from "./admin/audit.ts";
import { createHttpAuth } from "./admin/http-auth.ts";
import { registerAdminRoutes } from "./admin/routes.ts";
import { createAdminService } from "./admin/service.ts";
import { adminTemplates } from "./admin/templates.ts";
import { buildHttp } from "./api/http.ts";
import type { Http } from "./api/types.ts";
import { createTestGateway, type PaymentGateway } from "./commerce/gateway.ts";
import { createCommerceReads } from "./commerce/reads.ts";
import { createCommerceResponder } from "./commerce/response.ts";
import { registerCommerceRoutes, registerHoldRoutes } from "./commerce/routes.ts";
import { createCommerceService } from "./commerce/service.ts";
import { commerceTemplates } from "./commerce/templates.ts";
import type { Config } from "./config.ts";
import { registerConsolePages } from "./console/pages.tsx";
import { createConsoleService } from "./console/service.ts";
import { createContextEnricher } from "./context/enricher.ts";
import type { DatabaseHandle, Db } from "./db/database.ts";
import { instanceSecret, storeAnswers } from "./db/instance.ts";
import { createEventLog } from "./events/store.ts";
import { accountControl } from "./identity/account-control.ts";
import { createActionTokens } from "./identity/action-tokens.ts";
import { createEmailCodeFactor } from "./identity/factors/email-code/factor.ts";
import { createPasskeyFactor } from "./identity/factors/passkey/factor.ts";
import { registerPasskeyRoutes } from "./identity/factors/passkey/routes.ts";
import { passkeyTemplates } from "./identity/factors/passkey/templates.ts";
import { createRecoveryCodesFactor } from "./identity/factors/recovery-codes/factor.ts";
import { createFactorRegistry } from "./identity/factors/registry.ts";
import { createTotpFactor } from "./identity/factors/totp/factor.ts";
import type { Factor } from "./identity/factors/types.ts";
import { createAccountImport } from "./identity/import.ts";
import { registerImportRoutes } from "./identity/import-routes.ts";
import { createNewPasswordRules } from "./identity/new-password.ts";
import { registerLinkPages } from "./identity/pages.tsx";
import { createPasswordPolicy } from "./identity/password-policy.ts";
import { createArgon2Hasher, type PasswordHasher } from "./identity/passwords.ts";
import { createPwnedRangeCheck } from "./identity/pwned-range.ts";
import { registerIdentityRoutes } from "./identity/routes.ts";
import { createStoredSecrets } from "./identity/secrets.ts";
import { createIdentityService, type IdentityService } from "./identity/service.ts";
import { identityTemplates } from "./identity/templates.ts";
import type { CounterStore } from "./limits/counters.ts";
import { PriorityGate } from "./limits/gate.ts";
import { RateLimiter } from "./limits/limiter.ts";
import { createMemoryCounterStore } from "./limits/memory.ts";
import { createRedisCounterStore } from "./limits/redis.ts";
import { createDispatcher } from "./notify/dispatcher.ts";
import { createNotifier } from "./notify/notifier.ts";
import { createOutboxStore } from "./notify/store.ts";
import { coreTemplates, createNoticeTemplates, type NoticeTemplates } from "./notify/templates.ts";
import { createTransportRouter, type Transport } from "./notify/transport.ts";
import { registerPortalPages } from "./portal/pages.tsx";
import { registerPasskeyPages } from "./portal/passkey-pages.tsx";
import { registerPortalRoutes } from "./portal/routes.ts";
import { createPortalService } from "./portal/service.ts";
import { registerRecoveryPages } from "./response/pages.tsx";
import { createRecovery } from "./response/recovery.ts";
import { registerResponseRoutes } from "./response/routes.ts";
import { createResponseService, type ExtraStep } from "./response/service.ts";
import { responseTemplates } from "./response/templates.ts";
import { createUnfinishedSecondFactorSweep } from "./risk/alerts.ts";
import { createWorkerDecisionLog } from "./risk/decision-log.ts";
import { DEFAULT_POLICY } from "./risk/default-policy.ts";
import { createFactIndex, pruneChangeFeed } from "./risk/fact-index.ts";
import { credentialEvents } from "./risk/features.ts";
import { feedFactTables } from "./risk/migration.ts";
import type { PolicySetSource } from "./risk/policy.ts";
import { registerRiskRoutes } from "./risk/routes.ts";
import { createRiskService } from "./risk/service.ts";
import { riskTemplates } from "./risk/templates.ts";
import type { VelocityStore } from "./risk/velocity.ts";
import { createMemoryVelocityStore } from "./risk/velocity-memory.ts";
import { createRedisVelocityStore } from "./risk/velocity-redis.ts";
import type { RouteDeps } from "./route-deps.ts";
import { registerSessionRoutes } from "./sessions/routes.ts";
import { createSessionService } from "./sessions/service.ts";
import { sessionStore } from "./sessions/store.ts";
import { type Clock, systemClock } from "./shared/clock.ts";
import type { ContextEnricher } from "./shared/context.ts";
import { deriveKey } from "./shared/crypto.ts";
import { openStore } from "./store.ts";
import { createCsrf } from "./web/csrf.ts";
import { createWebhookDispatcher } from "./webhooks/dispatcher.ts";
import { registerWebhookRoutes } from "./webhooks/routes.ts";
import { securityWebhookHook } from "./webhooks/security.ts";
import { createWebhookService } from "./webhooks/service.ts";
import { webhookDocs } from "./webhooks/spec.ts";

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
  /** steps added to the lockdown's plan (response/store.ts LOCKDOWN_PLAN holds the built-in ones) */
  lockdownSteps?: ExtraStep[];
  /**
   * factors registered after the built-in ones, built with the store and clock (the plug-in test's own factor:
   * identity/factors/plug-in.test.ts shows a new factor needs nothing but its own code and its registration)
   */
  extraFactors?: (d: { db: Db; clock: Clock }) => Factor[];
  /** a payment gateway adapter; default: the test gateway over the same database */
  gateway?: PaymentGateway;
  /** an already-open store (tests share one per file) */
  database?: DatabaseHandle;
  /** the risk policy set loaded as version 1 when the store has none (default: risk/default-policy.ts) */
  riskPolicy?: PolicySetSource;
  /** risk velocity counters; default Redis when MAMORI_REDIS_URL is set, else in process */
  velocity?: VelocityStore;
}

/**
 * Every module's notices in one registry, with the store's name, contact, time zone and its own texts. Throws (stopping
 * the start) when an override names an unknown template or placeholder, or leaves out the code or link.
 */
export function noticeTemplates(config: Pick<Config, "branding">): NoticeTemplates {
  const b = config.branding;
  return createNoticeTemplates({
    definitions: {
      ...coreTemplates,
      ...identityTemplates,
      ...passkeyTemplates,
      ...commerceTemplates,
      ...responseTemplates,
      ...riskTemplates,
      ...adminTemplates,
    },
    storeName: b.storeName,
    supportContact: b.supportContact,
    timeZone: b.timeZone,
    overrides: b.templates,
  });
}

/**
 * The composition root: builds every module from config and hands each the narrow deps it needs.
 * Wires only: it runs no SQL of its own and starts no timer. `start()` in server.ts listens and starts the dispatchers
 * and the risk alert sweep.
 */
export async function buildApp(config: Config, opts: BuildOptions = {}) {
  const clock = opts.clock ?? systemClock;
  const database = opts.database ?? openStore({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  if (!opts.database) await database.migrate();
  const { db, dialect } = database;

  const secret = await instanceSecret(db, config.secret);
  const keys = {
    totp: deriveKey(secret, "totp-seal"),
    codes: deriveKey(secret, "one-time-codes"),
    links: deriveKey(secret, "action-links"),
    webhooks: deriveKey(secret, "webhook-secrets"),
    stored: deriveKey(secret, "stored-secrets"),
    staffTotp: deriveKey(secret, "staff-totp-seal"),
    csrf: deriveKey(secret, "page-csrf"),
  };

  const hasher = opts.hasher ?? createArgon2Hasher(config.argon2);
  const enricher = opts.enricher ?? createContextEnricher();
  const counters =
    opts.counters ?? (config.redisUrl ? createRedisCounterStore(config.redisUrl) : createMemoryCounterStore());
  const limiter = new RateLimiter(counters, clock);
  // Security events also go to the store as signed webhooks, queued in the transaction that records them.
  const events = createEventLog({
    db,
    dialect,
    clock,
    onAppend: securityWebhookHook(
      () => webhooks,
      () => factorChangeEvents,
    ),
  });

  // Signed webhooks to the store's backend: services emit in their own transactions, the dispatcher delivers.
  const webhooks = createWebhookService({ db, clock, key: keys.webhooks });
  const webhookDispatcher = createWebhookDispatcher({ db, clock, key: keys.webhooks, logger: opts.logger });

  const outbox = createOutboxStore(db, clock, { templates: noticeTemplates(config) });
  const transport =
    opts.transport ?? createTransportRouter({ smtpUrl: config.smtpUrl, from: config.branding.mailFrom });
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

  // The plug-in factors (identity/factors/): adding one is its folder and one entry here.
  const passkey = createPasskeyFactor({
    db,
    clock,
    events,
    config: {
      rpId: config.passkeyRpId,
      rpName: config.branding.storeName,
      origins: config.passkeyOrigins,
      challengeTtlMs: 5 * 60_000,
    },
  });
  // Recovery codes and app passwords, keyed by the instance secret (identity/secrets.ts).
  const secrets = createStoredSecrets(keys.stored);
  const totp = createTotpFactor({ db, clock, key: keys.totp });
  const recoveryCodes = createRecoveryCodesFactor({ db, clock, secrets });
  const emailCode = createEmailCodeFactor({
    db,
    clock,
    notifier,
    limiter,
    key: keys.codes,
    codeTtlMs: config.codeTtlMs,
  });
  // Registration order is roll-back order (and the order the pages list them in).
  const factors = createFactorRegistry([
    totp,
    recoveryCodes,
    passkey,
    emailCode,
    ...(opts.extraFactors?.({ db, clock }) ?? []),
  ]);

  const factorChangeEvents: ReadonlySet<string> = new Set(Object.keys(factors.changeEvents));

  // Sessions ask identity how strong a second factor the account requires; identity is built below and uses sessions.
  let identity: IdentityService | undefined;
  const sessions = createSessionService({
    db,
    hot: database.hot,
    changeCounter: database.changeCounter,
    readSync: database.readSync,
    lastSeenFile:
      database.sideFiles?.last_seen && database.attachedDb
        ? { path: database.sideFiles.last_seen, reader: database.attachedDb }
        : undefined,
    onError: (e, what) => opts.logger?.warn({ err: e }, `sessions: ${what ?? "last-seen write failed (retried)"}`),
    clock,
    events,
    notifier,
    config,
    requiredSecondFactor: (accountId) => identity!.requiredSecondFactor(accountId),
    factorStrength: (kind) => (kind !== null && factors.get(kind)?.strength) || 0,
    accounts: accountControl,
  });
  // Commerce record and the lockdown's commerce primitives; the test gateway keeps its state in this database.
  const gateway = opts.gateway ?? createTestGateway(db, clock);
  const commerceResponder = createCommerceResponder({ db, clock, events, notifier, webhooks, gateway });
  const response = createResponseService({
    db,
    // The store's own recovery page when it has one; else Mamori's hosted recovery, in the lockdown mail.
    recoveryUrl: config.branding.recoveryUrl ?? `${config.publicUrl}/recover/`,
    clock,
    events,
    notifier,
    // Identity is the only writer of the account: the lockdown freezes and rolls back through its port.
    accounts: accountControl,
    commerce: commerceResponder,
    webhookStates: (ids) => webhooks.states(ids),
    crashPoint: opts.crashPoint,
    factors,
    node: config.nodeId,
    leaseMs: config.lockdownLeaseMs,
    ...(opts.lockdownSteps ? { extraSteps: opts.lockdownSteps } : {}),
  });
  // Risk engine: velocity counters shared by every node through Redis when there is one.
  const velocity =
    opts.velocity ??
    (config.redisUrl
      ? createRedisVelocityStore(config.redisUrl, { onError: (e) => opts.logger?.warn({ err: e }, "risk velocity") })
      : createMemoryVelocityStore());
  const riskError = (e: unknown, what: string) => opts.logger?.warn({ err: e }, `risk: ${what}`);
  // risk's decision log, a side file the embedded store opened through risk's hook (risk/migration.ts)
  const decisionLogFile = database.sideFiles?.decision_log;
  // The embedded store on a file keeps the accounts' risk facts in memory, kept exact by the store's change feed, which
  // the factors' tables feed too (their enrolments are facts).
  if (database.readSync && database.changeCounter) {
    await feedFactTables(
      db,
      factors.enrolledSql.flatMap((f) => f.tables),
    );
  }
  const factIndex =
    database.readSync && database.changeCounter
      ? createFactIndex(
          {
            readSync: database.readSync,
            changeCounter: database.changeCounter,
            prune: (keep) => pruneChangeFeed(db, keep),
            onError: riskError,
          },
          { credentialEvents: credentialEvents([...factorChangeEvents]), factors: factors.enrolledSql },
        )
      : undefined;
  const risk = createRiskService({
    db,
    hot: database.hot,
    ...(factIndex ? { factIndex } : {}),
    clock,
    events,
    notifier,
    enricher,
    velocity,
    initialPolicy: opts.riskPolicy ?? DEFAULT_POLICY,
    startLockdown: (i) => response.lockdownAccount({ ...i, wait: false }),
    onError: riskError,
    // The factors a policy may name, and an account's enrolled ones, are the registry's.
    factors: {
      strengths: Object.fromEntries(factors.kinds.map((k) => [k, factors.get(k)!.strength])),
      enrolled: (accountId) => factors.enrolledKinds(db, accountId),
      changeEvents: [...factorChangeEvents],
      enrolledSql: factors.enrolledSql,
    },
    ...(decisionLogFile ? { decisionLog: createWorkerDecisionLog(decisionLogFile, riskError) } : {}),
    ...(database.attachedDb ? { decisionsDb: database.attachedDb } : {}),
  });
  await risk.start();
  const staffAudit = createStaffAudit({ db, dialect, clock });
  const commerce = createCommerceService({
    db,
    clock,
    events,
    notifier,
    sessions,
    webhooks,
    gateway,
    // A support decision on a hold is a staff event, in the decision's own transaction.
    staffLog: async (t, e) => {
      await staffAudit.append(t, {
        type: e.type,
        staffId: e.staffId,
        username: e.username,
        data: e.data,
        actor: `staff:${e.staffId}`,
        ip: e.ip,
      });
    },
    decisions: (ids) => risk.getDecisions(ids),
    // Commerce events are judged in the context of the session that makes them (the device and place it signed in
    // from), which is the attacker's in a takeover.
    risk: {
      async assess({ type, session, data }) {
        const row = await sessionStore.requestContext(db, session.id);
        const d = await risk.assessEvent({
          type,
          accountId: session.account_id,
          ...(row
            ? {
                context: {
                  ip: row.ip,
                  userAgent: row.user_agent,
                  ...(row.device_id ? { deviceId: row.device_id } : {}),
                  channel: row.channel === "app_password" ? "app-password" : row.channel === "app" ? "app" : "web",
                },
              }
            : {}),
          session: {
            id: session.id,
            createdAt: session.auth_time,
            factor: session.factor,
            secondFactor: session.second_factor_at !== null,
          },
          data,
        });
        return { decision: d.decision, hold: d.hold, decisionId: d.decisionId, rules: d.reasons.map((r) => r.ruleId) };
      },
    },
  });
  // One password policy for sign-up, change, reset and recovery.
  const passwordPolicy = createPasswordPolicy({
    // The branding's name only when the store set one ("mamori" is a service word anyway); its domain is its URL's.
    storeName: config.branding.storeNamed ? config.branding.storeName : undefined,
    storeDomain: config.branding.storeUrl ? new URL(config.branding.storeUrl).hostname : undefined,
    serviceWords: config.passwordServiceWords,
    rangeCheck: config.pwnedRangeUrl
      ? createPwnedRangeCheck({
          url: config.pwnedRangeUrl,
          timeoutMs: config.pwnedRangeTimeoutMs,
          clock,
          onError: (e) => opts.logger?.warn({ err: e }, "pwned range check failed; password not checked online"),
        })
      : undefined,
  });
  // The policy with the account's addresses and password history: what sign-up, change, reset and recovery check.
  const newPasswords = createNewPasswordRules({ hasher, policy: passwordPolicy });
  // Seed 003's alert (a second factor left unfinished for 10 minutes); server.ts starts its sweep.
  const riskAlerts = createUnfinishedSecondFactorSweep({ db, clock, events, notifier, enricher });
  const hashGate = new PriorityGate({ slots: config.hashSlots });
  identity = createIdentityService({
    db,
    clock,
    config,
    events,
    notifier,
    sessions,
    hasher,
    passwords: newPasswords,
    enricher,
    limiter,
    actionTokens,
    keys,
    secrets,
    hashGate,
    startLockdown: (i) => response.lockdownAccount(i),
    loginRisk: risk,
    factors,
    passkey,
    totp,
    recoveryCodes,
    emailCode,
  });
  // Bulk import of a store's existing users; allowed countries go through risk/'s port.
  const accountImport = createAccountImport({
    db,
    clock,
    events,
    enricher,
    // A factor's import field (the authenticator's totpSecret) goes to that factor (Factor.importer).
    importers: factors.importers,
    setAllowedCountries: (t, rows, now) => risk.importAllowedCountries(t, rows, now),
  });
  const recovery = createRecovery({
    db,
    clock,
    events,
    notifier,
    accounts: accountControl,
    hasher,
    passwords: newPasswords,
    limiter,
    codeKey: keys.codes,
    passkey: {
      offer: (id, recoveryId) => identity.passkeys.startRecoveryRegistration(id, recoveryId),
      add: (id, recoveryId, input, ip) => identity.passkeys.finishRecoveryRegistration(id, recoveryId, input, ip),
      count: (id) => identity.passkeys.count(id),
    },
    totp: {
      enrolled: (id) => totp.enrolled(db, id),
      offer: (id) => identity.offerTotpForRecovery(id),
      confirm: (id, code, ip) => identity.confirmTotpForRecovery(id, code, ip),
    },
  });
  const admin = createAdminService({
    db,
    clock,
    hasher,
    limiter,
    passwordPolicy,
    audit: staffAudit,
    totpKey: keys.staffTotp,
    config,
    endUserSessions: (tx, input) => sessions.endAllBySupport(tx, input),
    // Staff passkeys belong to the console, which is on Mamori's own origin, whatever the owners' RP id is.
    passkey: {
      rpId: new URL(config.publicUrl).hostname,
      rpName: "Mamori staff",
      origins: [new URL(config.publicUrl).origin],
      challengeTtlMs: 5 * 60_000,
    },
  });
  // What the owner's security center and the support console read of commerce (neither queries its tables).
  const commerceReads = createCommerceReads(db);
  const portal = createPortalService({
    db,
    clock,
    config: { publicUrl: config.publicUrl, linkTtlMs: 5 * 60_000, pageTtlMs: 30 * 60_000 },
    sessions,
    identity,
    commerce: commerceReads,
    risk,
    cases: response,
    factors: {
      faces: (accountId) => factors.faces(db, accountId),
      stepUps: async (accountId) => (await factors.stepUps(db, accountId)).map((w) => w.stepUp),
    },
  });

  const findByOrderOrGiftCard = async (q: string) => {
    const hit = await commerceResponder.findByOrderOrGiftCard(q);
    if (!hit) return [];
    if (hit.kind === "order") {
      return [hit.accountId, hit.sellerAccountId]
        .filter((x): x is string => x !== null)
        .map((accountId) => ({ accountId, kind: "order", value: hit.objectId }));
    }
    const recipient = await commerceResponder.giftCardRecipientAccounts(hit.objectId);
    return [...new Set([hit.accountId, hit.redeemedIntoAccount, ...recipient])]
      .filter((x): x is string => x !== null)
      .map((accountId) => ({ accountId, kind: "gift_card", value: q.trim() }));
  };
  const supportConsole = createConsoleService({
    db,
    identity,
    events,
    response,
    audit: staffAudit,
    clock,
    commerce: commerceReads,
    findByOrderOrGiftCard,
    factorEventLabels: factors.eventLabels,
    factors: { faces: (accountId) => factors.faces(db, accountId) },
  });

  const routeDeps: RouteDeps = {
    identity,
    accountImport,
    sessions,
    admin,
    events,
    response,
    recovery,
    webhooks,
    commerce,
    risk,
    site: {
      storeName: config.branding.storeName,
      logoUrl: config.branding.logoUrl,
      storeUrl: config.branding.storeUrl,
      supportContact: config.branding.supportContact,
      recoveryUrl: config.branding.recoveryUrl,
      timeZone: config.branding.timeZone,
    },
    answerFloorMs: config.answerFloorMs,
    portal,
    csrf: createCsrf({ key: keys.csrf, publicUrl: config.publicUrl }),
    publicUrl: config.publicUrl,
    networkOf: (ip) => enricher.enrich({ ip, userAgent: "", channel: "web" }).asOrg ?? null,
    findByOrderOrGiftCard,
    console: supportConsole,
  };
  const http: Http = await buildHttp(
    {
      site: routeDeps.site,
      publicUrl: config.publicUrl,
      auth: createHttpAuth(admin),
      webhookDocs: webhookDocs(),
      // every module's routes and pages
      routes: (app) => {
        registerSessionRoutes(app, routeDeps);
        registerIdentityRoutes(app, routeDeps);
        registerPasskeyRoutes(app, routeDeps);
        registerImportRoutes(app, routeDeps);
        registerAdminRoutes(app, routeDeps);
        registerCommerceRoutes(app, routeDeps);
        registerHoldRoutes(app, routeDeps);
        registerResponseRoutes(app, routeDeps);
        registerWebhookRoutes(app, routeDeps);
        registerRiskRoutes(app, routeDeps);
        registerLinkPages(app, routeDeps);
        registerPortalRoutes(app, routeDeps);
        registerPortalPages(app, routeDeps);
        registerPasskeyPages(app, routeDeps);
        registerRecoveryPages(app, routeDeps);
        registerConsolePages(app, routeDeps);
      },
    },
    {
      logger: opts.logger ?? false,
      version: VERSION,
      health: async () => {
        await storeAnswers(db);
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
    /** every second factor, asked by kind or together (identity/factors/registry.ts) */
    factors,
    accountImport,
    sessions,
    admin,
    staffAudit,
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
    risk,
    riskAlerts,
    velocity,
    limiter,
    passwordPolicy,
    /** the password-hash admission gate (its stats: what ran and what was shed, per class) */
    hashGate,
    enricher,
    async close() {
      await http.close();
      await sessions.close();
      await dispatcher.stop();
      await webhookDispatcher.stop();
      await counters.close();
      await riskAlerts.stop();
      response.stopSweep();
      await risk.close();
      if (!opts.velocity) await velocity.close();
      if (!opts.database) await database.close();
    },
  };
}

export type App = Awaited<ReturnType<typeof buildApp>>;
