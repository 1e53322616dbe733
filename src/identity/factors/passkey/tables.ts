/** The passkey factor's tables (migration 0030, this folder's migration.ts). */
type Ms = number;

/** One WebAuthn credential of an account. Removal keeps the row (removed_at), so a roll-back can bring it back. */
export interface PasskeysTable {
  id: string;
  account_id: string;
  /** base64url credential id, unique across the store */
  credential_id: string;
  /** base64url COSE public key */
  public_key: string;
  /** the authenticator's signature counter as last seen; only moves forward (advanceSignCount) */
  sign_count: number;
  /** JSON array of transports the browser reported */
  transports: string;
  /** base64url WebAuthn user handle given at registration (random per account, never the account id) */
  user_handle: string;
  aaguid: string;
  /** singleDevice | multiDevice */
  device_type: string;
  backed_up: 0 | 1;
  name: string;
  created_at: Ms;
  created_by: string;
  last_used_at: Ms | null;
  removed_at: Ms | null;
  removed_by: string | null;
}

/**
 * A WebAuthn challenge Mamori handed out, spent once (consumePasskeyChallenge). purpose: register (bound to the
 * account and session), signin (usernameless: bound to nothing), second_factor (bound to a sign-in challenge),
 * step_up (bound to a session).
 */
export interface PasskeyChallengesTable {
  id: string;
  /** base64url, as the browser echoes it in clientDataJSON */
  challenge: string;
  purpose: string;
  account_id: string | null;
  /** the session (register, step_up) or sign-in challenge (second_factor) it belongs to */
  bound_to: string | null;
  /** register: the WebAuthn user handle the options carried */
  user_handle: string | null;
  created_at: Ms;
  expires_at: Ms;
  used_at: Ms | null;
}

export interface PasskeyTables {
  passkeys: PasskeysTable;
  passkey_challenges: PasskeyChallengesTable;
}

declare module "../../../db/schema.ts" {
  interface Database extends PasskeyTables {}
}
