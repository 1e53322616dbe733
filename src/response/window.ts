/**
 * The compromise window rule. The window opens at the first session, after the account's last known-good activity,
 * from a device or a country the account had never used before. A new IP alone does not open it: home and mobile
 * addresses change daily, and a rule that fired on them would mark the owner as the attacker.
 */
export interface SessionFacts {
  id: string;
  createdAt: number;
  ip: string;
  country: string | null;
  /** the device cookie when the store sends one, else browser/OS/type from the user agent */
  device: string;
}

export interface WindowBasis {
  since: number | null;
  /** computed | support | reported_event */
  source: "computed" | "support" | "reported_event" | "none";
  firstUnfamiliarSessionId: string | null;
  reason: string;
  knownGoodUntil: number;
}

export function deviceKey(s: {
  device_id: string | null;
  browser: string | null;
  os: string | null;
  device_type: string | null;
}): string {
  if (s.device_id) return `id:${s.device_id}`;
  return `ua:${s.browser ?? "?"}|${s.os ?? "?"}|${s.device_type ?? "?"}`;
}

/**
 * @param sessions every session the account ever had (any order)
 * @param knownGoodUntil the end of the last known-good activity: account creation, the last completed recovery, or
 *   what support vouches for. Sessions created up to then define what is familiar.
 * @param reportedAt when the owner reported an event as not theirs: the window opens no later than that.
 */
export function computeWindow(
  sessions: SessionFacts[],
  knownGoodUntil: number,
  reportedAt: number | null,
  known: {
    /** sessions known to be the owner's whatever their time (the sign-up session) */
    owner?: ReadonlySet<string>;
    /** attacker sessions of earlier cases: what they used never becomes familiar */
    attacker?: ReadonlySet<string>;
  } = {},
): WindowBasis {
  const owner = known.owner ?? new Set<string>();
  const attacker = known.attacker ?? new Set<string>();
  const sorted = [...sessions].sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id));
  const devices = new Set<string>();
  const countries = new Set<string>();
  for (const s of sorted) {
    if (attacker.has(s.id) && !owner.has(s.id)) continue;
    if (s.createdAt <= knownGoodUntil || owner.has(s.id)) {
      devices.add(s.device);
      if (s.country) countries.add(s.country);
      continue;
    }
    const newDevice = !devices.has(s.device);
    const newCountry = s.country !== null && !countries.has(s.country);
    if (newDevice || newCountry) {
      const since = reportedAt !== null ? Math.min(s.createdAt, reportedAt) : s.createdAt;
      return {
        since,
        source: since === s.createdAt ? "computed" : "reported_event",
        firstUnfamiliarSessionId: s.id,
        reason: [newDevice ? "new device" : null, newCountry ? `new country ${s.country}` : null]
          .filter(Boolean)
          .join(", "),
        knownGoodUntil,
      };
    }
    // A familiar session after the known-good point is the owner's too: it extends what is familiar.
    devices.add(s.device);
    if (s.country) countries.add(s.country);
  }
  if (reportedAt !== null) {
    return {
      since: reportedAt,
      source: "reported_event",
      firstUnfamiliarSessionId: null,
      reason: "no unfamiliar session; the reported event opens the window",
      knownGoodUntil,
    };
  }
  return {
    since: null,
    source: "none",
    firstUnfamiliarSessionId: null,
    reason: "no unfamiliar session after the last known-good activity",
    knownGoodUntil,
  };
}
