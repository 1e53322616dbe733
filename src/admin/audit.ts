import { createHash } from "node:crypto";
import { sql } from "kysely";
import type { Db, Dialect, Executor } from "../db/database.ts";
import { canonicalJson, GENESIS } from "../events/store.ts";
import type { Clock } from "../shared/clock.ts";
import { newId } from "../shared/crypto.ts";
import type { StaffEventsTable } from "./tables.ts";

export interface StaffEventInput {
  type: string;
  staffId?: string | null;
  username?: string | null;
  data?: Record<string, unknown>;
  /** staff:<id> | cli | anonymous */
  actor: string;
  ip?: string | null;
}

export interface StaffEvent {
  id: string;
  seq: number;
  type: string;
  staffId: string | null;
  username: string | null;
  data: Record<string, unknown>;
  actor: string;
  ip: string | null;
  at: number;
  prevHash: string;
  hash: string;
}

export function staffEventHash(prevHash: string, e: Omit<StaffEvent, "id" | "prevHash" | "hash">): string {
  const body = canonicalJson({
    seq: e.seq,
    type: e.type,
    staffId: e.staffId,
    username: e.username,
    data: e.data,
    actor: e.actor,
    ip: e.ip,
    at: e.at,
  });
  return createHash("sha256").update(`staff\n${prevHash}\n${body}`).digest("hex");
}

export interface StaffChainReport {
  events: number;
  firstBreak: { seq: number; reason: string } | null;
}

/** One lock key for the whole chain (PostgreSQL advisory lock, held to the end of the appending transaction). */
const CHAIN_LOCK = 0x5_7a_ff;

/** The staff audit log: one append-only hash chain of everything staff do and everything tried against them. */
export function createStaffAudit(deps: { db: Db; dialect: Dialect; clock: Clock }) {
  const { db, dialect, clock } = deps;
  return {
    /**
     * Appends one event. Call inside a transaction: on PostgreSQL the advisory lock serialises appends so seq and
     * prev_hash cannot fork; on SQLite there is one writer at a time. The unique seq is the backstop on both.
     */
    async append(tx: Executor, input: StaffEventInput): Promise<StaffEvent> {
      if (dialect === "postgres") await sql`select pg_advisory_xact_lock(${CHAIN_LOCK})`.execute(tx);
      const last = await tx
        .selectFrom("staff_events")
        .select(["seq", "hash"])
        .orderBy("seq", "desc")
        .limit(1)
        .executeTakeFirst();
      const prevHash = last?.hash ?? GENESIS;
      const base = {
        seq: (last?.seq ?? 0) + 1,
        type: input.type,
        staffId: input.staffId ?? null,
        username: input.username === undefined || input.username === null ? null : input.username.slice(0, 100),
        data: input.data ?? {},
        actor: input.actor,
        ip: input.ip ?? null,
        at: clock.now(),
      };
      const ev: StaffEvent = { id: newId(), ...base, prevHash, hash: staffEventHash(prevHash, base) };
      await tx
        .insertInto("staff_events")
        .values({
          id: ev.id,
          seq: ev.seq,
          type: ev.type,
          staff_id: ev.staffId,
          username: ev.username,
          data: canonicalJson(ev.data),
          actor: ev.actor,
          ip: ev.ip,
          at: ev.at,
          prev_hash: ev.prevHash,
          hash: ev.hash,
        })
        .execute();
      return ev;
    },

    /** Appends in a transaction of its own (sign-in failures, which change nothing else). */
    async record(input: StaffEventInput): Promise<StaffEvent> {
      return db.transaction().execute((tx) => this.append(tx, input));
    },

    /** Newest first. */
    async list(opts: { limit?: number; beforeSeq?: number; staffId?: string } = {}): Promise<StaffEvent[]> {
      let q = db
        .selectFrom("staff_events")
        .selectAll()
        .orderBy("seq", "desc")
        .limit(Math.min(opts.limit ?? 100, 1000));
      if (opts.beforeSeq !== undefined) q = q.where("seq", "<", opts.beforeSeq);
      if (opts.staffId !== undefined) q = q.where("staff_id", "=", opts.staffId);
      return (await q.execute()).map(toStaffEvent);
    },

    async verify(): Promise<StaffChainReport> {
      const report: StaffChainReport = { events: 0, firstBreak: null };
      let prev = GENESIS;
      let expect = 1;
      for (;;) {
        const rows = await db
          .selectFrom("staff_events")
          .selectAll()
          .where("seq", ">=", expect)
          .orderBy("seq")
          .limit(1000)
          .execute();
        if (rows.length === 0) break;
        for (const r of rows) {
          const e = toStaffEvent(r);
          report.events++;
          const reason =
            e.seq !== expect
              ? `expected seq ${expect}, found ${e.seq}`
              : e.prevHash !== prev
                ? "prev_hash does not match the previous event"
                : staffEventHash(prev, e) !== e.hash
                  ? "hash does not match the event's content"
                  : null;
          if (reason) {
            report.firstBreak = { seq: e.seq, reason };
            return report;
          }
          prev = e.hash;
          expect++;
        }
      }
      return report;
    },
  };
}

export type StaffAudit = ReturnType<typeof createStaffAudit>;

function toStaffEvent(r: StaffEventsTable): StaffEvent {
  return {
    id: r.id,
    seq: r.seq,
    type: r.type,
    staffId: r.staff_id,
    username: r.username,
    data: JSON.parse(r.data) as Record<string, unknown>,
    actor: r.actor,
    ip: r.ip,
    at: r.at,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
