import type { StaffAudit } from "../admin/audit.ts";
import type { StaffIdentity } from "../admin/service.ts";
import type { CommerceReads } from "../commerce/reads.ts";
import type { Db } from "../db/database.ts";
import type { EventLog } from "../events/store.ts";
import type { FactorPanel } from "../identity/factors/registry.ts";
import type { IdentityService } from "../identity/service.ts";
import type { ResponseService } from "../response/service.ts";
import type { Clock } from "../shared/clock.ts";
import { MamoriError } from "../shared/errors.ts";
import type { Lang, Msg } from "../web/i18n.ts";
import { eventLabel } from "./timeline.ts";

/**
 * What the support console reads: accounts found by anything a caller might quote (a past address, an order, a gift
 * card code, the first characters of a name), and one account's whole record for a person to read. Reads only, except
 * the reveal of a masked value, which is a staff event before it is shown.
 */
export interface ConsoleDeps {
  db: Db;
  identity: IdentityService;
  events: EventLog;
  response: ResponseService;
  audit: StaffAudit;
  clock: Clock;
  /** the commerce record, read through commerce's own port (console queries none of its tables) */
  commerce: CommerceReads;
  findByOrderOrGiftCard: (q: string) => Promise<{ accountId: string; kind: string; value: string }[]>;
  /** the timeline's words for the factors' own events (the factor registry's `changeEvents`, app.ts) */
  factorEventLabels?: Readonly<Record<string, Msg>>;
  /** the factor panel: every registered factor's status and enrolled items (the registry's `faces`, app.ts) */
  factors: { faces(accountId: string): Promise<FactorPanel[]> };
}

export interface SearchHit {
  accountId: string;
  status: string;
  email: string | null;
  createdAt: string;
  matched: { kind: string; value: string; current: boolean }[];
}

