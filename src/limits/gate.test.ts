import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { GateShed, PriorityGate } from "./gate.ts";

/** A job that runs until released, recording when it started. */
function held(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => {
    release = r;
  });
  return {
    job: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
    release: () => release(),
  };
}

const tick = () => new Promise((r) => setImmediate(r));

describe("PriorityGate", () => {
  it("keeps a slot for the high class: low-class work never takes the last one", async () => {
    const g = new PriorityGate({ slots: 2, reserved: 1, maxQueuedLow: 10, maxQueuedHigh: 10, maxWaitMs: 1e9 });
    const log: string[] = [];
    const lows = [held(log, "low1"), held(log, "low2")];
    const p = lows.map((l) => g.run("low", l.job));
    await tick();
    assert.deepEqual(log, ["start low1"], "the second low waits: one slot is reserved");
    const high = held(log, "high1");
    const ph = g.run("high", high.job);
    await tick();
    assert.deepEqual(log, ["start low1", "start high1"], "the owner's hash starts at once");
    high.release();
    assert.equal(await ph, "high1");
    lows[0]!.release();
    await tick();
    assert.ok(log.includes("start low2"));
    lows[1]!.release();
    assert.deepEqual(await Promise.all(p), ["low1", "low2"]);
  });

  it("serves queued high-class jobs before queued low-class ones", async () => {
    const g = new PriorityGate({ slots: 2, reserved: 1, maxQueuedLow: 10, maxQueuedHigh: 10, maxWaitMs: 1e9 });
    const log: string[] = [];
    const a = held(log, "high-a");
    const b = held(log, "high-b");
    const pa = g.run("high", a.job);
    const pb = g.run("high", b.job);
    const low = held(log, "low");
    const c = held(log, "high-c");
    const pl = g.run("low", low.job);
    const pc = g.run("high", c.job);
    await tick();
    assert.deepEqual(log, ["start high-a", "start high-b"]);
    a.release();
    await pa;
    await tick();
    assert.equal(log.at(-1), "start high-c", "the waiting high job goes first, though the low one queued earlier");
    b.release();
    c.release();
    low.release();
    await Promise.all([pb, pc, pl]);
    assert.deepEqual(g.stats(), {
      running: { high: 0, low: 0 },
      queued: { high: 0, low: 0 },
      admitted: { high: 3, low: 1 },
      shed: { high: 0, low: 0 },
    });
  });

  it("sheds low-class work when its queue is full, and work that waited too long, without running it", async () => {
    let now = 0;
    const g = new PriorityGate(
      { slots: 2, reserved: 1, maxQueuedLow: 2, maxQueuedHigh: 10, maxWaitMs: 100 },
      () => now,
    );
    const log: string[] = [];
    const first = held(log, "l0");
    const p0 = g.run("low", first.job);
    const q1 = g.run("low", held(log, "l1").job);
    const q2 = g.run("low", held(log, "l2").job);
    await assert.rejects(g.run("low", held(log, "l3").job), (e: unknown) => e instanceof GateShed);
    now = 500;
    first.release();
    await p0;
    await assert.rejects(q1, (e: unknown) => e instanceof GateShed && e.reason === "waited_too_long");
    await assert.rejects(q2, (e: unknown) => e instanceof GateShed && e.reason === "waited_too_long");
    assert.deepEqual(log, ["start l0", "end l0"], "shed jobs never ran");
    assert.deepEqual(g.stats().admitted, { high: 0, low: 1 });
    assert.deepEqual(g.stats().shed, { high: 0, low: 3 });
  });

  it("a job that throws frees its slot", async () => {
    const g = new PriorityGate({ slots: 2, reserved: 1 });
    await assert.rejects(
      g.run("low", async () => {
        throw new Error("boom");
      }),
    );
    assert.equal(await g.run("low", async () => 1), 1);
    assert.deepEqual(g.stats().running, { high: 0, low: 0 });
  });
});
