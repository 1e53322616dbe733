import type { ContextEnricher, EnrichedContext, RequestContext } from "../shared/context.ts";
import { type IpInfo, lookupIp } from "./geo.ts";
import { MAX_UA_LENGTH, parseUserAgent, type UserAgentInfo } from "./ua.ts";

/** Insertion-ordered Map as an LRU: a hit is re-inserted at the end; the first key is the least recently used. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string, compute: (key: string) => V): V {
    const hit = this.map.get(key);
    if (hit !== undefined) {
      this.map.delete(key);
      this.map.set(key, hit);
      return hit;
    }
    const value = compute(key);
    this.map.set(key, value);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
    return value;
  }
  get size(): number {
    return this.map.size;
  }
}

export interface EnricherOptions {
  /** Recent distinct IPs / user agents remembered; a user's requests repeat both. */
  cacheSize?: number;
  lookupIp?: (ip: string) => IpInfo;
}

/** Adds country, ASN and device facts to what the store sent. Synchronous: the data sets are in memory. */
export function createContextEnricher(opts: EnricherOptions = {}): ContextEnricher {
  const size = opts.cacheSize ?? 2048;
  const lookup = opts.lookupIp ?? lookupIp;
  const ips = new Lru<IpInfo>(size);
  const uas = new Lru<UserAgentInfo>(size);
  return {
    enrich(ctx: RequestContext): EnrichedContext {
      // Keys are capped (no IP literal exceeds 64 chars; the UA parser reads 512) so junk headers cannot bloat the cache.
      const ip = ips.get(ctx.ip.length > 64 ? "" : ctx.ip, lookup);
      const ua = uas.get(ctx.userAgent.slice(0, MAX_UA_LENGTH), parseUserAgent);
      return { ...ctx, ...ip, ...ua };
    },
  };
}
