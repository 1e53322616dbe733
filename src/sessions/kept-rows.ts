import type { SyncStatement } from "../db/database.ts";
import type { SessionWithAccount } from "./store.ts";

/**
 * The embedded store's session rows in memory, by token hash (sessions/service.ts `find`). A kept row is what the
 * check's query would answer now, but for `last_seen_at` (see service.ts `seenAt`): the store's change feed
 * (sessions/migration.ts) names every session whose answer a commit changed — by this process, the CLI or another
 * server on the file — and `current()` forgets exactly those before any kept row is used. So a revocation committed
 * here is seen by the very next check, and one by another process within the change counter's FOREIGN_CHECK_MS, as
 * before; what changed is that a sign-in's commit no longer empties every kept row. `warm()` loads every live
 * session at start (newest first), so a store's many distinct sessions are answered from memory, not from random
 * pages of its file.
 */
export interface KeptRowsDeps {
  /** statements on the read connection, run synchronously (DatabaseHandle.readSync) */
  readSync: (sql: string) => SyncStatement;
  /** DatabaseHandle.changeCounter: moves after every commit to the file */
  changeCounter: () => number;
  /** the page query and the feed's statements (sessions/store.ts) */
  pageSql: string;
  feedSql: (limit: number) => { since: string; max: string };
  /** deletes feed rows older than the newest `keep` (on the writer connection) */
  prune?: ((keep: number) => Promise<void>) | undefined;
  onError?: ((e: unknown, what: string) => void) | undefined;
  now: () => number;
}

export interface KeptRowsOptions {
  /** rows kept at most (default 1,000,000: ~400 B of heap each, docs/benchmarks.md) */
  maxRows?: number;
  /** feed rows read in one catch-up; more than this and every kept row is forgotten (default 50,000) */
  feedCatchUp?: number;
  /** sessions loaded per turn of the event loop while warming (default 500: ~2–8 ms, so checks keep flowing) */
  pageSize?: number;
}

export interface KeptRows {
  /** Forgets what the store changed since the last call; the counter value the kept rows are now exact for. */
  current(): number;
  /** The kept row for a token hash (call `current()` first). */
  get(hash: string): SessionWithAccount | undefined;
  /**
   * Keeps a row read under counter value `v`: only if nothing committed since (a commit may have changed it). When
   * full, the row kept longest makes room.
   */
  keep(hash: string, row: SessionWithAccount, v: number): void;
  /** Forgets the kept row `was`. */
  drop(hash: string, was: SessionWithAccount): void;
  /** Loads every live session, a page per turn of the event loop; resolves when done (or stopped). */
  warm(): Promise<{ rows: number; ms: number }>;
  size(): number;
  /** Stops a warm-up in progress (at shutdown). */
  stop(): void;
}

