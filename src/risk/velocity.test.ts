import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { REDIS_URL, redisUnavailable } from "../testing/stores.ts";
import { DAY, MINUTE, type VelocityStore } from "./velocity.ts";
import { createMemoryVelocityStore } from "./velocity-memory.ts";
import { createRedisVelocityStore } from "./velocity-redis.ts";

// Unique per run, so parallel test runs against one Redis never share keys.
const RUN_PREFIX = `mamori-test:vel:${randomBytes(6).toString("hex")}:`;
const T0 = Date.UTC(2026, 0, 1);
const RETENTION = 30 * DAY;

const backends: { name: string; skip: () => Promise<string | null>; open: () => VelocityStore }[] = [
  { name: "memory", skip: async () => null, open: () => createMemoryVelocityStore({ retentionMs: RETENTION }) },
  {
    // The synchronous form the risk service uses when present, run through the same contract.
    name: "memory, synchronous form",
    skip: async () => null,
    open: () => {
      const m = createMemoryVelocityStore({ retentionMs: RETENTION });
      const s = m.sync!;
      return {
        record: async (k, e) => s.record(k, e),
        count: async (k, w, now) => s.read("count", k, w, now),
        sum: async (k, w, now) => s.read("sum", k, w, now),
        distinct: async (k, w, now) => s.read("distinct", k, w, now),
        close: () => m.close(),
      };
    },
  },
  {
    name: "redis",
    skip: redisUnavailable,
    open: () => createRedisVelocityStore(REDIS_URL, { prefix: RUN_PREFIX, retentionMs: RETENTION }),
  },
];

