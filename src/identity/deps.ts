import type { Db } from "../db/database.ts";
import type { EventLog } from "../events/store.ts";
import type { PriorityGate } from "../limits/gate.ts";
import type { RateLimiter } from "../limits/limiter.ts";
import type { Notifier } from "../notify/notifier.ts";
import type { SessionService } from "../sessions/service.ts";
import type { Clock } from "../shared/clock.ts";
import type { ContextEnricher } from "../shared/context.ts";
import type { ActionTokens } from "./action-tokens.ts";
import type { EmailCodeFactor } from "./factors/email-code/factor.ts";
import type { PasskeyFactor } from "./factors/passkey/factor.ts";
import type { RecoveryCodesFactor } from "./factors/recovery-codes/factor.ts";
import type { FactorRegistry } from "./factors/registry.ts";
import type { TotpFactor } from "./factors/totp/factor.ts";
import type { NewPasswordRules } from "./new-password.ts";
import type { PasswordHasher } from "./passwords.ts";
import type { StoredSecrets } from "./secrets.ts";
import type { LoginRisk, SignInConfig } from "./signin.ts";

export interface IdentityConfig extends SignInConfig {
  resetTokenTtlMs: number;
  emailRevertTtlMs: number;
}

/** Everything the identity service is built from (app.ts); each concern's factory takes the slice it uses. */
export interface IdentityDeps {
  db: Db;
  clock: Clock;
  config: IdentityConfig;
  events: EventLog;
  notifier: Notifier;
  sessions: SessionService;
  hasher: PasswordHasher;
  /** the one password policy with the account's history (new-password.ts), shared with recovery */
  passwords: NewPasswordRules;
  enricher: ContextEnricher;
  limiter: RateLimiter;
  actionTokens: ActionTokens;
  keys: { codes: Buffer };
  /** recovery codes and app passwords, keyed by the instance secret (secrets.ts) */
  secrets: StoredSecrets;
  /** admission to password hashing: the account's known devices first (limits/gate.ts) */
  hashGate: PriorityGate;
  /** the response module's lockdown, started by "This wasn't me" */
  startLockdown(input: {
    accountId: string;
    reason: string;
    openedBy: string;
    reportedAt: number;
    ip: string | null;
  }): Promise<{ caseId: string }>;
  /** the risk engine's answer for a sign-in whose password matched (absent: every such sign-in is allowed) */
  loginRisk?: LoginRisk;
  /** every factor (identity/factors/registry.ts): what the account has enrolled and how strong */
  factors: FactorRegistry;
  /** the passkey factor (factors/passkey/), registered in app.ts's factor registry */
  passkey: PasskeyFactor;
  /** the authenticator app (factors/totp/), for its enrolment; registered in the factor registry */
  totp: TotpFactor;
  /** the recovery codes issued with it (factors/recovery-codes/) */
  recoveryCodes: RecoveryCodesFactor;
  /** the emailed sign-in and step-up code (factors/email-code/) */
  emailCode: EmailCodeFactor;
}
