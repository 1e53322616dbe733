import { createHash } from "node:crypto";
import { sql } from "kysely";
import type { Db, Dialect, Executor } from "../db/database.ts";
import type { EventsTable } from "../db/schema.ts";
import type { Clock } from "../shared/clock.ts";
import { newId } from "../shared/crypto.ts";

export interface EventInput {
  accountId: string;
  type: string;
  data?: Record<string, unknown>;
  /** session:<id> | admin:<id> | system | token:<purpose> */
  actor: string;
  ip?: string | null | undefined;
}

export interface StoredEvent {
  id: string;
  accountId: string;
  seq: number;
  type: string;
  data: Record<string, unknown>;
  actor: string;
  ip: string | null;
  at: number;
  prevHash: string;
  hash: string;
}

export const GENESIS = "0".repeat(64);

/** Stable JSON: object keys sorted, so the hash does not depend on insertion order. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v ?? null);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
    .join(",")}}`;
}

export function eventHash(prevHash: string, e: Omit<StoredEvent, "hash" | "prevHash" | "id">): string {
  const body = canonicalJson({
    accountId: e.accountId,
    seq: e.seq,
    type: e.type,
    data: e.data,
    actor: e.actor,
    ip: e.ip,
    at: e.at,
  });
  return createHash("sha256").update(`${prevHash}\n${body}`).digest("hex");
}

export interface EventLog {
  /** Appends to the account's hash chain. Call inside the transaction that makes the change. */
  append(tx: Executor, input: EventInput): Promise<StoredEvent>;
  /** Appends several, in this order (each account's chain continues in input order), with one insert. */
  appendMany(tx: Executor, inputs: EventInput[]): Promise<StoredEvent[]>;
  /**
   * The first events of accounts created in this same transaction (bulk import): their chains start at the genesis,
   * so no head is read or locked — nobody else can see those accounts yet. Inserted in chunks.
   */
  appendFirst(tx: Executor, inputs: EventInput[]): Promise<void>;
  list(accountId: string, opts?: { limit?: number; beforeSeq?: number }): Promise<StoredEvent[]>;
  verify(): Promise<ChainReport>;
}

export interface ChainReport {
  accounts: number;
  events: number;
  /** the first broken link, if any */
  firstBreak: { accountId: string; seq: number; reason: string } | null;
}

