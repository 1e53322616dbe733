import { createPoller, type Poller } from "../outbox/poller.ts";
import type { Clock } from "../shared/clock.ts";
import type { OutboxStore } from "./store.ts";
import type { Transport } from "./transport.ts";

export interface DispatcherDeps {
  outbox: OutboxStore;
  transport: Transport;
  clock: Clock;
  logger?: { warn(obj: object, msg: string): void };
  /** rows claimed per run */
  batch?: number;
  /** how long a claim holds a row before another dispatcher may take it over (a crashed one) */
  leaseMs?: number;
}

export type Dispatcher = Poller<{ sent: number; failed: number }>;

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const batch = deps.batch ?? 20;
  const leaseMs = deps.leaseMs ?? 5 * 60_000;

  async function dispatch(): Promise<{ sent: number; failed: number }> {
    const rows = await deps.outbox.claimDue(batch, leaseMs);
    let sent = 0;
    let failed = 0;
    for (const row of rows) {
      // Sends are sequential: when the batch outlasts a row's lease another dispatcher may own it now; leave it.
      if (row.locked_until !== null && deps.clock.now() >= row.locked_until) continue;
      try {
        await deps.transport.send({
          channel: row.channel === "sms" ? "sms" : "email",
          to: row.recipient,
          subject: row.subject,
          body: row.body,
          id: row.id,
        });
      } catch (e) {
        failed++;
        const error = e instanceof Error ? e.message : String(e);
        const outcome = await deps.outbox.markFailed(row.id, error);
        deps.logger?.warn(
          { notificationId: row.id, transport: deps.transport.name, attempts: row.attempts + 1, outcome, error },
          "notification delivery failed",
        );
        continue;
      }
      await deps.outbox.markSent(row.id);
      sent++;
    }
    return { sent, failed };
  }

  // the poll loop is the outbox's, shared with the webhook dispatcher
  return createPoller({
    dispatch,
    handled: (r) => r.sent + r.failed,
    batch,
    failureMessage: "notification dispatcher run failed",
    logger: deps.logger,
  });
}
