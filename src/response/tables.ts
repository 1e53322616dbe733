/** Tables of the response module (conventions in db/schema.ts: ms timestamps, 0/1 booleans, JSON as text). */
type Ms = number;

export interface CasesTable {
  id: string;
  account_id: string;
  /** open | locking | locked_down | recovering | recovered | closed */
  status: string;
  reason: string;
  /** admin:<id> | token:not_me | policy:<rule> | system */
  opened_by: string;
  /** start of the compromise window (ms); null until fixed */
  since: Ms | null;
  /** support | computed */
  since_source: string | null;
  /** JSON: how the window was computed (first unfamiliar session, last known-good activity) */
  window_basis: string | null;
  created_at: Ms;
  updated_at: Ms;
  locked_down_at: Ms | null;
  recovered_at: Ms | null;
  /** the node running the lockdown (config nodeId) while status is locking; null when none holds it */
  runner: string | null;
  /** until when that node's claim holds without renewal (ms); another node may take a locking case after it */
  runner_until: Ms | null;
}

/** One row per lockdown step: written before the step runs, marked done in the step's last transaction. */
export interface CaseStepsTable {
  case_id: string;
  step: string;
  /** pending | done */
  status: string;
  attempts: number;
  started_at: Ms | null;
  done_at: Ms | null;
  /** JSON summary of what the step did */
  result: string | null;
}

/**
 * What the response did to one object, for the verification report. Written in the same transaction as the change
 * it describes; (case_id, object_type, object_id, action) is unique, so a resumed step cannot record (or do) it twice.
 */
export interface CaseActionsTable {
  id: string;
  case_id: string;
  step: string;
  object_type: string;
  object_id: string;
  action: string;
  /** JSON snapshot before the action (null: did not exist) */
  before: string | null;
  /** JSON snapshot after the action (null: gone) */
  after: string | null;
  /** the webhook message telling the store, when there is one */
  webhook_id: string | null;
  note: string | null;
  at: Ms;
}

export interface CaseSessionsTable {
  case_id: string;
  session_id: string;
  /** attacker | owner (claimed by the owner) */
  role: string;
  at: Ms;
}

export interface CaseNotesTable {
  id: string;
  case_id: string;
  author: string;
  body: string;
  at: Ms;
}

/** The owner's way back after a lockdown: proof of a pre-window contact, new password, device review, unfreeze. */
export interface RecoveriesTable {
  id: string;
  case_id: string;
  account_id: string;
  /** the pre-window contact point the proof went to */
  contact_kind: string;
  contact_value: string;
  code_hash: string;
  attempts: number;
  created_at: Ms;
  expires_at: Ms;
  verified_at: Ms | null;
  /** bearer token for the later steps, issued when the code is verified */
  token_hash: string | null;
  password_set_at: Ms | null;
  devices_reviewed_at: Ms | null;
  completed_at: Ms | null;
}

/** Each TOTP state an account had, kept so a roll-back can restore the owner's authenticator after an attacker's change. */
export interface TotpHistoryTable {
  id: string;
  account_id: string;
  /** the sealed secret in force until replaced_at (null: none enrolled) */
  secret_enc: string | null;
  enrolled_at: Ms | null;
  replaced_at: Ms;
  replaced_by: string;
}

export interface ResponseTables {
  recoveries: RecoveriesTable;
  totp_history: TotpHistoryTable;
  cases: CasesTable;
  case_steps: CaseStepsTable;
  case_actions: CaseActionsTable;
  case_sessions: CaseSessionsTable;
  case_notes: CaseNotesTable;
}

// The store's schema is every module's tables: this adds response's to db/schema.ts's Database (db/ names no module).
declare module "../db/schema.ts" {
  interface Database extends ResponseTables {}
}
