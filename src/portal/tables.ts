/** Tables of the hosted security center (portal). */
type Ms = number;

/**
 * A one-time URL the store's backend asked for (createPortalSession) and redirects its signed-in user to: single use,
 * a few minutes, bound to the Mamori session it was made for.
 */
export interface PortalLinksTable {
  id: string;
  token_hash: string;
  session_id: string;
  account_id: string;
  created_at: Ms;
  expires_at: Ms;
  used_at: Ms | null;
}

/** The browser's session on the portal pages (a cookie): lives only while its Mamori session does. */
export interface PortalSessionsTable {
  id: string;
  token_hash: string;
  session_id: string;
  account_id: string;
  created_at: Ms;
  expires_at: Ms;
  ended_at: Ms | null;
}

export interface PortalTables {
  portal_links: PortalLinksTable;
  portal_sessions: PortalSessionsTable;
}

// The store's schema is every module's tables: this adds portal's to db/schema.ts's Database (db/ names no module).
declare module "../db/schema.ts" {
  interface Database extends PortalTables {}
}
