import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import type { CounterStore } from "./counters.ts";

export interface RedisCounterOptions {
  /** Prepended to every key, e.g. per deployment or per test run. */
  prefix?: string;
  /** Per-key cap on stored events; counts saturate here (far above any limit). */
  maxEventsPerKey?: number;
  /** Connection errors (commands also reject); without it they are dropped rather than crash the process. */
  onError?: (err: Error) => void;
}

// One script per hit so trim + add + count + expire are atomic: concurrent hits each see a distinct count.
// ARGV: now, cutoff (events at or before it have left the window), unique member, window ms, max events.
const HIT_LUA = `
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', ARGV[2])
redis.call('ZADD', key, ARGV[1], ARGV[3])
local size = redis.call('ZCARD', key)
local max = tonumber(ARGV[5])
if size > max then
  redis.call('ZREMRANGEBYRANK', key, 0, size - max - 1)
end
redis.call('PEXPIRE', key, ARGV[4])
return redis.call('ZCOUNT', key, '(' .. ARGV[2], ARGV[1])
`;

type HitCommand = (
  key: string,
  now: number,
  cutoff: number,
  member: string,
  windowMs: number,
  max: number,
) => Promise<number>;

/**
 * Counters shared by all Mamori instances: one sorted set per key, scored by event time, members unique per event.
 * Times come from the callers' clocks, so instances need synchronised clocks (NTP), as they do for sessions anyway.
 */
export function createRedisCounterStore(url: string, opts: RedisCounterOptions = {}): CounterStore {
  const prefix = opts.prefix ?? "mamori:rl:";
  const maxEvents = opts.maxEventsPerKey ?? 10_000;
  // Fail a command after one reconnect attempt instead of queueing it forever: callers decide to fail open or closed.
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on("error", (err: Error) => opts.onError?.(err));
  redis.defineCommand("mamoriHit", { numberOfKeys: 1, lua: HIT_LUA });
  const hitCommand = (redis as unknown as { mamoriHit: HitCommand }).mamoriHit.bind(redis);

  // Random per store + a counter: unique across processes without a round trip.
  const memberPrefix = randomBytes(8).toString("base64url");
  let seq = 0;

  return {
    async hit(key, windowMs, now) {
      seq = (seq + 1) % Number.MAX_SAFE_INTEGER;
      const member = `${now}:${memberPrefix}:${seq}`;
      return Number(await hitCommand(prefix + key, now, now - windowMs, member, Math.ceil(windowMs), maxEvents));
    },
    async count(key, windowMs, now) {
      return redis.zcount(prefix + key, `(${now - windowMs}`, now);
    },
    async oldest(key, windowMs, now) {
      const r = await redis.zrangebyscore(prefix + key, `(${now - windowMs}`, now, "WITHSCORES", "LIMIT", 0, 1);
      return r[1] === undefined ? null : Number(r[1]);
    },
    async reset(key) {
      await redis.del(prefix + key);
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
