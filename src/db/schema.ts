/**
 * Portable column conventions (same on SQLite and PostgreSQL):
 * - timestamps are integer milliseconds since the epoch (`bigint` in PostgreSQL, parsed back to number);
 * - booleans are integers 0/1;
 * - JSON is text, parsed by the module that owns it.
 */
type Ms = number;
type Bool = 0 | 1;

/**
 * active; locked (only a password reset through a recovery contact unlocks it); frozen (a lockdown: nothing signs in
 * until recovery).
 */
export type AccountStatus = "active" | "locked" | "frozen";

export interface AccountsTable {
  id: string;
  status: AccountStatus;
  language: string;
  credential_epoch: number;
  password_hash: string | null;
  password_changed_at: Ms | null;
  password_reset_required: Bool;
  totp_secret_enc: string | null;
  totp_pending_secret_enc: string | null;
  totp_enrolled_at: Ms | null;
  /** highest TOTP time step accepted; a code for this step or an earlier one is a replay */
  totp_last_step: number | null;
  created_at: Ms;
  updated_at: Ms;
}

export interface ContactPointsTable {
  id: string;
  account_id: string;
  /** email | phone */
  kind: string;
  /** normalized: lower-case email, E.164 phone */
  value: string;
  verified: Bool;
  verified_at: Ms | null;
  is_primary: Bool;
  added_at: Ms;
  added_by: string | null;
  removed_at: Ms | null;
  removed_by: string | null;
  /** a removed address still counts as a recovery contact until then (email change: 30 days) */
  recovery_until: Ms | null;
}

export interface PasswordHistoryTable {
  id: string;
  account_id: string;
  hash: string;
  created_at: Ms;
}

export interface RecoveryCodesTable {
  id: string;
  account_id: string;
  code_hash: string;
  created_at: Ms;
  used_at: Ms | null;
  /** 1: SHA-256 of the code; 2: HMAC (instance secret) of that SHA-256 — see identity/secrets.ts */
  hash_version: number;
}

export interface OneTimeCodesTable {
  id: string;
  account_id: string;
  /** email_verify | phone_verify | email_change | signin */
  purpose: string;
  target: string | null;
  /** sign-in challenge id for purpose signin */
  challenge_id: string | null;
  code_hash: string;
  attempts: number;
  created_at: Ms;
  expires_at: Ms;
  used_at: Ms | null;
}

export interface ResetTokensTable {
  token_hash: string;
  account_id: string;
  epoch: number;
  sent_to: string;
  created_at: Ms;
  expires_at: Ms;
  used_at: Ms | null;
}

export interface SessionsTable {
  id: string;
  token_hash: string;
  account_id: string;
  /** web | app | app_password */
  channel: string;
  app_password_id: string | null;
  epoch: number;
  created_at: Ms;
  auth_time: Ms;
  second_factor_at: Ms | null;
  /** password | password+totp | password+recovery_code | password+email_code | app_password */
  factor: string;
  /** the kind of the latest second factor (totp, recovery_code, email_code), null when none */
  second_factor_kind: string | null;
  last_seen_at: Ms;
  expires_at: Ms;
  revoked_at: Ms | null;
  revoked_reason: string | null;
  ip: string;
  country: string | null;
  asn: number | null;
  as_org: string | null;
  user_agent: string;
  browser: string | null;
  os: string | null;
  device_type: string | null;
  device_id: string | null;
}

export interface AppPasswordsTable {
  id: string;
  account_id: string;
  name: string;
  secret_hash: string;
  epoch: number;
  created_at: Ms;
  created_by_session: string | null;
  last_used_at: Ms | null;
  last_used_ip: string | null;
  last_used_country: string | null;
  revoked_at: Ms | null;
  revoked_reason: string | null;
  /** 1: SHA-256 of the secret; 2: HMAC (instance secret) of that SHA-256 — see identity/secrets.ts */
  hash_version: number;
}

export interface SigninChallengesTable {
  id: string;
  token_hash: string;
  account_id: string;
  /** JSON RequestContext of the sign-in that was challenged */
  context: string;
  created_at: Ms;
  expires_at: Ms;
  completed_at: Ms | null;
  attempts: number;
}

