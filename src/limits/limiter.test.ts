import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HOUR, ManualClock, MINUTE } from "../shared/clock.ts";
import type { CounterStore } from "./counters.ts";
import { defaultRules, type LimitRule, RateLimiter } from "./limiter.ts";
import { createMemoryCounterStore } from "./memory.ts";

const rule: LimitRule = { name: "test", limit: 3, windowMs: 10 * MINUTE };

function setup() {
  const clock = new ManualClock();
  const store = createMemoryCounterStore();
  return { clock, store, limiter: new RateLimiter(store, clock) };
}

describe("RateLimiter", () => {
  it("allows up to the limit, then refuses with the time until the oldest attempt expires", async () => {
    const { clock, limiter, store } = setup();
    assert.deepEqual(await limiter.consume(rule, "ip-1"), { allowed: true, retryAfterMs: 0, count: 1 });
    clock.advance(MINUTE);
    assert.deepEqual(await limiter.consume(rule, "ip-1"), { allowed: true, retryAfterMs: 0, count: 2 });
    clock.advance(MINUTE);
    assert.deepEqual(await limiter.consume(rule, "ip-1"), { allowed: true, retryAfterMs: 0, count: 3 });
    // First attempt was 2 minutes ago; it leaves the 10-minute window in 8.
    assert.deepEqual(await limiter.consume(rule, "ip-1"), { allowed: false, retryAfterMs: 8 * MINUTE, count: 3 });
    await store.close();
  });

  it("lets the attempt through once the retry-after has passed (sliding, not fixed, window)", async () => {
    const { clock, limiter, store } = setup();
    for (let i = 0; i < 3; i++) {
      await limiter.consume(rule, "acct");
      clock.advance(MINUTE);
    }
    const refused = await limiter.consume(rule, "acct");
    assert.equal(refused.allowed, false);
    clock.advance(refused.retryAfterMs - 1);
    assert.equal((await limiter.consume(rule, "acct")).allowed, false, "1 ms early is still refused");
    clock.advance(1);
    assert.deepEqual(await limiter.consume(rule, "acct"), { allowed: true, retryAfterMs: 0, count: 3 });
    // Only one slot freed: the next one waits for the second-oldest attempt.
    assert.deepEqual(await limiter.consume(rule, "acct"), { allowed: false, retryAfterMs: MINUTE, count: 3 });
    await store.close();
  });

  it("an attacker hammering a locked key does not extend the lockout", async () => {
    const { clock, limiter, store } = setup();
    for (let i = 0; i < 3; i++) await limiter.consume(rule, "victim");
    for (let i = 0; i < 50; i++) {
      clock.advance(10_000);
      assert.equal((await limiter.consume(rule, "victim")).allowed, false);
    }
    // 500 s of refused attempts; the original three leave the window at 600 s regardless.
    clock.set(new ManualClock().now() + 10 * MINUTE);
    assert.equal((await limiter.consume(rule, "victim")).allowed, true);
    assert.equal(await store.count("test:victim", rule.windowMs, clock.now()), 1, "refused attempts were not stored");
    await store.close();
  });

  it("concurrent attempts cannot exceed the limit", async () => {
    const { limiter, store } = setup();
    const results = await Promise.all(Array.from({ length: 20 }, () => limiter.consume(rule, "burst")));
    assert.equal(results.filter((r) => r.allowed).length, 3);
    assert.ok(results.filter((r) => !r.allowed).every((r) => r.retryAfterMs > 0));
    await store.close();
  });

  it("peek reports without recording", async () => {
    const { limiter, store } = setup();
    assert.deepEqual(await limiter.peek(rule, "k"), { allowed: true, retryAfterMs: 0, count: 0 });
    for (let i = 0; i < 3; i++) await limiter.consume(rule, "k");
    assert.deepEqual(await limiter.peek(rule, "k"), { allowed: false, retryAfterMs: 10 * MINUTE, count: 3 });
    assert.deepEqual(await limiter.peek(rule, "k"), { allowed: false, retryAfterMs: 10 * MINUTE, count: 3 });
    await store.close();
  });

  it("reset clears only that rule and key (e.g. failures after a successful sign-in)", async () => {
    const { limiter, store } = setup();
    const other: LimitRule = { ...rule, name: "other" };
    for (let i = 0; i < 3; i++) {
      await limiter.consume(rule, "a");
      await limiter.consume(rule, "b");
      await limiter.consume(other, "a");
    }
    await limiter.reset(rule, "a");
    assert.equal((await limiter.peek(rule, "a")).allowed, true);
    assert.equal((await limiter.peek(rule, "b")).allowed, false);
    assert.equal((await limiter.peek(other, "a")).allowed, false);
    await store.close();
  });

  it("keys are namespaced by rule: the same key under two rules counts separately", async () => {
    const { limiter, store } = setup();
    const perIp: LimitRule = { name: "perIp", limit: 1, windowMs: MINUTE };
    const perAcct: LimitRule = { name: "perAcct", limit: 1, windowMs: MINUTE };
    assert.equal((await limiter.consume(perIp, "x")).allowed, true);
    assert.equal((await limiter.consume(perAcct, "x")).allowed, true);
    assert.equal((await limiter.consume(perIp, "x")).allowed, false);
    await store.close();
  });

  it("refuses rule names that could collide with another rule's keys", async () => {
    const { limiter, store } = setup();
    await assert.rejects(limiter.consume({ name: "a:b", limit: 1, windowMs: MINUTE }, "c"), /rule name/);
    await store.close();
  });

  it("without store support for the oldest event, retry-after is the whole window", async () => {
    const clock = new ManualClock();
    const mem = createMemoryCounterStore();
    const basic: CounterStore = {
      hit: (k, w, n) => mem.hit(k, w, n),
      count: (k, w, n) => mem.count(k, w, n),
      reset: (k) => mem.reset(k),
      close: () => mem.close(),
    };
    const limiter = new RateLimiter(basic, clock);
    await limiter.consume({ ...rule, limit: 1 }, "k");
    clock.advance(MINUTE);
    assert.deepEqual(await limiter.consume({ ...rule, limit: 1 }, "k"), {
      allowed: false,
      retryAfterMs: rule.windowMs,
      count: 1,
    });
    await basic.close();
  });
});

