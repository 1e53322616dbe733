/**
 * Velocity counters for risk policies: count, sum and distinct count of events over sliding windows, keyed by an
 * arbitrary string ("acct:…", "ip:…", "device:…", "card:…", "giftcard:…", "seller:…").
 *
 * Semantics shared by every store (velocity.test.ts is the contract):
 * - A window is (now − windowMs, now]: an event at t counts while t > now − windowMs and t ≤ now. An event exactly
 *   windowMs old is out; an event recorded with a time after `now` is not counted yet.
 * - Events are kept for `retentionMs` (the largest window a caller may ask about, 30 days by default); asking about a
 *   longer window sees only what is retained.
 * - `value` (default 1) is what `sum` adds; `member` (default: none) is what `distinct` counts. Events without a
 *   member do not count towards `distinct`.
 * - Times are passed in, not read from a clock, so tests, replays and nodes agree on them.
 */
export interface VelocityEvent {
  at: number;
  value?: number;
  member?: string;
}

export type VelocityAgg = "count" | "sum" | "distinct";

export interface VelocityStore {
  record(key: string, event: VelocityEvent): Promise<void>;
  count(key: string, windowMs: number, now: number): Promise<number>;
  sum(key: string, windowMs: number, now: number): Promise<number>;
  distinct(key: string, windowMs: number, now: number): Promise<number>;
  close(): Promise<void>;
  /**
   * The same operations answered synchronously, where the counters are in this process (the memory store): a
   * decision then reads and records its counters without a promise per counter. Same semantics as the async forms.
   */
  sync?: {
    record(key: string, event: VelocityEvent): void;
    read(agg: VelocityAgg, key: string, windowMs: number, now: number): number;
  };
}

export const MINUTE = 60_000;
export const DAY = 24 * 60 * MINUTE;
/** The largest window policies use (30 days), hence the default retention. */
export const DEFAULT_RETENTION_MS = 30 * DAY;
