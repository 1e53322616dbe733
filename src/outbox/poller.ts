/**
 * The outbox's poll loop, one for every dispatcher (notifications, webhooks): a run claims a batch and sends it; runs
 * never overlap; a kick wakes it at once; a full batch means more may be due, so it runs again.
 */
export interface Poller<R> {
  /** Claims one batch and sends it; runs never overlap (a call waits for the run in flight). */
  runOnce(): Promise<R>;
  /** Polls every intervalMs (and runs now). */
  start(intervalMs: number): void;
  /** Stops polling and waits for the run in flight. */
  stop(): Promise<void>;
  /** Runs as soon as possible; kicks during a run coalesce into one more run. */
  kick(): void;
}

export interface PollerDeps<R> {
  /** one run: claim a batch (claimDue) and send it */
  dispatch: () => Promise<R>;
  /** rows a run handled; a run that handled `batch` rows is followed by another at once */
  handled: (r: R) => number;
  batch: number;
  /** what the log says failed, e.g. "notification dispatcher run failed" */
  failureMessage: string;
  logger?: { warn(obj: object, msg: string): void } | undefined;
}

export function createPoller<R>(deps: PollerDeps<R>): Poller<R> {
  let chain: Promise<unknown> = Promise.resolve();
  let loop: Promise<void> | null = null;
  let again = false;
  let kickPending = false;
  let interval: NodeJS.Timeout | null = null;
  let stopped = false;

  function runOnce(): Promise<R> {
    const run = chain.then(deps.dispatch);
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
          if (deps.handled(r) >= deps.batch) again = true;
        } catch (e) {
          deps.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, deps.failureMessage);
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
