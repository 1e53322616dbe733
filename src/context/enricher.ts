import type { ContextEnricher, EnrichedContext, RequestContext } from "../shared/context.ts";
import { type IpInfo, lookupIp } from "./geo.ts";
import { MAX_UA_LENGTH, parseUserAgent, type UserAgentInfo } from "./ua.ts";

/**
 * Recently used values, at most `max` of them, kept in two generations instead of a strict LRU so that a hit is one
 * Map lookup with no reordering. New values, and hits found in the old generation, go into the young map; when the
 * young map already holds max/2 entries, the old map is dropped, the young one becomes the old one and a new young one
 * starts. So anything used within the last max/2 insertions is kept, and nothing older than the last max (for
 * max ≥ 2; a generation holds at least one entry).
 */
export class RecentCache<V> {
  private young = new Map<string, V>();
  private old = new Map<string, V>();
  private readonly generation: number;

  constructor(max: number) {
    this.generation = Math.max(1, Math.floor(max / 2));
  }

  get(key: string, compute: (key: string) => V): V {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    let value = this.old.get(key);
    if (value === undefined) value = compute(key);
    else this.old.delete(key); // promoted below; not kept twice
    if (this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
    return value;
  }

  get size(): number {
    return this.young.size + this.old.size;
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
  const ips = new RecentCache<IpInfo>(size);
  const uas = new RecentCache<UserAgentInfo>(size);
  return {
    enrich(ctx: RequestContext): EnrichedContext {
      // Keys are capped (no IP literal exceeds 64 chars; the UA parser reads 512) so junk headers cannot bloat the cache.
      const ip = ips.get(ctx.ip.length > 64 ? "" : ctx.ip, lookup);
      const userAgent = ctx.userAgent;
      const ua = uas.get(
        userAgent.length > MAX_UA_LENGTH ? userAgent.slice(0, MAX_UA_LENGTH) : userAgent,
        parseUserAgent,
      );
      // One literal with a fixed shape: the three-way spread took ~4 µs a call on Node 20. It must give what
      // { ...ctx, ...ip, ...ua } gave, so a context with keys beyond RequestContext's (a stored sign-in challenge's
      // context carries more) still takes the spread, and an absent deviceId stays absent.
      switch (plainContextKeys(ctx)) {
        case 4:
          return {
            ip: ctx.ip,
            userAgent,
            deviceId: ctx.deviceId,
            channel: ctx.channel,
            country: ip.country,
            asn: ip.asn,
            asOrg: ip.asOrg,
            browser: ua.browser,
            os: ua.os,
            deviceType: ua.deviceType,
          };
        case 3:
          return {
            ip: ctx.ip,
            userAgent,
            channel: ctx.channel,
            country: ip.country,
            asn: ip.asn,
            asOrg: ip.asOrg,
            browser: ua.browser,
            os: ua.os,
            deviceType: ua.deviceType,
          };
        default:
          return { ...ctx, ...ip, ...ua };
      }
    },
  };
}

/**
 * 4 when the context's enumerable keys are exactly RequestContext's with deviceId, 3 when exactly those without it,
 * otherwise 0. (for…in also sees inherited enumerable keys, which the spread would not copy: those contexts just
 * take the spread.)
 */
function plainContextKeys(ctx: RequestContext): number {
  let n = 0;
  for (const _ in ctx) n++;
  if (n < 3 || n > 4 || !Object.hasOwn(ctx, "ip") || !Object.hasOwn(ctx, "userAgent") || !Object.hasOwn(ctx, "channel"))
    return 0;
  if (n === 4) return Object.hasOwn(ctx, "deviceId") ? 4 : 0;
  return 3;
}
