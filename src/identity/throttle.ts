/**
 * Sign-in throttling that neither locks the owner out from elsewhere nor tells anyone whether an account exists
 * (NIST SP 800-63B §5.2.2; issues 14 and 19):
 *
 * - Every key is the identifier as typed (normalised), never the account id, so an unknown address is counted,
 *   throttled and answered exactly like a known one.
 * - Per account+source before per account alone: five failures for one identifier from one IP stop that pair (429).
 *   Failures for the identifier from everywhere do not lock it: past ten in 15 minutes, attempts from a device the
 *   account has never signed in from must pass a second factor (a challenge, which a wrong password can never
 *   complete); past 100 in a day they are refused outright. The owner's own device keeps getting through.
 * - Per source, across accounts: failures per IP, per network prefix (/24, /48) and per ASN. An IP or prefix over its
 *   limit goes on the attack-source list for an hour, and its attempts from unknown devices are refused with 429
 *   before any password is hashed (so stuffing stops costing the owners their latency). An ASN over its limit is not
 *   refused — whole consumer ISPs share one — but its unknown devices are challenged.
 *
 * Counters live in the limiter's store: in process on one node, Redis (shared) with MAMORI_REDIS_URL.
 */
import { networkOf } from "../context/ip.ts";
import type { LimitRule, RateLimiter } from "../limits/limiter.ts";
import { DAY, HOUR, MINUTE } from "../shared/clock.ts";
import type { EnrichedContext } from "../shared/context.ts";
import { sha256 } from "../shared/crypto.ts";
import { CommonErrors } from "../shared/errors.ts";

export const signinThrottleRules = {
  /** every attempt from one IP, whatever the outcome (unknown devices only) */
  attemptsPerIp: { name: "signinPerIp", limit: 100, windowMs: 15 * MINUTE },
  failuresPerIdentifierIp: { name: "signinFailIdIp", limit: 5, windowMs: 15 * MINUTE },
  /** past this, unknown devices are challenged */
  failuresPerIdentifier: { name: "signinFailuresPerAccount", limit: 10, windowMs: 15 * MINUTE },
  /** past this (NIST's 100), unknown devices are refused */
  failuresPerIdentifierDay: { name: "signinFailId24h", limit: 100, windowMs: DAY },
  failuresPerIp: { name: "signinFailIp", limit: 20, windowMs: HOUR },
  failuresPerPrefix: { name: "signinFailPrefix", limit: 60, windowMs: HOUR },
  failuresPerAsn: { name: "signinFailAsn", limit: 400, windowMs: 15 * MINUTE },
  /** listing on the attack-source list: one event keeps the source listed for the window */
  attackSource: { name: "attackSource", limit: 1, windowMs: HOUR },
} as const satisfies Record<string, LimitRule>;

/** What the throttle lets an attempt do before any password is hashed. */
export type ThrottleMode =
  /** password only, as usual */
  | "normal"
  /** only with a second factor: the answer is a challenge whatever the password */
  | "challenge"
  /** never: the answer is a challenge that cannot complete, and no password is hashed */
  | "refuse";

/** The network an address belongs to, for counting: IPv4 /24, IPv6 /48. Null for a non-IP. */
export const networkPrefix = networkOf;

export class SignInThrottle {
  constructor(private readonly limiter: RateLimiter) {}

  private static id(identifier: string): string {
    // Hashed: the counters (Redis) never hold addresses.
    return sha256(`signin:${identifier}`).slice(0, 32);
  }

  private async over(rule: LimitRule, key: string): Promise<{ over: boolean; retryAfterMs: number }> {
    const r = await this.limiter.peek(rule, key);
    return { over: !r.allowed, retryAfterMs: r.retryAfterMs };
  }

  private static refuse(retryAfterMs: number): never {
    throw CommonErrors.rate_limited({ retryAfterSeconds: Math.max(1, Math.ceil(retryAfterMs / 1000)) });
  }

  /**
   * Decides before the password hash. Throws 429 rate_limited for a listed source or an identifier+IP pair over its
   * limit (unknown devices only); otherwise answers the mode. Depends only on the identifier, the source and whether
   * the device has signed in to the account before — never on the password, nor (for an attacker, who has no known
   * device) on whether the account exists.
   */
  async before(input: { identifier: string; ctx: EnrichedContext; knownDevice: boolean }): Promise<ThrottleMode> {
    if (input.knownDevice) return "normal";
    const { ctx } = input;
    const id = SignInThrottle.id(input.identifier);
    const prefix = networkPrefix(ctx.ip);
    const [listedIp, listedPrefix, pair, perId, perDay, asn] = await Promise.all([
      this.over(signinThrottleRules.attackSource, `ip:${ctx.ip}`),
      prefix ? this.over(signinThrottleRules.attackSource, `net:${prefix}`) : null,
      this.over(signinThrottleRules.failuresPerIdentifierIp, `${id}:${ctx.ip}`),
      this.over(signinThrottleRules.failuresPerIdentifier, id),
      this.over(signinThrottleRules.failuresPerIdentifierDay, id),
      ctx.asn !== null ? this.over(signinThrottleRules.failuresPerAsn, String(ctx.asn)) : null,
    ]);
    if (listedIp.over) SignInThrottle.refuse(listedIp.retryAfterMs);
    if (listedPrefix?.over) SignInThrottle.refuse(listedPrefix.retryAfterMs);
    if (pair.over) SignInThrottle.refuse(pair.retryAfterMs);
    const attempts = await this.limiter.consume(signinThrottleRules.attemptsPerIp, ctx.ip);
    if (!attempts.allowed) SignInThrottle.refuse(attempts.retryAfterMs);
    if (perDay.over) return "refuse";
    if (perId.over || asn?.over) return "challenge";
    return "normal";
  }

  /** A wrong password (or an unknown identifier): counts it everywhere and lists sources that went over. */
  async failed(input: { identifier: string; ctx: EnrichedContext }): Promise<void> {
    const { ctx } = input;
    const id = SignInThrottle.id(input.identifier);
    const prefix = networkPrefix(ctx.ip);
    const r = signinThrottleRules;
    const [ip, net] = await Promise.all([
      this.limiter.consume(r.failuresPerIp, ctx.ip),
      prefix ? this.limiter.consume(r.failuresPerPrefix, prefix) : null,
      this.limiter.consume(r.failuresPerIdentifierIp, `${id}:${ctx.ip}`),
      this.limiter.consume(r.failuresPerIdentifier, id),
      this.limiter.consume(r.failuresPerIdentifierDay, id),
      ctx.asn !== null ? this.limiter.consume(r.failuresPerAsn, String(ctx.asn)) : null,
    ]);
    // Listed from the failure that reaches the limit on (a refused consume means it was reached before).
    const reached = (x: { allowed: boolean; count: number }, rule: LimitRule) => !x.allowed || x.count >= rule.limit;
    const listings: Promise<unknown>[] = [];
    if (reached(ip, r.failuresPerIp)) listings.push(this.limiter.consume(r.attackSource, `ip:${ctx.ip}`));
    if (net && reached(net, r.failuresPerPrefix)) listings.push(this.limiter.consume(r.attackSource, `net:${prefix}`));
    await Promise.all(listings);
  }

  /** Is this source on the attack-source list? (support view, tests) */
  async listed(ip: string): Promise<boolean> {
    const prefix = networkPrefix(ip);
    const a = await this.over(signinThrottleRules.attackSource, `ip:${ip}`);
    const b = prefix ? await this.over(signinThrottleRules.attackSource, `net:${prefix}`) : { over: false };
    return a.over || b.over;
  }
}
