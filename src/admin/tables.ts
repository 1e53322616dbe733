/** Tables added by the admin module's own migration (0014); admin_users and admin_sessions are in db/schema.ts. */
type Ms = number;

/**
 * The staff audit log: every staff sign-in, failure, throttled attempt, password change, TOTP enrolment and support
 * operation, in one append-only hash chain (seq 1, 2, …; each hash covers the previous one). `mamori audit verify`
 * checks it with the accounts' chains.
 */
export interface StaffEventsTable {
  id: string;
  seq: number;
  type: string;
  /** the staff member, when the username named one */
  staff_id: string | null;
  /** as typed at sign-in (cut to 100 characters), or the staff member's name */
  username: string | null;
  /** JSON */
  data: string;
  /** staff:<id> | cli | system | anonymous */
  actor: string;
  ip: string | null;
  at: Ms;
  prev_hash: string;
  hash: string;
}

/** The second step of a staff sign-in: the password was right, a TOTP code is still owed. */
export interface StaffChallengesTable {
  id: string;
  token_hash: string;
  admin_id: string;
  ip: string | null;
  created_at: Ms;
  expires_at: Ms;
  completed_at: Ms | null;
  attempts: number;
}

/**
 * A staff member's passkey for the console (migration 0032). Apart from the owners' passkeys table: staff are not
 * accounts (no account id, no account events, no roll-back), and their relying party is Mamori's own host, not the
 * store's domain. Removal keeps the row (removed_at) for the audit trail.
 */
export interface StaffPasskeysTable {
  id: string;
  admin_id: string;
  /** base64url credential id, unique */
  credential_id: string;
  /** base64url COSE public key */
  public_key: string;
  /** the authenticator's signature counter as last seen; only moves forward (advanceStaffPasskeyCount) */
  sign_count: number;
  /** JSON array of transports the browser reported */
  transports: string;
  /** base64url WebAuthn user handle (random per staff member, never their id) */
  user_handle: string;
  name: string;
  created_at: Ms;
  /** the staff session that added it */
  created_by: string;
  last_used_at: Ms | null;
  removed_at: Ms | null;
  removed_by: string | null;
}

/** A WebAuthn challenge for staff, spent once: register (bound to the staff member and session) or signin (to none). */
export interface StaffPasskeyChallengesTable {
  id: string;
  /** base64url, as the browser echoes it in clientDataJSON */
  challenge: string;
  purpose: string;
  admin_id: string | null;
  bound_to: string | null;
  user_handle: string | null;
  created_at: Ms;
  expires_at: Ms;
  used_at: Ms | null;
}

export interface AdminTables {
  staff_events: StaffEventsTable;
  staff_challenges: StaffChallengesTable;
  staff_passkeys: StaffPasskeysTable;
  staff_passkey_challenges: StaffPasskeyChallengesTable;
}

// The store's schema is every module's tables: this adds admin's to db/schema.ts's Database (db/ names no module).
declare module "../db/schema.ts" {
  interface Database extends AdminTables {}
}
