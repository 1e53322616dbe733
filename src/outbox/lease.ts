import type { Kysely } from "kysely";

/**
 * The columns an outbox table keeps for the lease claim (notifications, webhook_deliveries): a row is due when it is
 * 'queued' and its next_attempt_at has come, or 'sending' under a lease (locked_until) that has expired — its
 * dispatcher crashed or stalled.
 */
export interface LeaseColumns {
  id: string;
  status: string;
  attempts: number;
  next_attempt_at: number;
  locked_until: number | null;
}

/** Any Kysely handle whose schema holds `table` with the lease columns (the outbox module knows no domain schema). */
// biome-ignore lint/suspicious/noExplicitAny: the handle's own schema is the caller's; only the lease columns are read
type AnyDb = Kysely<any>;
type LeaseDb = Kysely<Record<string, LeaseColumns>>;

export interface Claim {
  /** the rows this claim holds, in dispatch order: the earliest due first, then by id */
  ids: string[];
  /** the locked_until written on each of them; a row whose lease is no longer this one was taken over */
  lease: number;
}

/**
 * Claims up to `limit` due rows of `table` for `leaseMs`.
 *
 * Race closed: two dispatchers (threads, processes, nodes) reading the same due rows. Each claim is an update guarded
 * on the state that was read — status and attempts, plus the due time (queued) or the expired lease itself (sending)
 * — so only one claimer's update matches a row; a second re-claimer of an expired lease finds the new locked_until.
 */
export async function claimDue(
  anyDb: AnyDb,
  table: string,
  opts: { limit: number; leaseMs: number; now: number },
): Promise<Claim> {
  const db = anyDb as LeaseDb;
  const { now } = opts;
  const lease = now + opts.leaseMs;
  const candidates = await db
    .selectFrom(table)
    .select(["id", "status", "attempts", "locked_until"])
    .where((eb) =>
      eb.or([
        eb.and([eb("status", "=", "queued"), eb("next_attempt_at", "<=", now)]),
        eb.and([eb("status", "=", "sending"), eb("locked_until", "<=", now)]),
      ]),
    )
    // the id breaks ties among rows due at the same millisecond, so every dispatcher sends them in one order
    .orderBy("next_attempt_at")
    .orderBy("id")
    .limit(opts.limit)
    .execute();
  const ids: string[] = [];
  for (const c of candidates) {
    let q = db
      .updateTable(table)
      .set({ status: "sending", locked_until: lease })
      .where("id", "=", c.id)
      .where("status", "=", c.status)
      .where("attempts", "=", c.attempts);
    q =
      c.status === "queued"
        ? q.where("next_attempt_at", "<=", now)
        : q.where("locked_until", "=", c.locked_until ?? -1);
    const r = await q.executeTakeFirst();
    if (Number(r.numUpdatedRows) > 0) ids.push(c.id);
  }
  return { ids, lease };
}

/**
 * Of rows read back after a claim, those this claim still holds ('sending' under its lease), in the claim's order.
 * A row re-claimed between the claim and the read (the lease was that short) belongs to the other dispatcher.
 */
export function heldRows<R extends { id: string; status: string; locked_until: number | null }>(
  claim: Claim,
  rows: readonly R[],
): (R & { locked_until: number })[] {
  const byId = new Map(rows.map((r) => [r.id, r]));
  const held: (R & { locked_until: number })[] = [];
  for (const id of claim.ids) {
    const r = byId.get(id);
    if (r && r.status === "sending" && r.locked_until === claim.lease) held.push(r as R & { locked_until: number });
  }
  return held;
}
