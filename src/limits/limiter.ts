import { type Clock, HOUR, MINUTE } from "../shared/clock.ts";
import type { CounterStore } from "./counters.ts";

export interface LimitRule {
  /** Namespaces the keys; letters, digits, "_", "-" and "." only. */
  name: string;
  /** Events allowed per window. */
  limit: number;
  windowMs: number;
}

export interface LimitResult {
  allowed: boolean;
  /** 0 when allowed; otherwise how long until a slot frees up (see RateLimiter). */
  retryAfterMs: number;
  /** Events in the window, including this one if it was recorded. */
  count: number;
}

/**
 * Defaults for the sign-in, code-check and reset flows. NIST SP 800-63B §5.2.2: a verifier SHALL limit consecutive
 * failed authentication attempts on one account to no more than 100. The per-account rules are far stricter because
 * they also guard 6-digit codes: a guess at a TOTP code (3 steps accepted) succeeds with p ≈ 3e-6, so 10 guesses per
 * 15 minutes holds an attacker to ≈ 3e-3 per account per day. Per-IP rules catch password spraying across accounts.
 */
export const defaultRules = {
  signinPerIp: { name: "signinPerIp", limit: 100, windowMs: 15 * MINUTE },
  signinFailuresPerAccount: { name: "signinFailuresPerAccount", limit: 10, windowMs: 15 * MINUTE },
  codeChecksPerAccount: { name: "codeChecksPerAccount", limit: 10, windowMs: 15 * MINUTE },
  codeChecksPerIp: { name: "codeChecksPerIp", limit: 100, windowMs: 15 * MINUTE },
  resetRequestsPerAccount: { name: "resetRequestsPerAccount", limit: 5, windowMs: HOUR },
  resetRequestsPerIp: { name: "resetRequestsPerIp", limit: 30, windowMs: HOUR },
} as const satisfies Record<string, LimitRule>;

const RULE_NAME = /^[A-Za-z0-9_.-]+$/;

/**
 * Sliding-window limiter. Refused attempts are not recorded: an attacker hammering a locked key neither extends the
 * lockout nor grows the stored event list, and the legitimate user gets in once the window has moved on.
 *
 * retryAfterMs is the time until the oldest counted event leaves the window. That is exact when the count is at
 * the limit; if concurrent requests overshot it, more than one event must leave, so it is a lower bound. With a
 * store that cannot report its oldest event it is the whole window (an upper bound).
 */
export class RateLimiter {
  constructor(
    private readonly store: CounterStore,
    private readonly clock: Clock,
  ) {}

  private key(rule: LimitRule, key: string): string {
    if (!RULE_NAME.test(rule.name)) throw new Error(`invalid rate-limit rule name: ${rule.name}`);
    // The rule name cannot contain ":", so "rule:key" cannot collide across rules whatever the key holds.
    return `${rule.name}:${key}`;
  }

  private async retryAfter(rule: LimitRule, k: string, now: number): Promise<number> {
    const oldest = this.store.oldest ? await this.store.oldest(k, rule.windowMs, now) : null;
    if (oldest === null) return rule.windowMs;
    return Math.max(1, oldest + rule.windowMs - now);
  }

  /** Records an attempt if the rule allows it. */
  async consume(rule: LimitRule, key: string): Promise<LimitResult> {
    const k = this.key(rule, key);
    const now = this.clock.now();
    const current = await this.store.count(k, rule.windowMs, now);
    if (current >= rule.limit) {
      return { allowed: false, retryAfterMs: await this.retryAfter(rule, k, now), count: current };
    }
    // Another request may have hit between count and hit; the store's atomic hit decides who got the last slot.
    const count = await this.store.hit(k, rule.windowMs, now);
    if (count <= rule.limit) return { allowed: true, retryAfterMs: 0, count };
    return { allowed: false, retryAfterMs: await this.retryAfter(rule, k, now), count };
  }

  /** Would an attempt be allowed now? Records nothing (e.g. check failures-per-account before verifying). */
  async peek(rule: LimitRule, key: string): Promise<LimitResult> {
    const k = this.key(rule, key);
    const now = this.clock.now();
    const count = await this.store.count(k, rule.windowMs, now);
    if (count < rule.limit) return { allowed: true, retryAfterMs: 0, count };
    return { allowed: false, retryAfterMs: await this.retryAfter(rule, k, now), count };
  }

  /** Forget the key's events, e.g. failures after a successful sign-in or a reset by support. */
  async reset(rule: LimitRule, key: string): Promise<void> {
    await this.store.reset(this.key(rule, key));
  }
}
