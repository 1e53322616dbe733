import type { Db, HotQuery, SyncStatement } from "../db/database.ts";
import type { EventLog } from "../events/store.ts";
import type { Notifier } from "../notify/notifier.ts";
import { type Clock, pollOnce } from "../shared/clock.ts";
import type { EnrichedContext } from "../shared/context.ts";
import { newId, newToken, sha256 } from "../shared/crypto.ts";
import { isoTime } from "../shared/iso-time.ts";
import { SessionErrors } from "./errors.ts";
import { createKeptRows } from "./kept-rows.ts";
import { createLastSeenWriter, createWorkerLastSeenWrite, SLICE as LAST_SEEN_SLICE } from "./last-seen.ts";
import { type CredentialEpochs, type SessionRow, type SessionWithAccount, sessionStore } from "./store.ts";

export interface SessionView {
  id: string;
  channel: string;
  current: boolean;
  active: boolean;
  createdAt: string;
  lastSeenAt: string;
  authTime: string;
  expiresAt: string;
  endedAt: string | null;
  endedReason: string | null;
  factor: string;
  ip: string;
  country: string | null;
  asn: number | null;
  device: { browser: string | null; os: string | null; type: string | null; id: string | null };
  appPasswordId: string | null;
}

export interface Introspection {
  active: boolean;
  sessionId?: string;
  accountId?: string;
  channel?: string;
  factor?: string;
  authTime?: string;
  secondFactorAt?: string | null;
  expiresAt?: string;
}

export interface SessionConfig {
  sessionTtlMs: number;
  sessionIdleMs: number;
  /** how long a last-seen time may wait before it is written (ms; last-seen.ts LAST_SEEN_FLUSH_MS when absent) */
  sessionLastSeenFlushMs?: number | undefined;
  appPasswordSessionTtlMs: number;
  freshAuthMs: number;
  /** live sessions an account may hold; a new sign-in past it ends the oldest (app-password sessions not counted) */
  maxSessionsPerAccount: number;
  /** session rows kept in memory at most on the embedded store (kept-rows.ts; default 1,000,000) */
  sessionKeptRows?: number | undefined;
}

export interface SessionDeps {
  db: Db;
  hot: HotQuery;
  /**
   * The embedded store on a file (DatabaseHandle.changeCounter and readSync): session rows are then kept in memory,
   * exact through the store's change feed (kept-rows.ts). Absent on PostgreSQL and in memory: every check reads.
   */
  changeCounter?: (() => number) | undefined;
  readSync?: ((sql: string) => SyncStatement) | undefined;
  /**
   * The embedded store on a file: the last-seen file (DatabaseHandle.sideFiles.last_seen) and the read connection that
   * attaches it (DatabaseHandle.attachedDb). Last-seen times are then written there by a worker thread (last-seen.ts).
   */
  lastSeenFile?: { path: string; reader: Db } | undefined;
  /** a failed last-seen write (retried at the next interval) */
  onError?: ((e: unknown, what?: string) => void) | undefined;
  clock: Clock;
  events: EventLog;
  notifier: Notifier;
  config: SessionConfig;
  /**
   * The strength of second factor the account requires (0 none, 1 a mailbox code, 2 an authenticator): identity's
   * answer, injected so this module does not import identity.
   */
  requiredSecondFactor(accountId: string): Promise<number>;
  /**
   * How strong a second factor of this kind is (identity's factor registry: 1 a mailbox code, 2 an authenticator or
   * a passkey; 0 for none or a kind no longer registered), so a session's step-up is judged by the factor it used.
   */
  factorStrength(kind: string | null): number;
  /** identity's account-control, the only writer of the account's credential epoch */
  accounts: CredentialEpochs;
}

/** A session's last-seen is written when older than this: at most once a minute per session, whatever the rate. */
const TOUCH_GAP_MS = 60_000;
/** The last-seen file's table, as the read connection names it (attached as `last_seen`). */
const LAST_SEEN_TABLE = "last_seen.session_last_seen";
/** ISO strings of the answer: `isoTime` is Date#toISOString's text at a fraction of its cost (every check formats 2–3). */
const iso = isoTime;