export function createKeptRows(deps: KeptRowsDeps, opts: KeptRowsOptions = {}): KeptRows {
  const maxRows = opts.maxRows ?? 1_000_000;
  const feedCatchUp = opts.feedCatchUp ?? 50_000;
  const pageSize = opts.pageSize ?? 500;
  const report = deps.onError ?? (() => {});
  const rows = new Map<string, SessionWithAccount>();
  const feed = deps.feedSql(feedCatchUp + 1);
  const feedSince = deps.readSync(feed.since);
  const feedMax = deps.readSync(feed.max);
  const page = deps.readSync(deps.pageSql);
  // Start at the feed's end: nothing is kept yet, so nothing before it can be stale.
  let cursor = Number((feedMax.all()[0] as { seq: number }).seq);
  let counterSeen = deps.changeCounter();
  let prunedAt = cursor;
  let stopped = false;
  // The same few values repeat across a million rows; one string each instead of one per row (~25 % of a row).
  const interned = new Map<string, string>();
  const intern = (s: string | null): string | null => {
    if (s === null) return null;
    const known = interned.get(s);
    if (known !== undefined) return known;
    if (interned.size < 256) interned.set(s, s);
    return s;
  };

  function current(): number {
    const c = deps.changeCounter();
    if (c === counterSeen) return c;
    // The value is taken before the feed is read, and noted only once the read succeeded: a commit landing in between
    // moves the counter again (the next call reads the feed once more), and a read that throws leaves the rows to be
    // caught up by the next call instead of trusted as they are.
    const changed = feedSince.all(cursor) as { seq: number; token_hash: string }[];
    if (changed.length > feedCatchUp) {
      // More than one catch-up can hold (or pruned past this reader): forget everything; reads refill it.
      rows.clear();
      cursor = Number((feedMax.all()[0] as { seq: number }).seq);
      counterSeen = c;
      return c;
    }
    counterSeen = c;
    for (const r of changed) {
      rows.delete(r.token_hash);
      cursor = r.seq;
    }
    if (deps.prune && cursor - prunedAt > feedCatchUp) {
      prunedAt = cursor;
      deps.prune(2 * feedCatchUp).catch((e: unknown) => report(e, "session change feed prune"));
    }
    return c;
  }

  function shaped(r: Record<string, unknown>): SessionWithAccount {
    // One property order for every kept row (the query's), so the check's reads stay monomorphic.
    return {
      id: r.id as string,
      account_id: r.account_id as string,
      channel: intern(r.channel as string) as SessionWithAccount["channel"],
      epoch: r.epoch as number,
      factor: intern(r.factor as string) as string,
      auth_time: r.auth_time as number,
      second_factor_at: r.second_factor_at as number | null,
      second_factor_kind: intern(r.second_factor_kind as string | null),
      created_at: r.created_at as number,
      last_seen_at: r.last_seen_at as number,
      expires_at: r.expires_at as number,
      revoked_at: r.revoked_at as number | null,
      account_epoch: r.account_epoch as number,
      account_status: intern(r.account_status as string) as SessionWithAccount["account_status"],
    };
  }

  return {
    current,
    get: (hash) => rows.get(hash),
    keep(hash, row, v) {
      if (deps.changeCounter() !== v) return;
      // Full: the row kept longest goes (a Map iterates in insertion order), so sessions that ended or expired since
      // the warm-up make room for new ones instead of holding the rows for ever.
      if (rows.size >= maxRows) {
        const oldest = rows.keys().next();
        if (oldest.done) return;
        rows.delete(oldest.value);
      }
      rows.set(hash, shaped(row as unknown as Record<string, unknown>));
    },
    drop(hash, was) {
      if (rows.get(hash) === was) rows.delete(hash);
    },
    warm() {
      const t0 = performance.now();
      // Newest first: with more sessions than `maxRows`, the ones kept are the likeliest to be checked.
      let before = Number.MAX_SAFE_INTEGER;
      let loaded = 0;
      return new Promise((resolve) => {
        const step = () => {
          try {
            if (stopped || rows.size >= maxRows) return resolve({ rows: loaded, ms: performance.now() - t0 });
            // The feed is read up to the counter first, and the page right after, in the same turn: the page shows
            // the store at least as new as the feed, and any later change is a feed row the next `current()` reads.
            current();
            const got = page.all(before, deps.now(), pageSize) as Record<string, unknown>[];
            for (const r of got) {
              before = r.row_id as number;
              const hash = r.token_hash as string;
              // A row a check kept meanwhile is as new as this one, and may carry a later last-seen.
              if (rows.size < maxRows && !rows.has(hash)) {
                rows.set(hash, shaped(r));
                loaded++;
              }
            }
            if (got.length < pageSize) return resolve({ rows: loaded, ms: performance.now() - t0 });
            setImmediate(step);
          } catch (e) {
            report(e, "session rows warm-up");
            resolve({ rows: loaded, ms: performance.now() - t0 });
          }
        };
        step();
      });
    },
    size: () => rows.size,
    stop() {
      stopped = true;
    },
  };
}
