/** Tables of the risk module (conventions in db/schema.ts: ms timestamps, 0/1 booleans, JSON as text). */
type Ms = number;

export interface RiskPolicySetsTable {
  id: string;
  version: number;
  /** draft | shadow | active | retired */
  status: string;
  /** JSON PolicySetSource */
  source: string;
  created_at: Ms;
  created_by: string | null;
  activated_at: Ms | null;
  retired_at: Ms | null;
}

export interface RiskDecisionsTable {
  id: string;
  account_id: string | null;
  event_type: string;
  /** JSON: the features the policy saw ({event, account, session, signals, velocity}) */
  event: string;
  /** allow | challenge | review | deny */
  decision: string;
  factor: string | null;
  hold: number;
  /** JSON MatchReason[] */
  reasons: string;
  policy_version: number;
  /** JSON {version, decision, factor, hold, reasons} of the shadow set, or null */
  shadow: string | null;
  /** JSON */
  scores: string;
  at: Ms;
  latency_us: number;
}

export interface RiskAccountSettingsTable {
  account_id: string;
  /** JSON list of ISO 3166-1 alpha-2 codes; [] = any country */
  allowed_countries: string;
  updated_at: Ms;
}

/** One row per unfinished second factor the 10-minute alert has been sent for (idempotency). */
export interface RiskAlertsTable {
  /** challenge:<id> | code:<id> */
  subject: string;
  account_id: string;
  kind: string;
  sent_at: Ms;
}

export interface RiskTables {
  risk_policy_sets: RiskPolicySetsTable;
  risk_decisions: RiskDecisionsTable;
  risk_account_settings: RiskAccountSettingsTable;
  risk_alerts: RiskAlertsTable;
}

// The store's schema is every module's tables: this adds risk's to db/schema.ts's Database (db/ names no module).
declare module "../db/schema.ts" {
  interface Database extends RiskTables {}
}
