import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { Redis } from "ioredis";
import { REDIS_URL } from "../testing/stores.ts";
import type { CounterStore } from "./counters.ts";
import { createMemoryCounterStore } from "./memory.ts";
import { createRedisCounterStore } from "./redis.ts";

/** null when Redis answers PING, otherwise why not (printed as the skip reason). */
async function redisUnavailable(): Promise<string | null> {
  if (process.env.MAMORI_TEST_REDIS === "off") return "MAMORI_TEST_REDIS=off";
  const probe = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: 1500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  let lastError: Error | null = null;
  probe.on("error", (e: Error) => {
    lastError = e;
  });
  try {
    await probe.connect();
    await probe.ping();
    return null;
  } catch (e) {
    const why = (lastError as Error | null)?.message ?? (e as Error).message;
    return `Redis not reachable at ${REDIS_URL} (${why}); set MAMORI_TEST_REDIS_URL`;
  } finally {
    probe.disconnect();
  }
}

// Unique per run, so parallel test runs against one Redis never share keys.
const RUN_PREFIX = `mamori-test:${randomBytes(6).toString("hex")}:`;
const T0 = Date.UTC(2026, 0, 1);
const MIN = 60_000;

const backends: { name: string; skip: () => Promise<string | null>; open: () => CounterStore }[] = [
  { name: "memory", skip: async () => null, open: () => createMemoryCounterStore() },
  { name: "redis", skip: redisUnavailable, open: () => createRedisCounterStore(REDIS_URL, { prefix: RUN_PREFIX }) },
];

for (const backend of backends) {
  describe(`CounterStore contract: ${backend.name}`, async () => {
    const skip = await backend.skip();
    if (skip) console.log(`skipping ${backend.name} counter tests: ${skip}`);
    const store = skip ? null : backend.open();
    after(async () => {
      await store?.close();
    });
    let n = 0;
    // A fresh key per test: tests do not depend on each other's leftovers.
    const key = () => `k${n++}:${randomBytes(4).toString("hex")}`;
    const opts = { skip: skip ?? false };

    it("counts every hit inside the window, hit returning the running count", opts, async () => {
      const k = key();
      assert.equal(await store!.count(k, MIN, T0), 0);
      assert.equal(await store!.hit(k, MIN, T0), 1);
      assert.equal(await store!.hit(k, MIN, T0 + 1000), 2);
      assert.equal(await store!.hit(k, MIN, T0 + 2000), 3);
      assert.equal(await store!.count(k, MIN, T0 + 2000), 3);
      assert.equal(await store!.count(k, MIN, T0 + 30_000), 3);
    });

    it("forgets events once they leave the window (now - window, now]", opts, async () => {
      const k = key();
      await store!.hit(k, MIN, T0);
      await store!.hit(k, MIN, T0 + 10_000);
      assert.equal(await store!.count(k, MIN, T0 + MIN - 1), 2, "still inside 1 ms before the edge");
      assert.equal(await store!.count(k, MIN, T0 + MIN), 1, "an event exactly one window old has left");
      assert.equal(await store!.hit(k, MIN, T0 + MIN + 10_000), 1, "both old events gone; only the new one counts");
      assert.equal(await store!.count(k, MIN, T0 + 3 * MIN), 0);
    });

    it("does not count events recorded after the time asked about", opts, async () => {
      const k = key();
      await store!.hit(k, MIN, T0 + 5000);
      assert.equal(await store!.count(k, MIN, T0), 0);
      assert.equal(await store!.count(k, MIN, T0 + 5000), 1);
    });

    it("reports the oldest event still in the window", opts, async () => {
      const k = key();
      assert.equal(await store!.oldest?.(k, MIN, T0), null);
      await store!.hit(k, MIN, T0);
      await store!.hit(k, MIN, T0 + 20_000);
      assert.equal(await store!.oldest?.(k, MIN, T0 + 30_000), T0);
      assert.equal(await store!.oldest?.(k, MIN, T0 + MIN + 1), T0 + 20_000);
    });

    it("reset clears a key", opts, async () => {
      const k = key();
      await store!.hit(k, MIN, T0);
      await store!.hit(k, MIN, T0);
      await store!.reset(k);
      assert.equal(await store!.count(k, MIN, T0), 0);
      assert.equal(await store!.hit(k, MIN, T0), 1);
    });

    it("200 concurrent hits at the same instant are all counted, each seeing a distinct count", opts, async () => {
      const k = key();
      const counts = await Promise.all(Array.from({ length: 200 }, () => store!.hit(k, MIN, T0)));
      assert.deepEqual(
        [...counts].sort((a, b) => a - b),
        Array.from({ length: 200 }, (_, i) => i + 1),
      );
      assert.equal(await store!.count(k, MIN, T0), 200);
    });

    it("keys are isolated, including keys that are prefixes of each other", opts, async () => {
      const k = key();
      await store!.hit(`${k}:a`, MIN, T0);
      await store!.hit(`${k}:a`, MIN, T0);
      await store!.hit(`${k}:ab`, MIN, T0);
      assert.equal(await store!.count(`${k}:a`, MIN, T0), 2);
      assert.equal(await store!.count(`${k}:ab`, MIN, T0), 1);
      assert.equal(await store!.count(`${k}:b`, MIN, T0), 0);
      await store!.reset(`${k}:a`);
      assert.equal(await store!.count(`${k}:ab`, MIN, T0), 1);
    });
  });
}

