import { CompiledQuery, PostgresAdapter, sql } from "kysely";
import type { Executor } from "../db/database.ts";
import type { AccountStatus, SessionsTable } from "../db/schema.ts";
import type { LastSeenBatch } from "./last-seen.ts";

export type SessionRow = SessionsTable;

/**
 * The account's credential epoch lives on the account, which identity alone writes: sessions/ asks identity's
 * account-control (src/identity/account-control.ts), given in each call, for the next one (and identity ends the app
 * passwords and reset tokens of the old one), so it imports no identity.
 */
export interface CredentialEpochs {
  bumpCredentialEpoch(t: Executor, accountId: string, i: { reason: string; now: number }): Promise<number>;
}

/** What a validity decision and a signed-in action need: the session's own columns plus its account's epoch. */
export interface SessionWithAccount
  extends Pick<
    SessionRow,
    | "id"
    | "account_id"
    | "channel"
    | "epoch"
    | "factor"
    | "auth_time"
    | "second_factor_at"
    | "second_factor_kind"
    | "created_at"
    | "last_seen_at"
    | "expires_at"
    | "revoked_at"
  > {
  account_epoch: number;
  account_status: AccountStatus;
}

/** SQL for sessions and the credential epoch; every method takes the executor so callers choose the transaction. */
/** The columns of a SessionWithAccount: the session and its account's epoch and status, read in one row. */
const SESSION_WITH_ACCOUNT = [
  "sessions.id",
  "sessions.account_id",
  "sessions.channel",
  "sessions.epoch",
  "sessions.factor",
  "sessions.auth_time",
  "sessions.second_factor_at",
  "sessions.second_factor_kind",
  "sessions.created_at",
  "sessions.last_seen_at",
  "sessions.expires_at",
  "sessions.revoked_at",
  "accounts.credential_epoch as account_epoch",
  "accounts.status as account_status",
] as const;

