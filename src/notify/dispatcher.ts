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

export interface Dispatcher {
  /** Claims one batch and sends it; runs never overlap (a call waits for the run in flight). */
  runOnce(): Promise<{ sent: number; failed: number }>;
  /** Polls every intervalMs (and runs now). */
  start(intervalMs: number): void;
  /** Stops polling and waits for the run in flight. */
  stop(): Promise<void>;
  /** Runs as soon as possible; kicks during a run coalesce into one more run. */
  kick(): void;
}

export function createDispatcher(deps: DispatcherDeps): Dispatcher {
  const batch = deps.batch ?? 20;
  const leaseMs = deps.leaseMs ?? 5 * 60_000;
  let chain: Promise<unknown> = Promise.resolve();
  let loop: Promise<void> | null = null;
  let again = false;
  let kickPending = false;
  let interval: NodeJS.Timeout | null = null;
  let stopped = false;

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

  function runOnce(): Promise<{ sent: number; failed: number }> {
    const run = chain.then(dispatch);
    chain = run.catch(() => {});
    return run;
  }

  // One loop at a time; a kick while it runs asks for one more pass, and a full batch means more may be due.
  function trigger(): void {
    if (stopped) return;
    if (loop) {
      again = true;
      return;
    }
    loop = (async () => {
      do {
        again = false;
        try {
          const r = await runOnce();
          if (r.sent + r.failed >= batch) again = true;
        } catch (e) {
          deps.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, "notification dispatcher run failed");
        }
      } while (again && !stopped);
    })().finally(() => {
      loop = null;
    });
  }

  function kick(): void {
    if (stopped || kickPending) return;
    kickPending = true;
    setImmediate(() => {
      kickPending = false;
      trigger();
    }).unref();
  }

  return {
    runOnce,
    kick,
    start(intervalMs) {
      stopped = false;
      if (interval) clearInterval(interval);
      interval = setInterval(trigger, intervalMs);
      // the outbox is durable: pending rows wait for the next start, so the poll must not keep the process alive
      interval.unref();
      kick();
    },
    async stop() {
      stopped = true;
      if (interval) clearInterval(interval);
      interval = null;
      await loop;
      await chain;
    },
  };
}
