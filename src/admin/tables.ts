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

export interface AdminTables {
  staff_events: StaffEventsTable;
  staff_challenges: StaffChallengesTable;
}

// The store's schema is every module's tables: this adds admin's to db/schema.ts's Database (db/ names no module).
declare module "../db/schema.ts" {
  interface Database extends AdminTables {}
}
