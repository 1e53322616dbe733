/** Tables added by identity's own migrations (0009 on); the older identity tables are declared in db/schema.ts. */
type Ms = number;

/**
 * A sign-in challenge that can never complete: the password was wrong, the account does not exist, or the risk
 * engine refused a right password. Answered exactly like a live challenge (signin_challenges), so the answer to a
 * sign-in in a risky context tells nobody whether the password was right.
 */
export interface SigninDecoysTable {
  id: string;
  token_hash: string;
  /** null when no account has this identifier */
  account_id: string | null;
  identifier: string;
  /** wrong_password | unknown_account | denied | inactive */
  reason: string;
  /** JSON array of the factors the answer offered */
  factors: string;
  created_at: Ms;
  expires_at: Ms;
  completed_at: Ms | null;
  attempts: number;
}

/**
 * A sign-up waiting for its emailed code. An address that already has an account gets a row too (taken = 1, a code
 * nobody knows), so sign-up answers the same, and takes the same time, for known and unknown addresses.
 */
export interface PendingSignupsTable {
  id: string;
  email: string;
  password_hash: string;
  language: string;
  code_hash: string;
  taken: 0 | 1;
  attempts: number;
  created_at: Ms;
  expires_at: Ms;
  completed_at: Ms | null;
  account_id: string | null;
}

/**
 * Losing the authenticator without a recovery code: a request that removes the strong factor only after a waiting
 * period, told at once to every verified address with a one-click cancel.
 */
export interface FactorResetsTable {
  id: string;
  account_id: string;
  factor: string;
  requested_at: Ms;
  due_at: Ms;
  cancelled_at: Ms | null;
  cancelled_by: string | null;
  completed_at: Ms | null;
  /** JSON RequestContext of the request */
  context: string;
}

/** Bulk import: which external id became which account (idempotence and resume; 0021). */
export interface AccountImportsTable {
  external_id: string;
  account_id: string;
  imported_at: Ms;
}

export interface IdentityTables {
  account_imports: AccountImportsTable;
  signin_decoys: SigninDecoysTable;
  pending_signups: PendingSignupsTable;
  factor_resets: FactorResetsTable;
}

// The store's schema is every module's tables: this adds identity's to db/schema.ts's Database (db/ names no module).
declare module "../db/schema.ts" {
  interface Database extends IdentityTables {}
}