export function createEventLog(deps: {
  db: Db;
  dialect: Dialect;
  clock: Clock;
  /**
   * Runs in the appending transaction with the events just written: what must leave with them (the store's security
   * webhooks) is recorded atomically with them. The log itself knows nothing of who listens.
   */
  onAppend?: (tx: Executor, events: readonly StoredEvent[]) => Promise<void>;
}): EventLog {
  const { db, dialect, clock } = deps;

  async function appendMany(tx: Executor, inputs: EventInput[], fresh = false): Promise<StoredEvent[]> {
    if (inputs.length === 0) return [];
    // PostgreSQL: the account row lock serialises appends per account, so seq and prev_hash cannot fork; accounts
    // are locked in id order, so two transactions appending for the same accounts cannot deadlock. FOR NO KEY UPDATE,
    // not FOR UPDATE: a transaction that has already inserted a row referencing the account (a session, an order)
    // holds the foreign key's KEY SHARE lock on it, which FOR UPDATE waits for and NO KEY UPDATE does not; with FOR
    // UPDATE two such transactions on one account (a sign-in and an order on two nodes) each waited for the other's
    // KEY SHARE, and PostgreSQL ended one with "deadlock detected" (test/cluster/postgres-restarts-under-load.test.ts).
    // SQLite: one writer at a time already. The (account_id, seq) unique key is the backstop on both.
    const accounts = [...new Set(inputs.map((i) => i.accountId))].sort();
    const heads = new Map<string, { seq: number; hash: string }>();
    for (const accountId of accounts) {
      if (fresh) {
        heads.set(accountId, { seq: 0, hash: GENESIS });
        continue;
      }
      if (dialect === "postgres") {
        await sql`select id from accounts where id = ${accountId} for no key update`.execute(tx);
      }
      const last = await tx
        .selectFrom("events")
        .select(["seq", "hash"])
        .where("account_id", "=", accountId)
        .orderBy("seq", "desc")
        .limit(1)
        .executeTakeFirst();
      heads.set(accountId, { seq: last?.seq ?? 0, hash: last?.hash ?? GENESIS });
    }
    const at = clock.now();
    const out = inputs.map((input) => {
      const head = heads.get(input.accountId)!;
      const base = {
        accountId: input.accountId,
        seq: head.seq + 1,
        type: input.type,
        data: input.data ?? {},
        actor: input.actor,
        ip: input.ip ?? null,
        at,
      };
      const ev: StoredEvent = { id: newId(), ...base, prevHash: head.hash, hash: eventHash(head.hash, base) };
      heads.set(input.accountId, { seq: ev.seq, hash: ev.hash });
      return ev;
    });
    await tx
      .insertInto("events")
      .values(
        out.map((ev) => ({
          id: ev.id,
          account_id: ev.accountId,
          seq: ev.seq,
          type: ev.type,
          data: canonicalJson(ev.data),
          actor: ev.actor,
          ip: ev.ip,
          at: ev.at,
          prev_hash: ev.prevHash,
          hash: ev.hash,
        })),
      )
      .execute();
    if (deps.onAppend) await deps.onAppend(tx, out);
    return out;
  }

  return {
    async append(tx, input) {
      const [ev] = await appendMany(tx, [input]);
      return ev!;
    },

    appendMany,

    async appendFirst(tx, inputs) {
      // 500 rows × 10 columns stays under both stores' bound-parameter limits.
      for (let i = 0; i < inputs.length; i += 500) await appendMany(tx, inputs.slice(i, i + 500), true);
    },

    async list(accountId, opts = {}) {
      let q = db
        .selectFrom("events")
        .selectAll()
        .where("account_id", "=", accountId)
        .orderBy("seq", "desc")
        .limit(Math.min(opts.limit ?? 200, 1000));
      if (opts.beforeSeq !== undefined) q = q.where("seq", "<", opts.beforeSeq);
      return (await q.execute()).map(toEvent);
    },

    async verify() {
      const report: ChainReport = { accounts: 0, events: 0, firstBreak: null };
      let after: { account: string; seq: number } = { account: "", seq: 0 };
      let current = "";
      let prev = GENESIS;
      let expectSeq = 1;
      // Paged scan in (account_id, seq) order keeps memory flat on large logs.
      for (;;) {
        const rows = await db
          .selectFrom("events")
          .selectAll()
          .where((eb) =>
            eb.or([
              eb("account_id", ">", after.account),
              eb.and([eb("account_id", "=", after.account), eb("seq", ">", after.seq)]),
            ]),
          )
          .orderBy("account_id")
          .orderBy("seq")
          .limit(1000)
          .execute();
        if (rows.length === 0) break;
        for (const r of rows) {
          if (r.account_id !== current) {
            current = r.account_id;
            prev = GENESIS;
            expectSeq = 1;
            report.accounts++;
          }
          report.events++;
          const e = toEvent(r);
          const reason =
            e.seq !== expectSeq
              ? `expected seq ${expectSeq}, found ${e.seq}`
              : e.prevHash !== prev
                ? "prev_hash does not match the previous event"
                : eventHash(prev, e) !== e.hash
                  ? "hash does not match the event's content"
                  : null;
          if (reason) {
            report.firstBreak = { accountId: e.accountId, seq: e.seq, reason };
            return report;
          }
          prev = e.hash;
          expectSeq++;
          after = { account: r.account_id, seq: r.seq };
        }
      }
      return report;
    },
  };
}

function toEvent(r: EventsTable): StoredEvent {
  return {
    id: r.id,
    accountId: r.account_id,
    seq: r.seq,
    type: r.type,
    data: JSON.parse(r.data) as Record<string, unknown>,
    actor: r.actor,
    ip: r.ip,
    at: r.at,
    prevHash: r.prev_hash,
    hash: r.hash,
  };
}