export const sessionStore = {
  /** Where and how a session signed in: the context a later event of the session is judged in (risk). */
  async requestContext(ex: Executor, sessionId: string) {
    return ex
      .selectFrom("sessions")
      .select(["ip", "user_agent", "device_id", "channel"])
      .where("id", "=", sessionId)
      .executeTakeFirst();
  },

  async insert(ex: Executor, row: SessionRow): Promise<void> {
    await ex.insertInto("sessions").values(row).execute();
  },

  /**
   * One indexed read joining the account's epoch: the whole validity decision is made on one consistent row. On the
   * embedded store `last_seen_at` is the row's own time; the last-seen file's later one is read only when needed
   * (sessions/service.ts, withFileTimeIfIdle).
   */
  findByTokenHashQuery(ex: Executor) {
    return ex
      .selectFrom("sessions")
      .innerJoin("accounts", "accounts.id", "sessions.account_id")
      .where("sessions.token_hash", "=", "?")
      .select(SESSION_WITH_ACCOUNT)
      .compile();
  },

  /**
   * The live sessions before a rowid, newest first (the likeliest to be checked), with their token hashes, a page at
   * a time (`?`: the rowid, now, the page size): what sessions/kept-rows.ts loads at start, the same columns as
   * findByTokenHashQuery.
   */
  keptRowsPageSql(ex: Executor): string {
    return ex
      .selectFrom("sessions")
      .innerJoin("accounts", "accounts.id", "sessions.account_id")
      .select([sql<number>`sessions.rowid`.as("row_id"), "sessions.token_hash", ...SESSION_WITH_ACCOUNT])
      .where(sql`sessions.rowid`, "<", "?")
      .where("sessions.revoked_at", "is", null)
      .where("sessions.expires_at", ">", "?" as never)
      .orderBy(sql`sessions.rowid`, "desc")
      .limit("?" as never)
      .compile().sql;
  },

  /** The change feed (sessions/migration.ts) after a sequence number (`?`), oldest first, at most `limit` rows. */
  changeFeedSql(limit: number): { since: string; max: string } {
    return {
      since: `select seq, token_hash from session_changes where seq > ? order by seq limit ${Math.floor(limit)}`,
      max: "select coalesce(max(seq), 0) as seq from session_changes",
    };
  },

  /** Keeps the newest `keep` feed rows: a reader further behind than that sees more than it can catch up and forgets all. */
  async pruneChangeFeed(ex: Executor, keep: number): Promise<void> {
    await sql`delete from session_changes where seq <= (select max(seq) from session_changes) - ${keep}`.execute(ex);
  },

  /** One session's time in the last-seen file (`?`: its id), for DatabaseHandle.hot; no row when none written. */
  lastSeenTimeQuery(lastSeenTable: string): CompiledQuery<{ at: number }> {
    return CompiledQuery.raw(`select at from ${lastSeenTable} where session_id = ?`, []);
  },

  /** The last-seen file's times for these sessions (absent: none written there). */
  async lastSeenTimes(reader: Executor, lastSeenTable: string, ids: readonly string[]): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      const r = await sql<{ session_id: string; at: number }>`select session_id, at from ${sql.raw(lastSeenTable)}
        where session_id in (${sql.join(part)})`.execute(reader);
      for (const row of r.rows) out.set(row.session_id, Number(row.at));
    }
    return out;
  },

  /** A session with its account's epoch and status, by id (the security center holds the id, never the token). */
  async findById(ex: Executor, id: string): Promise<SessionWithAccount | undefined> {
    return (await ex
      .selectFrom("sessions")
      .innerJoin("accounts", "accounts.id", "sessions.account_id")
      .select(SESSION_WITH_ACCOUNT)
      .where("sessions.id", "=", id)
      .executeTakeFirst()) as SessionWithAccount | undefined;
  },

  /**
   * A batch of last-seen times (sessions/last-seen.ts). Guarded on `last_seen_at < t`: a time only moves forward, so a
   * batch landing after a later one (another node's, or a retry) cannot make a session look idle longer or shorter
   * than its latest recorded request. Sets nothing else, so it cannot revive an ended session. PostgreSQL: one
   * statement for the batch.
   */
  async advanceLastSeen(ex: Executor, seen: LastSeenBatch): Promise<void> {
    const { ids } = seen;
    if (ids.length === 0) return;
    if (ex.getExecutor().adapter instanceof PostgresAdapter) {
      const times = Array.from(seen.ats);
      await sql`update sessions set last_seen_at = u.t
        from unnest(${ids}::text[], ${times}::int8[]) as u(id, t)
        where sessions.id = u.id and sessions.last_seen_at < u.t`.execute(ex);
      return;
    }
    // SQLite: a statement per session. One json_each statement for the batch halved the CPU but held the event loop
    // far longer (bench/last-seen.ts, docs/benchmarks.md).
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      const t = seen.ats[i]!;
      await ex
        .updateTable("sessions")
        .set({ last_seen_at: t })
        .where("id", "=", id)
        .where("last_seen_at", "<", t)
        .execute();
    }
  },

  /** Guarded on revoked_at is null: ending a session twice records the first reason only. */
  async revoke(ex: Executor, id: string, accountId: string, reason: string, now: number): Promise<boolean> {
    const r = await ex
      .updateTable("sessions")
      .set({ revoked_at: now, revoked_reason: reason })
      .where("id", "=", id)
      .where("account_id", "=", accountId)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /**
   * Bumps the account's credential epoch and, in the same transaction, ends every other session; identity's side of
   * the bump (`epochs`) revokes every app password and spends every outstanding reset token, its own rows. A session
   * created by a racing sign-in carries the old epoch and is dead on arrival, because introspection compares epochs.
   */
  async bumpEpoch(
    tx: Executor,
    accountId: string,
    opts: { epochs: CredentialEpochs; keepSessionId?: string | null; reason: string; now: number },
  ): Promise<number> {
    const epoch = await opts.epochs.bumpCredentialEpoch(tx, accountId, { reason: opts.reason, now: opts.now });
    let q = tx
      .updateTable("sessions")
      .set({ revoked_at: opts.now, revoked_reason: opts.reason })
      .where("account_id", "=", accountId)
      .where("revoked_at", "is", null);
    if (opts.keepSessionId) q = q.where("id", "!=", opts.keepSessionId);
    await q.execute();
    if (opts.keepSessionId) {
      await tx.updateTable("sessions").set({ epoch }).where("id", "=", opts.keepSessionId).execute();
    }
    return epoch;
  },

  async listForAccount(ex: Executor, accountId: string, since: number): Promise<SessionRow[]> {
    return ex
      .selectFrom("sessions")
      .selectAll()
      .where("account_id", "=", accountId)
      .where((eb) => eb.or([eb("revoked_at", "is", null), eb("revoked_at", ">", since)]))
      .orderBy("created_at", "desc")
      .limit(200)
      .execute();
  },

  /** A fresh authentication on the session: the password, and the second factor's kind when one was given. */
  async markStepUp(ex: Executor, id: string, now: number, secondFactor: string | null): Promise<void> {
    await ex
      .updateTable("sessions")
      .set(
        secondFactor ? { auth_time: now, second_factor_at: now, second_factor_kind: secondFactor } : { auth_time: now },
      )
      .where("id", "=", id)
      .execute();
  },

  /**
   * A new token for a live session (after a privilege change). The old token is dead the moment this commits: a
   * lookup is by token hash, and the row no longer carries the old one. Guarded on revoked_at is null, so an ended
   * session is not given a new life.
   */
  async rotateToken(ex: Executor, id: string, newHash: string): Promise<boolean> {
    const r = await ex
      .updateTable("sessions")
      .set({ token_hash: newHash })
      .where("id", "=", id)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /** Live sessions of an account under its current epoch, oldest first (for the concurrent-session limit). */
  liveForAccount(ex: Executor, accountId: string, epoch: number, now: number) {
    return ex
      .selectFrom("sessions")
      .select(["id", "created_at", "channel", "browser", "os", "device_type", "country"])
      .where("account_id", "=", accountId)
      .where("revoked_at", "is", null)
      .where("epoch", "=", epoch)
      .where("expires_at", ">", now)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
  },
};
