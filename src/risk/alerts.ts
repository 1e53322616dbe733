/**
 * Seed 003's missing alert: a sign-in that got past the password but left its second factor (challenge or emailed
 * code) unfinished for 10 minutes tells the owner "someone may have your password — change it", with the "This
 * wasn't me" link. A sweep, run on the notification dispatcher's cadence; idempotent per challenge (risk_alerts),
 * so two nodes or a rerun send it once.
 */
import { sql } from "kysely";
import type { Db } from "../db/database.ts";
import type { EventLog } from "../events/store.ts";
import type { Notifier } from "../notify/notifier.ts";
import type { Clock } from "../shared/clock.ts";
import type { ContextEnricher, RequestContext } from "../shared/context.ts";

export const UNFINISHED_AFTER_MS = 10 * 60_000;
/** Older challenges are not alerted any more (a node that was down for a day does not send stale alarms). */
const LOOKBACK_MS = 24 * 3_600_000;

export interface AlertDeps {
  db: Db;
  clock: Clock;
  events: EventLog;
  notifier: Notifier;
  enricher: ContextEnricher;
}

export function createUnfinishedSecondFactorSweep(deps: AlertDeps) {
  const { db, clock } = deps;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<number> | null = null;

  async function sweep(): Promise<number> {
    const now = clock.now();
    const due = await db
      .selectFrom("signin_challenges")
      .leftJoin("risk_alerts", (j) => j.on(sql<boolean>`risk_alerts.subject = 'challenge:' || signin_challenges.id`))
      .select([
        "signin_challenges.id",
        "signin_challenges.account_id",
        "signin_challenges.context",
        "signin_challenges.created_at",
      ])
      .where("signin_challenges.completed_at", "is", null)
      .where("signin_challenges.created_at", "<=", now - UNFINISHED_AFTER_MS)
      .where("signin_challenges.created_at", ">", now - LOOKBACK_MS)
      .where("risk_alerts.subject", "is", null)
      .orderBy("signin_challenges.created_at")
      .limit(200)
      .execute();
    let sent = 0;
    for (const c of due) {
      const raw = JSON.parse(c.context) as RequestContext;
      const ctx = deps.enricher.enrich({
        ip: raw.ip,
        userAgent: raw.userAgent ?? "",
        deviceId: raw.deviceId,
        channel: raw.channel ?? "web",
      });
      const did = await db.transaction().execute(async (t) => {
        const r = await t
          .insertInto("risk_alerts")
          .values({
            subject: `challenge:${c.id}`,
            account_id: c.account_id,
            kind: "unfinished_second_factor",
            sent_at: now,
          })
          .onConflict((oc) => oc.column("subject").doNothing())
          .executeTakeFirst();
        if (Number(r.numInsertedOrUpdatedRows ?? 0) !== 1) return false;
        const ev = await deps.events.append(t, {
          accountId: c.account_id,
          type: "risk.second_factor_unfinished",
          data: { challengeId: c.id, startedAt: Number(c.created_at), country: ctx.country, ip: ctx.ip },
          actor: "system",
          ip: ctx.ip,
        });
        await deps.notifier.securityNotice(t, {
          accountId: c.account_id,
          eventId: ev.id,
          template: "risk_unfinished_second_factor",
          vars: {
            at: new Date(Number(c.created_at)).toISOString(),
            ip: ctx.ip,
            country: ctx.country ?? "unknown",
            network: ctx.asOrg ? `${ctx.asOrg} (AS${ctx.asn})` : ctx.asn !== null ? `AS${ctx.asn}` : "unknown",
            device: [ctx.browser, ctx.os, ctx.deviceType].filter(Boolean).join(", ") || ctx.userAgent.slice(0, 80),
          },
        });
        return true;
      });
      if (did) sent++;
    }
    return sent;
  }

  return {
    /** Sends the alerts due now; returns how many. Concurrent calls share one run. */
    runOnce(): Promise<number> {
      running ??= sweep().finally(() => {
        running = null;
      });
      return running;
    },
    start(intervalMs: number, onError: (e: unknown) => void = () => {}): void {
      if (timer) return;
      timer = setInterval(() => {
        this.runOnce().catch(onError);
      }, intervalMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      timer = null;
      await running?.catch(() => {});
    },
  };
}