for (const backend of backends) {
  describe(`VelocityStore contract: ${backend.name}`, async () => {
    const skip = await backend.skip();
    if (skip) console.log(`skipping ${backend.name} velocity tests: ${skip}`);
    const store = skip ? null : backend.open();
    after(async () => {
      await store?.close();
    });
    let n = 0;
    const key = () => `k${n++}:${randomBytes(4).toString("hex")}`;
    const opts = { skip: skip ?? false };

    it("count, sum and distinct over one window", opts, async () => {
      const k = key();
      assert.deepEqual(
        [await store!.count(k, MINUTE, T0), await store!.sum(k, MINUTE, T0), await store!.distinct(k, MINUTE, T0)],
        [0, 0, 0],
      );
      await store!.record(k, { at: T0, value: 25.5, member: "card-a" });
      await store!.record(k, { at: T0 + 1000, value: 10, member: "card-b" });
      await store!.record(k, { at: T0 + 2000, value: 4.25, member: "card-a" });
      await store!.record(k, { at: T0 + 3000 }); // value 1, no member
      assert.equal(await store!.count(k, MINUTE, T0 + 3000), 4);
      assert.equal(await store!.sum(k, MINUTE, T0 + 3000), 25.5 + 10 + 4.25 + 1);
      assert.equal(await store!.distinct(k, MINUTE, T0 + 3000), 2, "card-a twice, and the member-less event");
    });

    it("plain counts first, then events with a value and a member (and one arriving late)", opts, async () => {
      const k = key();
      await store!.record(k, { at: T0 });
      await store!.record(k, { at: T0 + 2000 });
      await store!.record(k, { at: T0 + 3000, value: 5, member: "card-a" });
      await store!.record(k, { at: T0 + 1000, value: 2.5, member: "card-b" }); // out of order
      await store!.record(k, { at: T0 + 4000 });
      assert.equal(await store!.count(k, MINUTE, T0 + 4000), 5);
      assert.equal(await store!.sum(k, MINUTE, T0 + 4000), 1 + 2.5 + 1 + 5 + 1);
      assert.equal(await store!.distinct(k, MINUTE, T0 + 4000), 2);
      // A window that starts after the late event: (T0 + 1000, T0 + 4000].
      assert.equal(await store!.sum(k, 3000, T0 + 4000), 1 + 5 + 1);
      assert.equal(await store!.distinct(k, 3000, T0 + 4000), 1);
    });

    it("sliding boundary: an event exactly windowMs old is out, 1 ms younger is in", opts, async () => {
      const k = key();
      await store!.record(k, { at: T0, value: 7, member: "a" });
      await store!.record(k, { at: T0 + 30_000, value: 5, member: "b" });
      const edge = T0 + MINUTE;
      assert.deepEqual(
        [
          await store!.count(k, MINUTE, edge - 1),
          await store!.sum(k, MINUTE, edge - 1),
          await store!.distinct(k, MINUTE, edge - 1),
        ],
        [2, 12, 2],
      );
      assert.deepEqual(
        [
          await store!.count(k, MINUTE, edge),
          await store!.sum(k, MINUTE, edge),
          await store!.distinct(k, MINUTE, edge),
        ],
        [1, 5, 1],
      );
      assert.equal(await store!.count(k, MINUTE, T0 + 30_000 + MINUTE), 0);
    });

    it("events after `now` are not counted yet", opts, async () => {
      const k = key();
      await store!.record(k, { at: T0 + 5000, value: 3, member: "x" });
      assert.deepEqual(
        [await store!.count(k, MINUTE, T0), await store!.sum(k, MINUTE, T0), await store!.distinct(k, MINUTE, T0)],
        [0, 0, 0],
      );
      assert.equal(await store!.count(k, MINUTE, T0 + 5000), 1);
    });

    it("windows from 1 minute to 30 days over one key", opts, async () => {
      const k = key();
      const now = T0 + 40 * DAY;
      const ages = [10_000, 5 * MINUTE, 2 * 60 * MINUTE, 3 * DAY, 20 * DAY, 29 * DAY];
      for (const [i, age] of ages.entries())
        await store!.record(k, { at: now - age, value: i + 1, member: `m${i % 3}` });
      assert.equal(await store!.count(k, MINUTE, now), 1);
      assert.equal(await store!.count(k, 60 * MINUTE, now), 2);
      assert.equal(await store!.count(k, DAY, now), 3);
      assert.equal(await store!.count(k, 7 * DAY, now), 4);
      assert.equal(await store!.count(k, 30 * DAY, now), 6);
      assert.equal(await store!.sum(k, 7 * DAY, now), 1 + 2 + 3 + 4);
      assert.equal(await store!.distinct(k, DAY, now), 3);
      assert.equal(await store!.distinct(k, 30 * DAY, now), 3);
    });

    it("retention: events older than the largest window are dropped and longer windows are clamped", opts, async () => {
      const k = key();
      await store!.record(k, { at: T0, member: "old" });
      await store!.record(k, { at: T0 + RETENTION + 1, member: "new" });
      assert.equal(await store!.count(k, 365 * DAY, T0 + RETENTION + 1), 1);
      assert.equal(await store!.distinct(k, 365 * DAY, T0 + RETENTION + 1), 1);
    });

    it("200 concurrent records, equal in time, value and member, are all kept", opts, async () => {
      const k = key();
      await Promise.all(Array.from({ length: 200 }, () => store!.record(k, { at: T0, value: 2, member: "same" })));
      await Promise.all(Array.from({ length: 50 }, (_, i) => store!.record(k, { at: T0 + 1, member: `m${i}` })));
      assert.equal(await store!.count(k, MINUTE, T0 + 1), 250);
      assert.equal(await store!.sum(k, MINUTE, T0 + 1), 200 * 2 + 50);
      assert.equal(await store!.distinct(k, MINUTE, T0 + 1), 51);
    });

    it("members and keys may contain the separator and prefixes of each other", opts, async () => {
      const k = key();
      await store!.record(`${k}:a`, { at: T0, member: "x|y|1|z" });
      await store!.record(`${k}:a`, { at: T0, member: "x|y" });
      await store!.record(`${k}:ab`, { at: T0, member: "x|y" });
      assert.equal(await store!.distinct(`${k}:a`, MINUTE, T0), 2);
      assert.equal(await store!.count(`${k}:ab`, MINUTE, T0), 1);
      assert.equal(await store!.count(`${k}:b`, MINUTE, T0), 0);
    });

    it("out-of-order records are counted by their own time", opts, async () => {
      const k = key();
      await store!.record(k, { at: T0 + 50_000, value: 1 });
      await store!.record(k, { at: T0 + 10_000, value: 2 });
      assert.equal(await store!.sum(k, MINUTE, T0 + 60_000), 3);
      assert.equal(await store!.sum(k, MINUTE, T0 + 70_000), 1);
    });
  });
}
