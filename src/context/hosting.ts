/**
 * Whether an autonomous system is a hosting, cloud or VPN-exit network rather than a consumer or business access
 * network: a sign-in from one is a sign-in through someone else's computer. A small curated table of the large
 * providers (ASNs as published by each operator in their PeeringDB records and RIR allocations; checked 2026-12);
 * it names networks, not addresses, so it ages slowly. Small hosts are not in it and read as not hosting: the login
 * model never relies on this alone (docs/risk.md). Replace or extend with MAMORI-side data when a curated feed lands.
 */
const HOSTING_ASNS: ReadonlyMap<number, string> = new Map([
  [16509, "Amazon AWS"],
  [14618, "Amazon AWS"],
  [8075, "Microsoft Azure"],
  [8068, "Microsoft"],
  [15169, "Google"],
  [396982, "Google Cloud"],
  [19527, "Google"],
  [14061, "DigitalOcean"],
  [16276, "OVH"],
  [24940, "Hetzner"],
  [213230, "Hetzner Cloud"],
  [63949, "Akamai Linode"],
  [20473, "Vultr (Choopa)"],
  [51167, "Contabo"],
  [12876, "Scaleway"],
  [31898, "Oracle Cloud"],
  [45102, "Alibaba Cloud"],
  [37963, "Alibaba (Aliyun)"],
  [45090, "Tencent Cloud"],
  [132203, "Tencent Cloud"],
  [49505, "Selectel"],
  [9009, "M247 (VPN exits)"],
  [212238, "Datacamp / CDN77 (VPN exits)"],
  [60068, "Datacamp / CDN77"],
  [136787, "PacketHub (VPN exits)"],
  [42708, "Portlane (hosting)"],
  [60781, "LeaseWeb"],
  [28753, "LeaseWeb"],
  [36352, "ColoCrossing"],
  [53667, "FranTech / BuyVM"],
  [46606, "Unified Layer"],
  [13335, "Cloudflare"],
  [62240, "Clouvider"],
  [202425, "IP Volume"],
]);

/** The provider's name when `asn` is a hosting/cloud/VPN-exit network in the table; null otherwise. */
export function hostingProvider(asn: number | string | null | undefined): string | null {
  if (asn === null || asn === undefined || asn === "") return null;
  const n = typeof asn === "number" ? asn : Number(asn);
  return Number.isInteger(n) ? (HOSTING_ASNS.get(n) ?? null) : null;
}

export const isHostingAsn = (asn: number | string | null | undefined): boolean => hostingProvider(asn) !== null;
