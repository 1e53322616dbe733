import type { Executor } from "../db/database.ts";
import type { StoredEvent } from "../events/store.ts";
import type { WebhookEmitter, WebhookEvent } from "./types.ts";

/**
 * Security events the store hears about as signed webhooks (issue 16 item 4), from the account's event log: each is
 * queued in the transaction that appended the event, so no change happens without its message. The names are the
 * public contract (README "Webhooks"); the event types they come from are internal.
 *
 * An account is frozen by a lockdown (`security.lockdown.started`) and active again after recovery
 * (`security.recovery.completed`). A second factor enrolled, removed or replaced is `security.factor.changed`: which
 * event types those are, each factor says (identity/factors/<kind>/factor.ts `changeEvents`, passed in by app.ts).
 */
export const FACTOR_CHANGED = "security.factor.changed";

export const SECURITY_WEBHOOKS: Readonly<Record<string, string>> = {
  "case.opened": "security.lockdown.started",
  "case.locked_down": "security.lockdown.completed",
  "not_me.reported": "security.not_me.reported",
  "sessions.signed_out_everywhere": "security.sessions.ended",
  "sessions.ended_all": "security.sessions.ended",
  "sessions.ended_by_support": "security.sessions.ended",
  "password.changed": "security.password.changed",
  "password.reset": "security.password.changed",
  "recovery.password_set": "security.password.changed",
  "email.changed": "security.email.changed",
  "email.change_reverted": "security.email.changed",
  "phone.added": "security.phone.changed",
  "phone.removed": "security.phone.changed",
  "risk.second_factor_unfinished": "security.signin.challenge_abandoned",
  "account.recovered": "security.recovery.completed",
};

/** Every public security webhook type (the spec lists them). */
export const SECURITY_WEBHOOK_TYPES: readonly string[] = [
  ...new Set([...Object.values(SECURITY_WEBHOOKS), FACTOR_CHANGED]),
].sort();

/**
 * The webhook messages for events just appended (only the mapped types and the factors' change events; a case opened
 * without a lockdown is not).
 */
export function securityWebhooks(
  events: readonly StoredEvent[],
  factorChangeEvents: ReadonlySet<string> = new Set(),
): WebhookEvent[] {
  const out: WebhookEvent[] = [];
  for (const ev of events) {
    const type = SECURITY_WEBHOOKS[ev.type] ?? (factorChangeEvents.has(ev.type) ? FACTOR_CHANGED : undefined);
    if (!type) continue;
    if (ev.type === "case.opened" && ev.data.lockdown !== true) continue;
    const caseId = typeof ev.data.caseId === "string" ? ev.data.caseId : null;
    out.push({
      type,
      objectType: "account",
      objectId: ev.accountId,
      accountId: ev.accountId,
      caseId,
      data: { eventId: ev.id, event: ev.type, at: new Date(ev.at).toISOString(), actor: ev.actor, ...ev.data },
    });
  }
  return out;
}

/** The event log's onAppend for the composition root (the factor registry is built after the event log). */
export function securityWebhookHook(webhooks: () => WebhookEmitter, factorChangeEvents: () => ReadonlySet<string>) {
  return async (tx: Executor, events: readonly StoredEvent[]) => {
    const hooks = securityWebhooks(events, factorChangeEvents());
    if (hooks.length) await webhooks().emitMany(tx, hooks);
  };
}