describe("memory counter store bounds", () => {
  it("sweeps keys whose events have all left their window", async () => {
    const store = createMemoryCounterStore();
    try {
      for (let i = 0; i < 50; i++) await store.hit(`idle-${i}`, MIN, T0);
      await store.hit("busy", 10 * MIN, T0 + 2 * MIN);
      assert.equal(store.size, 51);
      assert.equal(store.sweep(), 50, "idle keys are one window old by the latest time seen");
      assert.equal(store.size, 1);
      assert.equal(await store.count("busy", 10 * MIN, T0 + 2 * MIN), 1);
    } finally {
      await store.close();
    }
  });

  it("caps events per key, so one hammered key cannot grow without bound", async () => {
    const store = createMemoryCounterStore({ maxEventsPerKey: 100 });
    try {
      for (let i = 0; i < 250; i++) await store.hit("flood", MIN, T0 + i);
      assert.equal(await store.count("flood", MIN, T0 + 250), 100);
    } finally {
      await store.close();
    }
  });

  it("its sweep timer does not keep the process alive", () => {
    // A child that opens a store and never closes it must still exit on its own.
    const url = new URL("./memory.ts", import.meta.url).href;
    const child = spawnSync(
      process.execPath,
      [
        "--import",
        "tsx",
        "--input-type=module",
        "-e",
        `(await import(${JSON.stringify(url)})).createMemoryCounterStore({ sweepIntervalMs: 10 });`,
      ],
      { timeout: 15_000, encoding: "utf8" },
    );
    assert.equal(child.signal, null, "child had to be killed: the timer kept it alive");
    assert.equal(child.status, 0, child.stderr);
  });
});

describe("redis counter store specifics", async () => {
  const skip = await redisUnavailable();
  const opts = { skip: skip ?? false };

  it("sets a TTL of one window so idle keys vanish from Redis", opts, async () => {
    const store = createRedisCounterStore(REDIS_URL, { prefix: RUN_PREFIX });
    const raw = new Redis(REDIS_URL);
    try {
      await store.hit("ttl", 5000, Date.now());
      const ttl = await raw.pttl(`${RUN_PREFIX}ttl`);
      assert.ok(ttl > 0 && ttl <= 5000, `pttl ${ttl}`);
    } finally {
      await store.close();
      await raw.quit();
    }
  });

  it("caps stored events per key", opts, async () => {
    const store = createRedisCounterStore(REDIS_URL, { prefix: RUN_PREFIX, maxEventsPerKey: 50 });
    const raw = new Redis(REDIS_URL);
    try {
      for (let i = 0; i < 120; i++) await store.hit("cap", MIN, T0 + i);
      assert.equal(await raw.zcard(`${RUN_PREFIX}cap`), 50);
      assert.equal(await store.count("cap", MIN, T0 + 120), 50);
    } finally {
      await store.reset("cap");
      await store.close();
      await raw.quit();
    }
  });

  it("rejects commands instead of hanging when Redis is unreachable", async () => {
    // Port 1 on loopback: connection refused immediately.
    const errors: Error[] = [];
    const store = createRedisCounterStore("redis://127.0.0.1:1", { onError: (e) => errors.push(e) });
    try {
      await assert.rejects(store.hit("x", MIN, T0));
      assert.ok(errors.length > 0, "connection errors reach onError");
    } finally {
      await store.close();
    }
  });
});
