/**
 * Staff sign-in throttling. Staff logins open every account, so the limits are far stricter than users' and there is
 * no known-device exemption (NIST SP 800-63B §5.2.2 allows at most 100 consecutive failures; these stop at 10):
 *
 * - per username+source: 5 failures in 15 minutes stop that pair;
 * - per username from everywhere: 10 failures in 15 minutes, 50 in a day (guessing from many sources);
 * - per source across usernames: 20 failures in an hour (spraying), 60 attempts in 15 minutes whatever the outcome.
 *
 * Keys are the username as typed (lower-cased, hashed), never the staff id, so an unknown name is counted, throttled
 * and answered exactly like a real one. Counters are the limiter's: in process, or Redis shared by every node.
 */
import type { LimitRule, RateLimiter } from "../limits/limiter.ts";
import { DAY, HOUR, MINUTE } from "../shared/clock.ts";
import { sha256 } from "../shared/crypto.ts";
import { CommonErrors } from "../shared/errors.ts";

export const staffThrottleRules = {
  failuresPerUserIp: { name: "staffFailUserIp", limit: 5, windowMs: 15 * MINUTE },
  failuresPerUser: { name: "staffFailUser", limit: 10, windowMs: 15 * MINUTE },
  failuresPerUserDay: { name: "staffFailUser24h", limit: 50, windowMs: DAY },
  failuresPerIp: { name: "staffFailIp", limit: 20, windowMs: HOUR },
  attemptsPerIp: { name: "staffAttemptsIp", limit: 60, windowMs: 15 * MINUTE },
  /** one audit event per refused username+source per minute, so a flood of refusals cannot flood the log */
  refusalLogged: { name: "staffRefusalLogged", limit: 1, windowMs: MINUTE },
} as const satisfies Record<string, LimitRule>;

export interface ThrottleRefusal {
  retryAfterSeconds: number;
  rule: string;
}

export class StaffThrottle {
  constructor(private readonly limiter: RateLimiter) {}

  static key(username: string): string {
    return sha256(`staff:${username.trim().toLowerCase()}`).slice(0, 32);
  }

  /** Null when the attempt may go on (and counts it against the source); otherwise what refused it. */
  async before(username: string, ip: string): Promise<ThrottleRefusal | null> {
    const u = StaffThrottle.key(username);
    const r = staffThrottleRules;
    const checks: [LimitRule, string][] = [
      [r.failuresPerIp, ip],
      [r.failuresPerUserIp, `${u}:${ip}`],
      [r.failuresPerUser, u],
      [r.failuresPerUserDay, u],
    ];
    const peeks = await Promise.all(checks.map(([rule, key]) => this.limiter.peek(rule, key)));
    const worst = peeks
      .map((p, i) => ({ p, rule: checks[i]![0] }))
      .filter((x) => !x.p.allowed)
      .sort((a, b) => b.p.retryAfterMs - a.p.retryAfterMs)[0];
    if (worst) return { retryAfterSeconds: seconds(worst.p.retryAfterMs), rule: worst.rule.name };
    const attempts = await this.limiter.consume(r.attemptsPerIp, ip);
    if (!attempts.allowed) return { retryAfterSeconds: seconds(attempts.retryAfterMs), rule: r.attemptsPerIp.name };
    return null;
  }

  /** A wrong password, an unknown username or a wrong code. */
  async failed(username: string, ip: string): Promise<void> {
    const u = StaffThrottle.key(username);
    const r = staffThrottleRules;
    await Promise.all([
      this.limiter.consume(r.failuresPerIp, ip),
      this.limiter.consume(r.failuresPerUserIp, `${u}:${ip}`),
      this.limiter.consume(r.failuresPerUser, u),
      this.limiter.consume(r.failuresPerUserDay, u),
    ]);
  }

  /** A full sign-in: the pair's failures are forgotten (the others stay: they may be someone else's). */
  async succeeded(username: string, ip: string): Promise<void> {
    await this.limiter.reset(staffThrottleRules.failuresPerUserIp, `${StaffThrottle.key(username)}:${ip}`);
  }

  /** Should this refusal be written to the audit log? (at most once a minute per username+source) */
  async logRefusal(username: string, ip: string): Promise<boolean> {
    const r = await this.limiter.consume(staffThrottleRules.refusalLogged, `${StaffThrottle.key(username)}:${ip}`);
    return r.allowed;
  }

  static refuse(r: ThrottleRefusal): never {
    throw CommonErrors.rate_limited({ retryAfterSeconds: r.retryAfterSeconds });
  }
}

function seconds(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** For tests and the docs: how many wrong guesses a username gets before every source is refused. */
export const STAFF_FAILURES_BEFORE_LOCK = staffThrottleRules.failuresPerUser.limit;
