import type { Db, HotQuery } from "../db/database.ts";
import type { EventLog } from "../events/store.ts";
import type { Notifier } from "../notify/notifier.ts";
import type { Clock } from "../shared/clock.ts";
import type { EnrichedContext } from "../shared/context.ts";
import { newId, newToken, sha256 } from "../shared/crypto.ts";
import { SessionErrors } from "./errors.ts";
import { type SessionRow, type SessionWithAccount, sessionStore } from "./store.ts";

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
  appPasswordSessionTtlMs: number;
  freshAuthMs: number;
}

export interface SessionDeps {
  db: Db;
  hot: HotQuery;
  /** see DatabaseHandle.changeCounter: when present, session rows are kept while the store is unchanged */
  changeCounter?: (() => number) | undefined;
  clock: Clock;
  events: EventLog;
  notifier: Notifier;
  config: SessionConfig;
}

const TOUCH_GAP_MS = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

export function createSessionService(deps: SessionDeps) {
  const { db, clock, config } = deps;
  const findByTokenHash = deps.hot(sessionStore.findByTokenHashQuery(db));
  // Rows read while the store's change counter had a given value. Any commit anywhere (a revocation, a sign-in, a
  // touch) changes the counter and empties the map, so a hit is exactly what the store would answer: this is not a
  // cache that can be stale, and the next request after a revocation still sees it.
  const changeCounter = deps.changeCounter;
  const rows = new Map<string, SessionWithAccount>();
  let rowsAt = -1;
  const MAX_ROWS = 10_000;

  async function find(hash: string): Promise<SessionWithAccount | undefined> {
    if (!changeCounter) return (await findByTokenHash([hash]))[0] as SessionWithAccount | undefined;
    const v = changeCounter();
    if (v !== rowsAt) {
      rows.clear();
      rowsAt = v;
    }
    const hit = rows.get(hash);
    if (hit) return hit;
    const s = (await findByTokenHash([hash]))[0] as SessionWithAccount | undefined;
    // Only if nothing committed meanwhile (another request may have moved the counter during the await).
    if (s && rowsAt === v && changeCounter() === v && rows.size < MAX_ROWS) rows.set(hash, s);
    return s;
  }

  function isLive(s: SessionWithAccount, now: number): boolean {
    return (
      s.revoked_at === null &&
      s.expires_at > now &&
      s.last_seen_at + config.sessionIdleMs > now &&
      s.epoch === s.account_epoch &&
      s.account_status === "active"
    );
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
        secondFactor: boolean;
        appPasswordId?: string | null;
      },
    ): Promise<{ token: string; row: SessionRow }> {
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
      return { token, row };
    },

    /**
     * Authoritative: reads the session and the account's epoch from the store on every call, never a cache,
     * so an ended session is rejected on the very next request on every node.
     */
    async introspect(token: string): Promise<Introspection> {
      const s = await this.lookup(token);
      if (!s) return { active: false };
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
    },

    /** The live session for a token, or undefined. */
    async lookup(token: string): Promise<SessionWithAccount | undefined> {
      if (typeof token !== "string" || token.length < 10 || token.length > 200) return undefined;
      const s = await find(sha256(token));
      const now = clock.now();
      if (!s || !isLive(s, now)) return undefined;
      if (s.last_seen_at < now - TOUCH_GAP_MS) await sessionStore.touch(db, s.id, now, TOUCH_GAP_MS);
      return s;
    },

    async require(token: string | undefined): Promise<SessionWithAccount> {
      const s = token ? await this.lookup(token) : undefined;
      if (!s) throw SessionErrors.session_invalid();
      return s;
    },

    /**
     * Sensitive changes need a recent sign-in, and a recent second factor when one is enrolled.
     * `totpEnrolled` comes from the account row read in the same request.
     */
    assertFresh(s: SessionWithAccount, totpEnrolled: boolean): void {
      const now = clock.now();
      if (s.channel === "app_password") throw SessionErrors.reauthentication_required();
      if (now - s.auth_time > config.freshAuthMs) throw SessionErrors.reauthentication_required();
      if (totpEnrolled && (s.second_factor_at === null || now - s.second_factor_at > config.freshAuthMs)) {
        throw SessionErrors.second_factor_required();
      }
    },

    async list(s: SessionWithAccount): Promise<SessionView[]> {
      const now = clock.now();
      const rows = await sessionStore.listForAccount(db, s.account_id, now - 30 * 24 * 3600_000);
      const account = { account_epoch: s.account_epoch, account_status: s.account_status };
      return rows.map((r) => ({
        id: r.id,
        channel: r.channel,
        current: r.id === s.id,
        active: isLive({ ...r, ...account }, now),
        createdAt: iso(r.created_at),
        lastSeenAt: iso(r.last_seen_at),
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

    async signOutEverywhere(s: SessionWithAccount, ip: string | null): Promise<void> {
      // A mail client's app password must not be able to sign the owner out of everything.
      if (s.channel === "app_password") throw SessionErrors.reauthentication_required();
      await db.transaction().execute(async (tx) => {
        const now = clock.now();
        const epoch = await sessionStore.bumpEpoch(tx, s.account_id, {
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
