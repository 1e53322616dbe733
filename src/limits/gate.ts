/**
 * A two-class admission gate for expensive work (password hashing). Under credential stuffing every attacker attempt
 * costs an argon2 hash before anything can refuse it, and the owners signing in wait behind them. The gate runs at
 * most `slots` jobs at once and keeps one slot for the high class: the low class (attempts from a device the account
 * has never signed in from, and unknown accounts) may hold at most `slots − reserved` of them, waits in a bounded
 * queue, and is shed — never run — when that queue is full or a job has waited longer than `maxWaitMs`.
 *
 * Shedding happens before the hash, so its answer cannot depend on the password.
 */
export type GateClass = "high" | "low";

export interface GateOptions {
  /** jobs running at once (default 2: this machine's cores; argon2 uses one thread each) */
  slots: number;
  /** slots only the high class may use (default 1) */
  reserved: number;
  /** low-class jobs that may wait; more are shed at once */
  maxQueuedLow: number;
  /** high-class jobs that may wait (large: they are few, but never unbounded) */
  maxQueuedHigh: number;
  /** a queued job that waited this long is shed instead of run */
  maxWaitMs: number;
}

export const DEFAULT_GATE: GateOptions = {
  slots: 2,
  reserved: 1,
  maxQueuedLow: 32,
  maxQueuedHigh: 1024,
  maxWaitMs: 2000,
};

export class GateShed extends Error {
  constructor(readonly reason: "queue_full" | "waited_too_long") {
    super(`shed: ${reason}`);
  }
}

interface Waiter {
  start: () => void;
  shed: (e: GateShed) => void;
  queuedAt: number;
}

export class PriorityGate {
  private running = { high: 0, low: 0 };
  /** jobs run and jobs shed since start, per class */
  private readonly admitted = { high: 0, low: 0 };
  private readonly shedCount = { high: 0, low: 0 };
  private readonly queues: { high: Waiter[]; low: Waiter[] } = { high: [], low: [] };
  private readonly opts: GateOptions;

  constructor(
    opts: Partial<GateOptions> = {},
    private readonly now: () => number = () => performance.now(),
  ) {
    this.opts = { ...DEFAULT_GATE, ...opts };
    if (this.opts.reserved >= this.opts.slots) throw new Error("PriorityGate: reserved must be below slots");
  }

  /** Jobs running and waiting, per class (for metrics and tests). */
  stats() {
    return {
      running: { ...this.running },
      queued: { high: this.queues.high.length, low: this.queues.low.length },
      admitted: { ...this.admitted },
      shed: { ...this.shedCount },
    };
  }

  private canStart(cls: GateClass): boolean {
    const total = this.running.high + this.running.low;
    if (total >= this.opts.slots) return false;
    return cls === "high" || this.running.low < this.opts.slots - this.opts.reserved;
  }

  /** Runs `job` when a slot of its class is free; rejects with GateShed instead of running it when overloaded. */
  async run<T>(cls: GateClass, job: () => Promise<T>): Promise<T> {
    const q = this.queues[cls];
    if (q.length === 0 && this.canStart(cls)) {
      this.running[cls]++;
    } else {
      const max = cls === "high" ? this.opts.maxQueuedHigh : this.opts.maxQueuedLow;
      if (q.length >= max) {
        this.shedCount[cls]++;
        throw new GateShed("queue_full");
      }
      // `next` counts the slot for us before it wakes this job, so no other job can take it in between.
      await new Promise<void>((start, shed) => q.push({ start, shed, queuedAt: this.now() }));
    }
    this.admitted[cls]++;
    try {
      return await job();
    } finally {
      this.running[cls]--;
      this.next();
    }
  }

  /** Hands free slots to queued jobs, the high class first; low-class jobs that waited too long are shed. */
  private next(): void {
    for (const cls of ["high", "low"] as const) {
      const q = this.queues[cls];
      while (q.length > 0 && this.canStart(cls)) {
        const w = q.shift()!;
        if (this.now() - w.queuedAt > this.opts.maxWaitMs) {
          this.shedCount[cls]++;
          w.shed(new GateShed("waited_too_long"));
          continue;
        }
        this.running[cls]++;
        w.start();
      }
    }
  }
}