export interface LoginAttemptsTable {
  id: string;
  account_id: string | null;
  identifier: string;
  /** succeeded | failed | challenged | denied */
  outcome: string;
  reason: string | null;
  channel: string;
  ip: string;
  country: string | null;
  asn: number | null;
  user_agent: string;
  browser: string | null;
  os: string | null;
  device_type: string | null;
  device_id: string | null;
  session_id: string | null;
  at: Ms;
}

export interface EventsTable {
  id: string;
  account_id: string;
  seq: number;
  type: string;
  /** JSON */
  data: string;
  /** session:<id> | admin:<id> | system | token:<purpose> */
  actor: string;
  ip: string | null;
  at: Ms;
  prev_hash: string;
  hash: string;
}

export interface NotificationsTable {
  id: string;
  account_id: string | null;
  event_id: string | null;
  /** email | sms */
  channel: string;
  recipient: string;
  template: string;
  language: string;
  subject: string;
  body: string;
  /** queued | sending | sent | abandoned */
  status: string;
  attempts: number;
  next_attempt_at: Ms;
  locked_until: Ms | null;
  last_error: string | null;
  created_at: Ms;
  sent_at: Ms | null;
}

export interface ActionTokensTable {
  id: string;
  token_hash: string;
  account_id: string;
  /** not_me | email_revert */
  purpose: string;
  /** JSON */
  data: string;
  created_at: Ms;
  expires_at: Ms;
  used_at: Ms | null;
}

export interface ApiKeysTable {
  id: string;
  name: string;
  key_hash: string;
  created_at: Ms;
  last_used_at: Ms | null;
  revoked_at: Ms | null;
}

export interface AdminUsersTable {
  id: string;
  username: string;
  password_hash: string;
  created_at: Ms;
  disabled_at: Ms | null;
  /** 1: the password was set by an operator (create, reset) and must be changed at the next sign-in (0014) */
  password_change_required: Bool;
  password_changed_at: Ms | null;
  /** sealed with the staff-totp-seal key; null until enrolled (0014) */
  totp_secret_enc: string | null;
  totp_pending_secret_enc: string | null;
  totp_enrolled_at: Ms | null;
  /** highest TOTP step accepted; a code for it or an earlier one is a replay */
  totp_last_step: number | null;
  /** agent | lead (0018): an agent views, notes and locks down; a lead also changes policies, staff and keys */
  role: string;
}

export interface AdminSessionsTable {
  id: string;
  token_hash: string;
  admin_id: string;
  created_at: Ms;
  /** absolute end (MAMORI_STAFF_SESSION_TTL_HOURS) */
  expires_at: Ms;
  revoked_at: Ms | null;
  /** last request; past MAMORI_STAFF_SESSION_IDLE_MINUTES of silence the session is over (0014) */
  last_seen_at: Ms;
  revoked_reason: string | null;
  /** when a second factor was checked for this session (sign-in or enrolment); null: password only (0014) */
  second_factor_at: Ms | null;
  ip: string | null;
}

export interface InstanceTable {
  key: string;
  value: string;
}

/**
 * The store's schema. The tables above are db/'s own (from before modules kept theirs); every module adds its tables
 * from its tables.ts by module augmentation (`declare module "../db/schema.ts"`), so db/ imports no module.
 */
export interface Database {
  accounts: AccountsTable;
  contact_points: ContactPointsTable;
  password_history: PasswordHistoryTable;
  recovery_codes: RecoveryCodesTable;
  one_time_codes: OneTimeCodesTable;
  reset_tokens: ResetTokensTable;
  sessions: SessionsTable;
  app_passwords: AppPasswordsTable;
  signin_challenges: SigninChallengesTable;
  login_attempts: LoginAttemptsTable;
  events: EventsTable;
  notifications: NotificationsTable;
  action_tokens: ActionTokensTable;
  api_keys: ApiKeysTable;
  admin_users: AdminUsersTable;
  admin_sessions: AdminSessionsTable;
  instance: InstanceTable;
}
