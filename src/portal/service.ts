import type { CommerceReads } from "../commerce/reads.ts";
import type { Db } from "../db/database.ts";
import type { FactorPanel } from "../identity/factors/registry.ts";
import type { FactorStepUp } from "../identity/factors/types.ts";
import type { SessionView } from "../sessions/service.ts";
import type { SessionWithAccount } from "../sessions/store.ts";
import type { Clock } from "../shared/clock.ts";
import { newId, newToken, sha256 } from "../shared/crypto.ts";
import { portalStore as store } from "./store.ts";

export interface PortalConfig {
  publicUrl: string;
  /** how long the one-time URL works (minutes are enough: the store redirects at once) */
  linkTtlMs: number;
  /** the longest a portal browser session lives, even while its Mamori session does */
  pageTtlMs: number;
}

/** What the security center needs from other domains: narrow ports, so portal owns only its own two tables. */
export interface PortalDeps {
  db: Db;
  clock: Clock;
  config: PortalConfig;
  sessions: {
    require(token: string | undefined): Promise<SessionWithAccount>;
    lookupById(id: string): Promise<SessionWithAccount | undefined>;
    list(s: SessionWithAccount): Promise<SessionView[]>;
    signOut(s: SessionWithAccount): Promise<void>;
    /** The API's revokeSession: ends one other session of the account (its own rule on older sessions applies). */
    revoke(s: SessionWithAccount, sessionId: string): Promise<void>;
    /** The API's freshness gate for sensitive changes (throws reauthentication_required / second_factor_required). */
    assertFresh(s: SessionWithAccount, required: number): void;
    /** The second factor the account requires (2: an authenticator or a passkey), identity's answer. */
    requiredSecondFactor(accountId: string): Promise<number>;
  };
  identity: {
    getAccount(accountId: string): Promise<{
      language: string;
      emails: { value: string; verified: boolean; primary: boolean }[];
      phones: { value: string; verified: boolean }[];
      totpEnabled: boolean;
      recoveryCodesLeft: number;
      passwordChangedAt: string | null;
    }>;
    listLoginHistory(
      accountId: string,
      limit: number,
    ): Promise<
      {
        id: string;
        at: string;
        outcome: string;
        reason: string | null;
        channel: string;
        ip: string;
        country: string | null;
        asn: number | null;
        device: { browser: string | null; os: string | null; type: string | null };
        sessionId: string | null;
      }[]
    >;
    /** Password (and second factor) again before a sensitive change: the API's own step-up, token rotated. */
    reauthenticate(
      s: SessionWithAccount,
      input: { password: string; totpCode?: string; recoveryCode?: string },
      ip: string | null,
    ): Promise<unknown>;
    // The API's own methods for factors and app passwords: each applies the API's freshness gate itself.
    enrollTotp(s: SessionWithAccount): Promise<{ secret: string; uri: string }>;
    confirmTotp(
      s: SessionWithAccount,
      input: { code: string },
      ip: string | null,
    ): Promise<{ recoveryCodes: string[] }>;
    disableTotp(s: SessionWithAccount, ip: string | null): Promise<unknown>;
    regenerateRecoveryCodes(s: SessionWithAccount, ip: string | null): Promise<{ recoveryCodes: string[] }>;
    listAppPasswords(s: SessionWithAccount): Promise<
      {
        id: string;
        name: string;
        createdAt: string;
        active: boolean;
        revokedAt: string | null;
        lastUsedAt: string | null;
        lastUsedIp: string | null;
        lastUsedCountry: string | null;
      }[]
    >;
    createAppPassword(
      s: SessionWithAccount,
      input: { name: string },
      ip: string | null,
    ): Promise<{ id: string; name: string; password: string }>;
    revokeAppPassword(s: SessionWithAccount, id: string, ip: string | null): Promise<void>;
    contactHistory(accountId: string): Promise<
      {
        kind: string;
        value: string;
        verified: boolean;
        addedAt: string;
        addedBy: string | null;
        removedAt: string | null;
        removedBy: string | null;
      }[]
    >;
    /** "This wasn't me" from the owner's own signed-in page: the same lockdown as the mailed link. */
    reportNotMeFromPortal(input: {
      accountId: string;
      sessionId: string;
      reportedAt: number | null;
      what: string;
      ip: string | null;
    }): Promise<{ caseId: string }>;
  };
  /** The account's allowed sign-in countries: risk's security setting (event, notice, rollback). */
  risk: {
    getAllowedCountries(accountId: string): Promise<string[]>;
    setAllowedCountries(
      accountId: string,
      countries: string[],
      by: { sessionId: string | null; ip: string | null },
    ): Promise<string[]>;
  };
  /** The account's cases (lockdowns and recoveries), newest first: response's read. */
  cases: {
    listCases(filter: { accountId: string; limit: number }): Promise<
      {
        id: string;
        status: string;
        reason: string;
        createdAt: string;
        lockedDownAt: string | null;
        recoveredAt: string | null;
      }[]
    >;
  };
  /** Every order of the account, held and cancelled ones too (commerce's read port). */
  commerce: Pick<CommerceReads, "ordersOfAccount">;
  /** The factor section: every registered factor's status line and actions (the registry's `faces`, app.ts). */
  /** and how each enrolled factor is asked for at a step-up (the registry's `stepUps`: portal/step-up.tsx) */
  factors: {
    faces(accountId: string): Promise<FactorPanel[]>;
    stepUps(accountId: string): Promise<FactorStepUp[]>;
  };
}

