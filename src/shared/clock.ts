export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock tests can move; time never runs by itself. */
export class ManualClock implements Clock {
  constructor(private t: number = Date.UTC(2026, 0, 1)) {}
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(ms: number): void {
    this.t = ms;
  }
}

export const MINUTE = 60_000;
export const HOUR = 60 * MINUTE;
export const DAY = 24 * HOUR;

/**
 * Lets the event loop poll for I/O once before continuing. One setImmediate can run before the next poll phase (its
 * callback runs in the current loop's check phase); the second is in the next loop's check phase, after a poll.
 * Long synchronous work (SQLite is synchronous) calls this between units so queued requests are not held up.
 */
export const pollOnce = (): Promise<void> => new Promise((r) => setImmediate(() => setImmediate(r)));