export function createSessionService(deps: SessionDeps) {
  const { db, clock, config } = deps;
  // The check reads the sessions file only: the last-seen file is read for a session only when its own row would make
  // it idle (seenFileAt, below). A subquery into the attached file on every check was a fifth to a quarter of the
  // read (a second file's read lock and b-tree; docs/benchmarks.md), for a time that with a 14-day idle limit almost
  // never decides.
  const findByTokenHash = deps.hot(sessionStore.findByTokenHashQuery(db));
  const seenFileAt = deps.lastSeenFile ? deps.hot(sessionStore.lastSeenTimeQuery(LAST_SEEN_TABLE)) : null;
  // Session rows kept in memory (embedded store on a file): the store's change feed names every session a commit
  // changed, and those are forgotten before any kept row is used, so a hit is exactly what the store would answer —
  // not a cache that can be stale: the next request after a revocation still sees it (kept-rows.ts).
  const kept =
    deps.changeCounter && deps.readSync
      ? createKeptRows(
          {
            readSync: deps.readSync,
            changeCounter: deps.changeCounter,
            pageSql: sessionStore.keptRowsPageSql(db),
            feedSql: sessionStore.changeFeedSql,
            prune: (keep) => sessionStore.pruneChangeFeed(db, keep),
            onError: deps.onError,
            now: () => clock.now(),
          },
          { maxRows: config.sessionKeptRows },
        )
      : null;
  // Last-seen writes leave the request path (last-seen.ts): a check notes the time and answers; a timer writes the
  // batch. On SQLite that write does not move the change counter, so it no longer empties `rows` once per session
  // per minute; the rows it makes stale only show an older last-seen, which `seenAt` corrects from what was noted.
  // On the embedded store on a file, the batches go to a worker thread writing the last-seen file, whose commits touch
  // neither the event loop nor the sessions file (last-seen.ts, lastSeenSideFile).
  const seenFile = deps.lastSeenFile;
  const workerWrite = seenFile ? createWorkerLastSeenWrite(seenFile.path) : null;
  // Times this process wrote to the last-seen file in about the last minute: with the file no longer read on every
  // check, they keep a session checked again within the touch gap from being noted again. A session another process
  // saw meanwhile may be noted once more than needed; the write only moves its time forward (harmless). Emptied
  // when it reaches WRITTEN_MAX, which again costs only such writes.
  const written = new Map<string, number>();
  const WRITTEN_MAX = 200_000;
  const lastSeen = createLastSeenWriter({
    write: workerWrite
      ? async (seen) => {
          await workerWrite.write(seen);
          const { ids, ats } = seen;
          if (written.size + ids.length > WRITTEN_MAX) written.clear();
          for (let i = 0; i < ids.length; i++) {
            if (ats[i]! > (written.get(ids[i]!) ?? 0)) written.set(ids[i]!, ats[i]!);
            if ((i + 1) % LAST_SEEN_SLICE === 0) await pollOnce();
          }
        }
      : (seen) => db.transaction().execute((tx) => sessionStore.advanceLastSeen(tx, seen)),
    flushMs: config.sessionLastSeenFlushMs,
    // The writer thread takes a whole flush in one transaction (it splits the messages itself).
    ...(workerWrite ? { chunk: Number.POSITIVE_INFINITY } : {}),
    onError: deps.onError,
  });

  /** The session for a token hash, and whether it is a kept row (not read by this call). */
  async function find(hash: string): Promise<[SessionWithAccount | undefined, boolean]> {
    if (!kept)
      return [await withFileTimeIfIdle((await findByTokenHash([hash]))[0] as SessionWithAccount | undefined), false];
    const v = kept.current();
    const hit = kept.get(hash);
    if (hit) return [hit, true];
    const s = await withFileTimeIfIdle((await findByTokenHash([hash]))[0] as SessionWithAccount | undefined);
    // Kept only if nothing committed meanwhile (another request may have moved the counter during the await).
    if (s) kept.keep(hash, s, v);
    return [s, false];
  }

  /** Rows read on the writer connection, with the last-seen file's later times (the embedded store on a file). */
  async function withFileTimes<R extends { id: string; last_seen_at: number }>(rs: R[]): Promise<R[]> {
    if (!seenFile || rs.length === 0) return rs;
    const t = await sessionStore.lastSeenTimes(
      seenFile.reader,
      LAST_SEEN_TABLE,
      rs.map((r) => r.id),
    );
    return rs.map((r) => ((t.get(r.id) ?? 0) > r.last_seen_at ? { ...r, last_seen_at: t.get(r.id)! } : r));
  }

  /**
   * A row read from the sessions file, with the last-seen file's time when the row alone would make the session idle:
   * the file's time is only ever later, so a row live by its own time is live by both, and the idle limit is exact.
   */
  async function withFileTimeIfIdle(s: SessionWithAccount | undefined): Promise<SessionWithAccount | undefined> {
    if (!s || !seenFileAt || seenAt(s) + config.sessionIdleMs > clock.now()) return s;
    const at = Number((await seenFileAt([s.id]))[0]?.at ?? 0);
    return at > s.last_seen_at ? { ...s, last_seen_at: at } : s;
  }

  /**
   * The latest request this node knows of: the stored time (on the embedded store the sessions file's, or the
   * last-seen file's when read), a later one noted and not written yet, or one this process wrote to the file.
   */
  function seenAt(s: { id: string; last_seen_at: number }): number {
    return Math.max(s.last_seen_at, lastSeen.pending(s.id), written.get(s.id) ?? 0);
  }

  function isLive(s: SessionWithAccount, now: number, seen = seenAt(s)): boolean {
    return (
      s.revoked_at === null &&
      s.expires_at > now &&
      seen + config.sessionIdleMs > now &&
      s.epoch === s.account_epoch &&
      s.account_status === "active"
    );
  }

  /**
   * The last-seen time a check decides by, looking up this node's pending and written times (two maps of up to
   * hundreds of thousands of sessions: most of a kept-row check's CPU at a million sessions) only when they can change
   * the answer. The row's own time seen within the touch gap decides alone: live, and nothing to note. A kept row
   * carries this process's notes (`checked` replaces it), so its own time decides unless it would make it idle; a
   * kept row read again after the feed named it may show an older time than noted, and is then noted once more (a
   * write that only moves a time forward).
   */
  function seenForCheck(s: SessionWithAccount, now: number, wasKept: boolean): number {
    const own = s.last_seen_at;
    if (own >= now - TOUCH_GAP_MS || (wasKept && own + config.sessionIdleMs > now)) return own;
    return seenAt(s);
  }

  /**
   * The concurrent-session limit: past it, the oldest live sessions end (reason session_limit), each with an event and
   * a notice, in the sign-in's transaction. App-password sessions are short and not counted.
   */
  async function endOverLimit(tx: Db, row: SessionRow, now: number): Promise<string[]> {
    const live = (await sessionStore.liveForAccount(tx, row.account_id, row.epoch, now)).filter(
      (r) => r.channel !== "app_password",
    );
    const over = live.length - config.maxSessionsPerAccount;
    if (over <= 0) return [];
    const ended: string[] = [];
    for (const old of live.filter((r) => r.id !== row.id).slice(0, over)) {
      if (!(await sessionStore.revoke(tx, old.id, row.account_id, "session_limit", now))) continue;
      ended.push(old.id);
      const ev = await deps.events.append(tx, {
        accountId: row.account_id,
        type: "session.revoked",
        data: { sessionId: old.id, reason: "session_limit", limit: config.maxSessionsPerAccount },
        actor: `session:${row.id}`,
        ip: row.ip,
      });
      await deps.notifier.securityNotice(tx, {
        accountId: row.account_id,
        eventId: ev.id,
        template: "session_limit_reached",
        vars: {
          device: [old.browser, old.os, old.device_type].filter(Boolean).join(", ") || "unknown",
          limit: String(config.maxSessionsPerAccount),
        },
      });
    }
    return ended;
  }

  /**
   * The session if it is live now. When its last-seen is older than the touch gap, this request's time is noted (and
   * written later, off the request path) and the row itself moved forward, so the next checks of a kept row neither
   * note it again nor see it as more idle than it is.
   */
  function checked(s: SessionWithAccount | undefined, now: number, wasKept = false): SessionWithAccount | undefined {
    if (!s) return undefined;
    const seen = seenForCheck(s, now, wasKept);
    if (!isLive(s, now, seen)) return undefined;
    if (seen >= now - TOUCH_GAP_MS) return s;
    lastSeen.note(s.id, now);
    // In place: a time only moves forward, so whoever else holds this row (a concurrent check of the same session)
    // may see it too; a copy put back in the kept rows cost an object and a second lookup in a million-row map.
    s.last_seen_at = now;
    return s;
  }

  function answer(s: SessionWithAccount): Introspection {
    return {
      active: true,
      sessionId: s.id,
      accountId: s.account_id,
      channel: s.channel,
      factor: s.factor,
      authTime: iso(s.auth_time),
      secondFactorAt: s.second_factor_at === null ? null : iso(s.second_factor_at),
      expiresAt: iso(s.expires_at),
    };
  }

  /** A fresh authentication: signed in (or re-authenticated) within the freshness window, and not an app password. */
  function assertFreshAuth(s: SessionWithAccount, now: number): void {
    if (s.channel === "app_password") throw SessionErrors.reauthentication_required();
    if (now - s.auth_time > config.freshAuthMs) throw SessionErrors.reauthentication_required();
  }

  function hasFreshSecondFactor(s: SessionWithAccount, required: number, now: number): boolean {
    return (
      s.second_factor_at !== null &&
      now - s.second_factor_at <= config.freshAuthMs &&
      deps.factorStrength(s.second_factor_kind) >= required
    );
  }

  /**
   * Ending other sessions is a sensitive change: a fresh sign-in, and when a session older than the caller's would
   * end, a fresh second factor as strong as the account requires — so an attacker's brand-new session cannot sign
   * the owner out (the owner's older session can always sign the attacker out after re-entering the password).
   */
  async function assertMayEnd(s: SessionWithAccount, targets: { created_at: number }[]): Promise<void> {
    const now = clock.now();
    assertFreshAuth(s, now);
    if (!targets.some((t) => t.created_at < s.created_at)) return;
    const required = await deps.requiredSecondFactor(s.account_id);
    if (required > 0 && !hasFreshSecondFactor(s, required, now)) {
      throw SessionErrors.second_factor_required({ reason: "older_sessions", required });
    }
  }

  return {
    /** Creates the session row; call inside the sign-in transaction. Returns the token (shown once). */
    async create(
      tx: Db,
      input: {
        accountId: string;
        epoch: number;
        ctx: EnrichedContext;
        factor: string;
        /** the second factor's kind (a registered factor's: totp, recovery_code, email_code, passkey…), or null */
        secondFactor: string | null;
        appPasswordId?: string | null;
      },
    ): Promise<{ token: string; row: SessionRow; ended: SessionRow["id"][] }> {
      const now = clock.now();
      const token = newToken("mms");
      const appPw = input.appPasswordId != null;
      const row: SessionRow = {
        id: newId(),
        token_hash: sha256(token),
        account_id: input.accountId,
        channel: appPw ? "app_password" : input.ctx.channel === "app" ? "app" : "web",
        app_password_id: input.appPasswordId ?? null,
        epoch: input.epoch,
        created_at: now,
        auth_time: now,
        second_factor_at: input.secondFactor ? now : null,
        second_factor_kind: input.secondFactor,
        factor: input.factor,
        last_seen_at: now,
        expires_at: now + (appPw ? config.appPasswordSessionTtlMs : config.sessionTtlMs),
        revoked_at: null,
        revoked_reason: null,
        ip: input.ctx.ip,
        country: input.ctx.country,
        asn: input.ctx.asn,
        as_org: input.ctx.asOrg,
        user_agent: input.ctx.userAgent.slice(0, 512),
        browser: input.ctx.browser,
        os: input.ctx.os,
        device_type: input.ctx.deviceType,
        device_id: input.ctx.deviceId ?? null,
      };
      await sessionStore.insert(tx, row);
      return { token, row, ended: appPw ? [] : await endOverLimit(tx, row, now) };
    },

    /**
     * Authoritative: reads the session and the account's epoch from the store on every call, never a cache,
     * so an ended session is rejected on the very next request on every node.
     */
    async introspect(token: string): Promise<Introspection> {
      const s = await this.lookup(token);
      return s ? answer(s) : { active: false };
    },

    /**
     * The same answer at once, when a kept row gives it (the embedded store; exact, as `find` is): the route then
     * answers without a promise or a turn of the microtask queue. Undefined when the store must be read — no kept row,
     * or a kept row that would be refused (an idle refusal may need the last-seen file: `lookup` decides those).
     */
    introspectKept(token: string): Introspection | undefined {
      if (!kept || typeof token !== "string" || token.length < 10 || token.length > 200) return undefined;
      const hash = sha256(token);
      kept.current();
      const live = checked(kept.get(hash), clock.now(), true);
      return live && answer(live);
    },

    /** The live session for a token, or undefined. */
    async lookup(token: string): Promise<SessionWithAccount | undefined> {
      if (typeof token !== "string" || token.length < 10 || token.length > 200) return undefined;
      const hash = sha256(token);
      const now = clock.now();
      const [s, wasKept] = await find(hash);
      const live = checked(s, now, wasKept);
      // A kept row refused as idle is read again: the last-seen file's commits (another process's batch) are not in
      // the change feed, so such a row may show an older last-seen than the store. Every other refusal is exact.
      if (live || !s || !wasKept || !seenFile || seenAt(s) + config.sessionIdleMs > now) return live;
      kept?.drop(hash, s);
      return checked((await find(hash))[0], now);
    },

    /** The live session with this id, or undefined (for the security center, which never holds a token). */
    async lookupById(id: string): Promise<SessionWithAccount | undefined> {
      const s = await sessionStore.findById(db, id);
      return checked(s && (await withFileTimes([s]))[0], clock.now());
    },

    async require(token: string | undefined): Promise<SessionWithAccount> {
      const s = token ? await this.lookup(token) : undefined;
      if (!s) throw SessionErrors.session_invalid();
      return s;
    },

    /**
     * Sensitive changes need a recent sign-in, and a recent second factor at least as strong as `required` (0: none;
     * the account's requirement from identity, e.g. 2 when an authenticator is enrolled).
     */
    assertFresh(s: SessionWithAccount, required: number): void {
      const now = clock.now();
      assertFreshAuth(s, now);
      if (required > 0 && !hasFreshSecondFactor(s, required, now)) {
        throw SessionErrors.second_factor_required({ required });
      }
    },

    /** The last-seen time the store holds for a session: written batches only, not this node's pending notes. */
    async storedLastSeen(id: string): Promise<number | undefined> {
      const r = await db.selectFrom("sessions").select(["id", "last_seen_at"]).where("id", "=", id).executeTakeFirst();
      return r && (await withFileTimes([r]))[0]!.last_seen_at;
    },

    /** Writes the last-seen times noted so far (a timer does it every LAST_SEEN_FLUSH_MS; tests call it). */
    flushLastSeen: () => lastSeen.flush(),

    /**
     * Loads every live session into the kept rows (embedded store on a file; nothing elsewhere), a page per turn of
     * the event loop, so checks are served meanwhile (server.ts starts it after listening).
     */
    warm: async (): Promise<{ rows: number; ms: number } | null> => (kept ? await kept.warm() : null),

    /** Session rows kept in memory now (0 where none are kept). */
    keptRows: () => kept?.size() ?? 0,

    /** At shutdown: writes what is noted, then stops the timer. */
    close: async () => {
      kept?.stop();
      try {
        await lastSeen.close();
      } finally {
        await workerWrite?.close();
      }
    },

    /** The second-factor strength the account requires (identity's answer). */
    requiredSecondFactor: (accountId: string) => deps.requiredSecondFactor(accountId),

    /**
     * A new token for the caller's session, in the caller's transaction: after a re-authentication or a change of
     * factors, a token that leaked before the privilege change is worth nothing. Same session id.
     */
    async rotate(tx: Db, s: SessionWithAccount): Promise<{ id: string; token: string; expiresAt: string }> {
      const token = newToken("mms");
      if (!(await sessionStore.rotateToken(tx, s.id, sha256(token)))) throw SessionErrors.session_invalid();
      return { id: s.id, token, expiresAt: iso(s.expires_at) };
    },

    async list(s: SessionWithAccount): Promise<SessionView[]> {
      const now = clock.now();
      const rows = await withFileTimes(await sessionStore.listForAccount(db, s.account_id, now - 30 * 24 * 3600_000));
      const account = { account_epoch: s.account_epoch, account_status: s.account_status };
      return rows.map((r) => ({
        id: r.id,
        channel: r.channel,
        current: r.id === s.id,
        active: isLive({ ...r, ...account }, now),
        createdAt: iso(r.created_at),
        lastSeenAt: iso(seenAt(r)),
        authTime: iso(r.auth_time),
        expiresAt: iso(r.expires_at),
        endedAt: r.revoked_at === null ? null : iso(r.revoked_at),
        endedReason: r.revoked_reason,
        factor: r.factor,
        ip: r.ip,
        country: r.country,
        asn: r.asn,
        device: { browser: r.browser, os: r.os, type: r.device_type, id: r.device_id },
        appPasswordId: r.app_password_id,
      }));
    },

    async revoke(s: SessionWithAccount, sessionId: string): Promise<void> {
      if (sessionId !== s.id) {
        const target = await db
          .selectFrom("sessions")
          .select("created_at")
          .where("id", "=", sessionId)
          .where("account_id", "=", s.account_id)
          .executeTakeFirst();
        if (!target) throw SessionErrors.session_not_found();
        await assertMayEnd(s, [target]);
      }
      await db.transaction().execute(async (tx) => {
        const ok = await sessionStore.revoke(tx, sessionId, s.account_id, "revoked_by_user", clock.now());
        if (!ok) throw SessionErrors.session_not_found();
        await deps.events.append(tx, {
          accountId: s.account_id,
          type: "session.revoked",
          data: { sessionId },
          actor: `session:${s.id}`,
        });
      });
    },

    async signOut(s: SessionWithAccount): Promise<void> {
      await db.transaction().execute(async (tx) => {
        await sessionStore.revoke(tx, s.id, s.account_id, "signed_out", clock.now());
        await deps.events.append(tx, {
          accountId: s.account_id,
          type: "session.signed_out",
          data: { sessionId: s.id },
          actor: `session:${s.id}`,
        });
      });
    },

    /**
     * Support ends every session and app password of an account, without a lockdown (the account stays active, nothing
     * is rolled back). In the caller's transaction, with the staff log's event; the owner is told.
     */
    async endAllBySupport(
      tx: Db,
      input: { accountId: string; staffId: string; staffName: string; reason: string; ip: string | null },
    ): Promise<{ sessionsEnded: number; appPasswordsRevoked: number }> {
      const now = clock.now();
      const live = await tx
        .selectFrom("sessions")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("account_id", "=", input.accountId)
        .where("revoked_at", "is", null)
        .where("expires_at", ">", now)
        .executeTakeFirstOrThrow();
      const apps = await tx
        .selectFrom("app_passwords")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("account_id", "=", input.accountId)
        .where("revoked_at", "is", null)
        .executeTakeFirstOrThrow();
      const epoch = await sessionStore.bumpEpoch(tx, input.accountId, {
        epochs: deps.accounts,
        keepSessionId: null,
        reason: "support",
        now,
      });
      const counts = { sessionsEnded: Number(live.n), appPasswordsRevoked: Number(apps.n) };
      const ev = await deps.events.append(tx, {
        accountId: input.accountId,
        type: "sessions.ended_by_support",
        data: { staffId: input.staffId, staff: input.staffName, reason: input.reason, epoch, ...counts },
        actor: `admin:${input.staffId}`,
        ip: input.ip,
      });
      await deps.notifier.securityNotice(tx, {
        accountId: input.accountId,
        eventId: ev.id,
        template: "sessions_ended_by_support",
        vars: { at: iso(now) },
      });
      return counts;
    },

    async signOutEverywhere(s: SessionWithAccount, ip: string | null): Promise<void> {
      // A mail client's app password must not be able to sign the owner out of everything; nor a new session the
      // owner's older ones without a second factor.
      const now0 = clock.now();
      await assertMayEnd(
        s,
        (await sessionStore.liveForAccount(db, s.account_id, s.account_epoch, now0)).filter((r) => r.id !== s.id),
      );
      await db.transaction().execute(async (tx) => {
        const now = clock.now();
        const epoch = await sessionStore.bumpEpoch(tx, s.account_id, {
          epochs: deps.accounts,
          keepSessionId: s.id,
          reason: "signed_out_everywhere",
          now,
        });
        const ev = await deps.events.append(tx, {
          accountId: s.account_id,
          type: "sessions.signed_out_everywhere",
          data: { keptSessionId: s.id, epoch },
          actor: `session:${s.id}`,
          ip,
        });
        await deps.notifier.securityNotice(tx, {
          accountId: s.account_id,
          eventId: ev.id,
          template: "signed_out_everywhere",
          vars: { at: iso(now) },
        });
      });
    },
  };
}

export type SessionService = ReturnType<typeof createSessionService>;
