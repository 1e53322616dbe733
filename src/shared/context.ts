/** What the store forwards about its end user's request. */
export interface RequestContext {
  ip: string;
  userAgent: string;
  deviceId?: string | undefined;
  channel: Channel;
}

export type Channel = "web" | "app" | "app-password";

/** The request context with what Mamori derived from it. */
export interface EnrichedContext extends RequestContext {
  country: string | null;
  asn: number | null;
  asOrg: string | null;
  browser: string | null;
  os: string | null;
  deviceType: string | null;
}

export interface ContextEnricher {
  enrich(ctx: RequestContext): EnrichedContext;
}