export type NotMeKind = "session" | "login" | "order";

export type PortalPage = { id: string; session: SessionWithAccount };

export function createPortalService(deps: PortalDeps) {
  const { db, clock, config } = deps;

  return {
    /**
     * The store's backend, for its signed-in user: a one-time URL to the security center, bound to this Mamori
     * session. Single use, a few minutes; the portal lives no longer than the session.
     */
    async createPortalSession(sessionToken: string | undefined): Promise<{ url: string; expiresAt: string }> {
      const s = await deps.sessions.require(sessionToken);
      const token = newToken("mpl");
      const now = clock.now();
      const expiresAt = now + config.linkTtlMs;
      await store.insertLink(db, {
        id: newId(),
        tokenHash: sha256(token),
        sessionId: s.id,
        accountId: s.account_id,
        now,
        expiresAt,
      });
      return {
        url: `${config.publicUrl}/portal/enter?t=${encodeURIComponent(token)}`,
        expiresAt: new Date(expiresAt).toISOString(),
      };
    },

    /** Opens the portal from a one-time URL: a browser session (cookie token) for the same Mamori session. */
    async enter(
      token: string | undefined,
    ): Promise<{ cookie: string; maxAgeS: number; accountId: string } | "used" | "expired" | "invalid"> {
      if (typeof token !== "string" || !/^mpl_[A-Za-z0-9_-]{20,80}$/.test(token)) return "invalid";
      const now = clock.now();
      const used = await store.consumePortalLink(db, sha256(token), now);
      if (typeof used === "string") return used;
      const s = await deps.sessions.lookupById(used.sessionId);
      // The Mamori session ended between the store's call and the click: the link is worth nothing.
      if (!s) return "expired";
      const cookie = newToken("mps");
      const expiresAt = Math.min(now + config.pageTtlMs, Number(s.expires_at));
      await store.insertSession(db, {
        id: newId(),
        tokenHash: sha256(cookie),
        sessionId: s.id,
        accountId: s.account_id,
        now,
        expiresAt,
      });
      return { cookie, maxAgeS: Math.max(1, Math.floor((expiresAt - now) / 1000)), accountId: s.account_id };
    },

    /** The portal session behind a cookie, while its Mamori session lives; ended with it otherwise. */
    async current(cookie: string | undefined): Promise<PortalPage | undefined> {
      if (typeof cookie !== "string" || !/^mps_[A-Za-z0-9_-]{20,80}$/.test(cookie)) return undefined;
      const now = clock.now();
      const p = await store.findSession(db, sha256(cookie), now);
      if (!p) return undefined;
      const s = await deps.sessions.lookupById(p.session_id);
      if (!s || s.account_id !== p.account_id) {
        await store.endSession(db, p.id, now);
        return undefined;
      }
      return { id: p.id, session: s };
    },

    /** Everything the security center shows, read at once. */
    async view(p: PortalPage) {
      const id = p.session.account_id;
      const [account, sessions, history, orders, appPasswords, countries, contacts, cases, factors] = await Promise.all(
        [
          deps.identity.getAccount(id),
          deps.sessions.list(p.session),
          deps.identity.listLoginHistory(id, 30),
          deps.commerce.ordersOfAccount(id, 200),
          deps.identity.listAppPasswords(p.session),
          deps.risk.getAllowedCountries(id),
          deps.identity.contactHistory(id),
          deps.cases.listCases({ accountId: id, limit: 5 }),
          deps.factors.faces(id),
        ],
      );
      return { account, sessions, history, orders, appPasswords, countries, contacts, cases, factors };
    },

    /** Password (and the authenticator or a recovery code) again: the API's step-up, for the API's fresh gate. */
    async reauthenticate(p: PortalPage, input: { password: string; code: string }, ip: string | null) {
      const code = input.code.normalize("NFKC").replace(/[\s-]/g, "");
      await deps.identity.reauthenticate(
        p.session,
        {
          password: input.password,
          ...(code === "" ? {} : /^\d{6}$/.test(code) ? { totpCode: code } : { recoveryCode: code }),
        },
        ip,
      );
    },

    /** How the account's enrolled factors are asked for at a step-up (portal/step-up.tsx `stepUpWays`). */
    stepUps: (p: PortalPage) => deps.factors.stepUps(p.session.account_id),

    enrollTotp: (p: PortalPage) => deps.identity.enrollTotp(p.session),
    confirmTotp: (p: PortalPage, code: string, ip: string | null) =>
      deps.identity.confirmTotp(p.session, { code: code.normalize("NFKC").replace(/\s/g, "").slice(0, 12) }, ip),
    disableTotp: (p: PortalPage, ip: string | null) => deps.identity.disableTotp(p.session, ip),
    regenerateRecoveryCodes: (p: PortalPage, ip: string | null) => deps.identity.regenerateRecoveryCodes(p.session, ip),
    createAppPassword: (p: PortalPage, name: string, ip: string | null) =>
      deps.identity.createAppPassword(p.session, { name }, ip),
    revokeAppPassword: (p: PortalPage, id: string, ip: string | null) =>
      deps.identity.revokeAppPassword(p.session, id, ip),

    /**
     * The API's rule for this setting (risk/routes.ts setSignInCountries): a fresh sign-in, and a fresh second factor
     * as strong as an enrolled authenticator or passkey — the page is never a weaker door than the API.
     */
    async setAllowedCountries(p: PortalPage, countries: string[], ip: string | null) {
      const a = await deps.identity.getAccount(p.session.account_id);
      const strong = a.totpEnabled || (await deps.sessions.requiredSecondFactor(p.session.account_id)) >= 2;
      deps.sessions.assertFresh(p.session, strong ? 2 : 0);
      return deps.risk.setAllowedCountries(p.session.account_id, countries, { sessionId: p.session.id, ip });
    },

    /** "Sign out of this device": ends the Mamori session, and with it the portal. */
    /** Signs one of her other devices out, without a lockdown (a device of her own she no longer uses). */
    async signOutDevice(p: PortalPage, sessionId: string): Promise<void> {
      await deps.sessions.revoke(p.session, sessionId);
    },

    async signOutHere(p: PortalPage): Promise<void> {
      await deps.sessions.signOut(p.session);
      await store.endSession(db, p.id, clock.now());
    },

    /**
     * "This wasn't me" on a session or a sign-in: the lockdown, in one click, as from a mailed link. The window opens
     * no later than the reported sign-in.
     */
    async notMe(p: PortalPage, what: { kind: NotMeKind; at: number | null; ref: string }, ip: string | null) {
      const r = await deps.identity.reportNotMeFromPortal({
        accountId: p.session.account_id,
        sessionId: p.session.id,
        reportedAt: what.at,
        what: `${what.kind}:${what.ref}`,
        ip,
      });
      await store.endSession(db, p.id, clock.now());
      return r;
    },
  };
}

export type PortalService = ReturnType<typeof createPortalService>;
