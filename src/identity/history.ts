import type { Db } from "../db/database.ts";
import { iso } from "./kit.ts";
import { normalizePhone } from "./normalize.ts";
import { identityStore as store } from "./store.ts";

/** What support and the owner read back: sign-in attempts, every contact point ever attached, lookup by them. */
export interface HistoryDeps<A extends { createdAt: string }> {
  db: Db;
  /** the account's view (accounts.ts), for each account a lookup finds */
  getAccount(accountId: string): Promise<A>;
}

export function createHistory<A extends { createdAt: string }>(deps: HistoryDeps<A>) {
  const { db } = deps;
  return {
    async listLoginHistory(accountId: string, limitN = 100) {
      const rows = await store.listLoginAttempts(db, accountId, Math.min(Math.max(limitN, 1), 500));
      return rows.map((r) => ({
        id: r.id,
        at: iso(r.at),
        outcome: r.outcome,
        reason: r.reason,
        channel: r.channel,
        ip: r.ip,
        country: r.country,
        asn: r.asn,
        device: { browser: r.browser, os: r.os, type: r.device_type, id: r.device_id },
        sessionId: r.session_id,
      }));
    },

    /** Support lookup by any email or phone ever attached to an account (the 002 buyer-side failure). */
    async findAccounts(q: string, extra: { accountId: string; kind: string; value: string }[] = []) {
      const query = q.trim().toLowerCase();
      let value = query;
      let kind: "email" | "phone" | null = null;
      if (query.includes("@")) kind = "email";
      else if (/^\+?[\d\s\-().]{7,}$/.test(query)) {
        kind = "phone";
        try {
          value = normalizePhone(query.startsWith("+") ? query : `+${query}`);
        } catch {
          value = query;
        }
      }
      let rows = db.selectFrom("contact_points").selectAll().where("value", "=", value);
      if (kind) rows = rows.where("kind", "=", kind);
      const hits = await rows.limit(50).execute();
      const byId = db.selectFrom("accounts").select("id").where("id", "=", query);
      const direct = await byId.executeTakeFirst();
      const ids = [
        ...new Set([
          ...hits.map((h) => h.account_id),
          ...(direct ? [direct.id] : []),
          ...extra.map((e) => e.accountId),
        ]),
      ];
      const out = [];
      for (const id of ids) {
        const acc = await deps.getAccount(id);
        const matched = hits
          .filter((h) => h.account_id === id)
          .map((h) => ({
            kind: h.kind,
            value: h.value,
            current: h.removed_at === null,
            addedAt: iso(h.added_at),
            removedAt: h.removed_at === null ? null : iso(h.removed_at),
          }));
        for (const e of extra.filter((x) => x.accountId === id)) {
          matched.push({ kind: e.kind, value: e.value, current: true, addedAt: acc.createdAt, removedAt: null });
        }
        out.push({ ...acc, matched });
      }
      return out;
    },

    async contactHistory(accountId: string) {
      return (await store.allContacts(db, accountId)).map((c) => ({
        kind: c.kind,
        value: c.value,
        verified: c.verified === 1,
        addedAt: iso(c.added_at),
        addedBy: c.added_by,
        removedAt: c.removed_at === null ? null : iso(c.removed_at),
        removedBy: c.removed_by,
        recoveryUntil: c.recovery_until === null ? null : iso(c.recovery_until),
      }));
    },
  };
}
