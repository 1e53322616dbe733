/**
 * Sliding-window event counters behind the rate limiter. A window is (now - windowMs, now]: an event recorded at t
 * stops counting at t + windowMs. Times are passed in (not read from a clock) so tests and replicas agree on them.
 */
export interface CounterStore {
  /** Records one event at `now` and returns how many events fall in the window, this one included. Atomic. */
  hit(key: string, windowMs: number, now: number): Promise<number>;
  /** Events in the window, without recording one. */
  count(key: string, windowMs: number, now: number): Promise<number>;
  reset(key: string): Promise<void>;
  close(): Promise<void>;
  /**
   * Time of the oldest event still in the window, or null if none. Optional so other stores stay easy to write; the
   * limiter uses it for an exact Retry-After and falls back to the whole window without it.
   */
  oldest?(key: string, windowMs: number, now: number): Promise<number | null>;
}
