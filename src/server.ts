import pino from "pino";
import { STAFF_SETUP_STEPS } from "./admin/setup-steps.ts";
import { type App, buildApp } from "./app.ts";
import type { Config } from "./config.ts";
import { preload as preloadGeo } from "./context/geo.ts";

/**
 * Builds the app, prints first-start credentials, listens, and starts the timers (the dispatchers and the risk alert
 * sweep) and the sessions' warm-up.
 */
export async function start(config: Config): Promise<App> {
  const logger = pino({ level: config.logLevel });
  const app = await buildApp(config, { logger });
  if (config.argon2.memoryCost < 19456) {
    logger.warn(
      { argon2: config.argon2 },
      "password hashing is below OWASP's argon2id minimum (MAMORI_FAST_HASH is for tests only)",
    );
  }
  if (!config.branding.storeNamed) {
    logger.warn(
      'MAMORI_STORE_NAME is not set: mails and pages are signed "Mamori"; set the store\'s name (and MAMORI_MAIL_FROM) so notices do not read like phishing',
    );
  }
  const boot = await app.admin.bootstrap();
  if (boot) {
    // Shown once: only hashes are stored.
    process.stdout.write(
      [
        "",
        "Mamori first start — save these now, they are not shown again:",
        `  store API key:  ${boot.apiKey}`,
        `  admin login:    ${boot.admin.username} / ${boot.admin.password}  (a setup password)`,
        "",
        STAFF_SETUP_STEPS,
        "",
      ].join("\n"),
    );
  }
  const rewrapped = await app.identity.upgradeStoredSecrets();
  if (rewrapped)
    logger.info({ rows: rewrapped }, "recovery-code and app-password hashes rewrapped with the instance key");
  // A lockdown a crash interrupted finishes before the node serves anyone.
  const resumed = await app.response.resumeAll();
  if (resumed.length) logger.info({ cases: resumed }, "resumed interrupted lockdowns");
  // And those another node started and could not finish (it died): taken when its claim lapses.
  app.response.startSweep(Math.max(500, Math.floor(config.lockdownLeaseMs / 3)), (e) =>
    logger.warn({ err: e }, "lockdown sweep"),
  );
  if (config.dispatcher) {
    app.dispatcher.start(1000);
    app.webhookDispatcher.start(1000);
    // Seed 003's alert: a second factor left unfinished for 10 minutes (unref'd timer).
    app.riskAlerts.start(30_000, (e) => logger.warn({ err: e }, "risk alerts"));
  }
  // The GeoIP and ASN tables load on first use (~0.5 s): load them now, so the first decision served is not the one
  // that waits.
  const geo = preloadGeo();
  logger.info({ countryMs: Math.round(geo.countryMs), asnMs: Math.round(geo.asn.ms) }, "geo data loaded");
  await app.http.listen({ host: config.host, port: config.port });
  process.stdout.write(
    `Mamori ${app.http.server.address() && `listening on http://${config.host}:${config.port}`} (store: ${app.database.dialect}${
      app.database.dialect === "sqlite" ? ` in ${config.dataDir}` : ""
    }, mail: ${config.smtpUrl ? "SMTP" : "local mailbox — read it with `npx mamori mail`"})\n`,
  );
  // The embedded store's live sessions into memory, a page per turn of the event loop while requests are served
  // (until then a check reads its row, as before): a million take seconds, not worth holding the port closed for.
  app.sessions.warm().then(
    (w) => w && logger.info({ sessions: w.rows, ms: Math.round(w.ms) }, "session rows loaded"),
    (e: unknown) => logger.warn({ err: e }, "session rows not loaded (checks read the store)"),
  );
  return app;
}
