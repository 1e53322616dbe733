import { staffMigration, staffPasskeyMigration } from "./admin/migration.ts";
import { commerceHoldsMigration, commerceMigration } from "./commerce/migration.ts";
import { consoleMigration } from "./console/migration.ts";
import { type DatabaseHandle, openDatabase, type StoreConfig, type StoreModules } from "./db/database.ts";
import { passkeyMigration } from "./identity/factors/passkey/migration.ts";
import { identityImportMigration, identitySigninMigration } from "./identity/migration.ts";
import { portalMigration } from "./portal/migration.ts";
import { caseLeaseMigration, responseMigration } from "./response/migration.ts";
import {
  decisionLogFileMigration,
  decisionLogSideFile,
  riskChangeFeedMigration,
  riskCoveringMigration,
  riskMigration,
} from "./risk/migration.ts";
import { lastSeenSideFile } from "./sessions/last-seen.ts";
import { sessionChangeFeedMigration } from "./sessions/migration.ts";
import { webhooksMigration } from "./webhooks/migration.ts";

/**
 * The store's modules, filled here by the composition side so db/ names none: each module's migrations (db/ keeps only
 * 0001_core) and its side files. Numbers are reserved per module; unordered migrations are allowed.
 * Never edit a released migration; add a new one.
 */
export const storeModules: StoreModules = {
  migrations: {
    "0002_commerce": commerceMigration,
    "0003_webhooks": webhooksMigration,
    "0004_response": responseMigration,
    "0005_risk": riskMigration,
    "0006_risk_covering_indexes": riskCoveringMigration,
    "0007_decision_log_file": decisionLogFileMigration,
    "0008_risk_change_feed": riskChangeFeedMigration,
    "0009_identity_signin": identitySigninMigration,
    "0014_staff": staffMigration,
    "0017_portal": portalMigration,
    "0018_console": consoleMigration,
    "0021_identity_import": identityImportMigration,
    "0024_commerce_holds": commerceHoldsMigration,
    "0030_identity_passkeys": passkeyMigration,
    "0031_case_lease": caseLeaseMigration,
    "0032_staff_passkeys": staffPasskeyMigration,
    "0033_session_change_feed": sessionChangeFeedMigration,
  },
  sideFiles: [decisionLogSideFile, lastSeenSideFile],
};

/** Opens the store with every module's tables (what app.ts, the CLIs and the tests open). */
export function openStore(config: StoreConfig): DatabaseHandle {
  return openDatabase(config, storeModules);
}