describe("defaultRules", () => {
  it("stay within NIST SP 800-63B §5.2.2 (≤ 100 failed attempts per account)", () => {
    assert.ok(defaultRules.signinFailuresPerAccount.limit <= 100);
    assert.ok(defaultRules.codeChecksPerAccount.limit <= 100);
  });

  it("have the documented limits and unique names matching their keys", () => {
    assert.deepEqual(
      Object.fromEntries(Object.entries(defaultRules).map(([k, r]) => [k, [r.name, r.limit, r.windowMs]])),
      {
        signinPerIp: ["signinPerIp", 100, 15 * MINUTE],
        signinFailuresPerAccount: ["signinFailuresPerAccount", 10, 15 * MINUTE],
        codeChecksPerAccount: ["codeChecksPerAccount", 10, 15 * MINUTE],
        codeChecksPerIp: ["codeChecksPerIp", 100, 15 * MINUTE],
        resetRequestsPerAccount: ["resetRequestsPerAccount", 5, HOUR],
        resetRequestsPerIp: ["resetRequestsPerIp", 30, HOUR],
      },
    );
  });

  it("eleventh failed sign-in on an account within 15 minutes is refused", async () => {
    const { clock, limiter, store } = setup();
    for (let i = 0; i < 10; i++) {
      assert.equal((await limiter.consume(defaultRules.signinFailuresPerAccount, "acct-1")).allowed, true);
      clock.advance(30_000);
    }
    const r = await limiter.consume(defaultRules.signinFailuresPerAccount, "acct-1");
    assert.equal(r.allowed, false);
    assert.equal(r.retryAfterMs, 15 * MINUTE - 10 * 30_000);
    await store.close();
  });
});