/** Card tokens and street addresses are masked unless a reveal (a staff event with its reason) asked for them. */
export type Reveal = { kind: "address" | "order_address" | "card"; id: string } | null;

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function createConsoleService(deps: ConsoleDeps) {
  const { db, identity, events } = deps;

  return {
    /** An event type in people's words: the factors' own from the registry, the rest from timeline.ts. */
    eventLabel(type: string, lang: Lang): string {
      return deps.factorEventLabels?.[type]?.[lang] ?? eventLabel(type, lang);
    },

    /**
     * Any email or phone the account ever had (removed ones too: the caller quotes the address they remember), an
     * account id, an order id, a gift card code, or the first two or more characters of a name on an address.
     */
    async search(q: string): Promise<{ tooShort: boolean; hits: SearchHit[] }> {
      const query = q.trim().slice(0, 254);
      if ([...query].length < 2) return { tooShort: true, hits: [] };
      const byId = new Map<string, SearchHit>();
      const add = (
        a: { id: string; status: string; createdAt: string; emails: { value: string; primary: boolean }[] },
        matched: SearchHit["matched"],
      ) => {
        const hit = byId.get(a.id) ?? {
          accountId: a.id,
          status: a.status,
          email: a.emails.find((e) => e.primary)?.value ?? a.emails[0]?.value ?? null,
          createdAt: a.createdAt,
          matched: [],
        };
        hit.matched.push(...matched);
        byId.set(a.id, hit);
      };
      if (query.length >= 3) {
        for (const a of await identity.findAccounts(query, await deps.findByOrderOrGiftCard(query))) {
          add(
            a,
            a.matched.map((m) => ({ kind: m.kind, value: m.value, current: m.current })),
          );
        }
      }
      // Names are on addresses (a store knows its buyers by the name they ship to); removed ones count too.
      const named = await deps.commerce.addressesNamed(query, 50);
      for (const n of named) {
        if (byId.get(n.account_id)?.matched.some((m) => m.kind === "name" && m.value === n.name)) continue;
        const a = await identity.getAccount(n.account_id).catch(() => null);
        if (a) add(a, [{ kind: "name", value: n.name, current: n.removed_at === null }]);
      }
      return { tooShort: false, hits: [...byId.values()] };
    },

    /** Everything the account view shows, read at once. Throws account_not_found for an unknown id. */
    async account(accountId: string) {
      const account = await identity.getAccount(accountId);
      const [contacts, evs, logins, sessions, cases, caseSessions, factors] = await Promise.all([
        identity.contactHistory(accountId),
        events.list(accountId, { limit: 300 }),
        identity.listLoginHistory(accountId, 100),
        db
          .selectFrom("sessions")
          .selectAll()
          .where("account_id", "=", accountId)
          .orderBy("created_at", "desc")
          .limit(200)
          .execute(),
        deps.response.listCases({ accountId, limit: 50 }),
        db
          .selectFrom("case_sessions")
          .innerJoin("cases", "cases.id", "case_sessions.case_id")
          .select(["case_sessions.session_id", "case_sessions.role"])
          .where("cases.account_id", "=", accountId)
          .execute(),
        deps.factors.faces(accountId),
      ]);
      const emails = contacts.filter((c) => c.kind === "email").map((c) => c.value);
      const { orders, addresses, instruments, listings, giftCards } = await deps.commerce.accountRecord(
        accountId,
        emails,
      );
      const holds = await deps.commerce.holdsOf([
        ...orders.map((o) => o.id),
        ...giftCards.map((g) => g.id),
        ...listings.map((l) => l.id),
      ]);
      // Actors named: staff by their login name, sessions by what they were (a session outside the 200 is fetched).
      const staffIds = new Set<string>();
      const sessionIds = new Set<string>();
      for (const e of evs) {
        const [kind, id] = splitActor(e.actor);
        if ((kind === "admin" || kind === "staff") && id) staffIds.add(id);
        if (kind === "session" && id) sessionIds.add(id);
      }
      const known = new Set(sessions.map((x) => x.id));
      const missing = [...sessionIds].filter((id) => !known.has(id));
      const more = missing.length
        ? await db.selectFrom("sessions").selectAll().where("id", "in", missing).execute()
        : [];
      const staff = staffIds.size
        ? await db
            .selectFrom("admin_users")
            .select(["id", "username"])
            .where("id", "in", [...staffIds])
            .execute()
        : [];
      return {
        account,
        /** every registered factor, in registration order (identity/factors/registry.ts `faces`) */
        factors,
        contacts,
        events: evs,
        logins,
        sessions: sessions.map((x) => ({
          ...x,
          active: x.revoked_at === null && x.expires_at > deps.clock.now(),
        })),
        actorSessions: new Map([...sessions, ...more].map((x) => [x.id, x])),
        staffNames: new Map(staff.map((x) => [x.id, x.username])),
        attackerSessions: new Set(caseSessions.filter((c) => c.role === "attacker").map((c) => c.session_id)),
        orders,
        /** the review queue's holds on the orders, gift cards and listings shown, newest first per object */
        holds,
        addresses,
        instruments,
        listings,
        giftCards,
        cases,
      };
    },

    /**
     * Shows one masked value (a street address, a card token) to a staff member who says why: the staff log records
     * who, what and why before anything is shown. Refuses an object that is not this account's.
     */
    async reveal(
      staff: StaffIdentity,
      input: { accountId: string; kind: string; id: string; reason: string },
      ip: string,
    ): Promise<Reveal> {
      const reason = input.reason.trim().slice(0, 500);
      if (reason.length < 3) throw new MamoriError("reason_required", 400, "Say why (at least 3 characters).");
      let owner: string | undefined;
      let kind: NonNullable<Reveal>["kind"] | undefined;
      if (input.kind === "address" || input.kind === "order_address" || input.kind === "card") {
        kind = input.kind;
        owner = await deps.commerce.ownerOf(kind, input.id);
      }
      if (!kind || owner !== input.accountId) return null;
      await deps.audit.record({
        type: "support.revealed",
        staffId: staff.adminId,
        username: staff.username,
        data: { accountId: input.accountId, kind, objectId: input.id, reason },
        actor: `staff:${staff.adminId}`,
        ip,
      });
      return { kind, id: input.id };
    },
  };
}

/** "session:abc" → ["session", "abc"]; "system" → ["system", null]. */
export function splitActor(actor: string): [string, string | null] {
  const i = actor.indexOf(":");
  return i < 0 ? [actor, null] : [actor.slice(0, i), actor.slice(i + 1)];
}

export { iso };
export type ConsoleService = ReturnType<typeof createConsoleService>;
export type AccountRecord = Awaited<ReturnType<ConsoleService["account"]>>;
