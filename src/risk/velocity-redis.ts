import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { DEFAULT_RETENTION_MS, type VelocityStore } from "./velocity.ts";

export interface RedisVelocityOptions {
  /** Prepended to every key, e.g. per deployment or per test run. */
  prefix?: string;
  retentionMs?: number;
  /** Per-key cap on stored events, as in the memory store. */
  maxEventsPerKey?: number;
  /** Connection errors (commands also reject); without it they are dropped rather than crash the process. */
  onError?: (err: Error) => void;
}

/*
 * One sorted set per key, scored by event time. A member is "<unique id>|<value>|<has member 0/1>|<member>", so
 * equal events stay distinct and sum/distinct can be computed inside Redis without shipping the window to the node.
 */

// Insert, prune (relative to the newest event on the key, as the memory store does), cap, and refresh the TTL in
// one atomic step. ARGV: at, encoded member, retention ms, max events.
const RECORD_LUA = `
local key = KEYS[1]
local at = tonumber(ARGV[1])
local retention = tonumber(ARGV[3])
redis.call('ZADD', key, at, ARGV[2])
local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
local top = tonumber(newest[2])
redis.call('ZREMRANGEBYSCORE', key, '-inf', top - retention)
local size = redis.call('ZCARD', key)
local max = tonumber(ARGV[4])
if size > max then
  redis.call('ZREMRANGEBYRANK', key, 0, size - max - 1)
end
redis.call('PEXPIRE', key, retention)
return size
`;

// ARGV: exclusive lower bound, upper bound. Sum returned as a string: Redis truncates Lua numbers to integers.
const SUM_LUA = `
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], ARGV[2])
local total = 0
for i = 1, #items do
  local v = string.match(items[i], '^[^|]*|([^|]*)|')
  total = total + tonumber(v)
end
return string.format('%.17g', total)
`;

const DISTINCT_LUA = `
local items = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], ARGV[2])
local seen = {}
local n = 0
for i = 1, #items do
  local flag, m = string.match(items[i], '^[^|]*|[^|]*|([01])|(.*)$')
  if flag == '1' and not seen[m] then
    seen[m] = true
    n = n + 1
  end
end
return n
`;

type Script = (key: string, ...args: (string | number)[]) => Promise<unknown>;

/**
 * Velocity counters shared by every node. Event times come from the callers, so nodes need synchronised clocks
 * (NTP), as they do for sessions anyway.
 */
export function createRedisVelocityStore(url: string, opts: RedisVelocityOptions = {}): VelocityStore {
  const prefix = opts.prefix ?? "mamori:vel:";
  const retention = opts.retentionMs ?? DEFAULT_RETENTION_MS;
  const maxEvents = opts.maxEventsPerKey ?? 100_000;
  // Fail a command after one reconnect attempt instead of queueing it forever: callers decide to fail open or closed.
  const redis = new Redis(url, { maxRetriesPerRequest: 1 });
  redis.on("error", (err: Error) => opts.onError?.(err));
  redis.defineCommand("mamoriVelRecord", { numberOfKeys: 1, lua: RECORD_LUA });
  redis.defineCommand("mamoriVelSum", { numberOfKeys: 1, lua: SUM_LUA });
  redis.defineCommand("mamoriVelDistinct", { numberOfKeys: 1, lua: DISTINCT_LUA });
  const cmd = redis as unknown as Record<"mamoriVelRecord" | "mamoriVelSum" | "mamoriVelDistinct", Script>;

  // Random per store + a counter: unique across processes without a round trip.
  const idPrefix = randomBytes(8).toString("base64url");
  let seq = 0;
  // Same clamp as the memory store: a window longer than the retention sees only what is retained.
  const lower = (windowMs: number, now: number) => now - Math.min(windowMs, retention);

  return {
    async record(key, event) {
      seq = (seq + 1) % Number.MAX_SAFE_INTEGER;
      const value = event.value ?? 1;
      if (!Number.isFinite(value)) throw new RangeError("velocity value must be finite");
      const encoded = `${idPrefix}${seq.toString(36)}|${value}|${event.member === undefined ? "0|" : `1|${event.member}`}`;
      await cmd.mamoriVelRecord(prefix + key, event.at, encoded, Math.ceil(retention), maxEvents);
    },
    async count(key, windowMs, now) {
      return redis.zcount(prefix + key, `(${lower(windowMs, now)}`, now);
    },
    async sum(key, windowMs, now) {
      return Number(await cmd.mamoriVelSum(prefix + key, lower(windowMs, now), now));
    },
    async distinct(key, windowMs, now) {
      return Number(await cmd.mamoriVelDistinct(prefix + key, lower(windowMs, now), now));
    },
    async close() {
      await redis.quit().catch(() => redis.disconnect());
    },
  };
}
