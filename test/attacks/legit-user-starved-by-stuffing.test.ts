import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fastTestHasher, type PasswordHasher } from "../../src/identity/passwords.ts";
import type { RequestContext } from "../../src/shared/context.ts";
import { bulkAccounts } from "../../src/testing/accounts.ts";
import { makeTestApp, type TestApp, TOKYO } from "../../src/testing/app.ts";

/**
 * Issue 14: during a stuffing run a legitimate user's sign-in went from p99 392 ms to 1,649 ms, because every attacker
 * attempt cost an argon2 hash before anything refused it. Here, during an attack, the owner on her known device and
 * network still signs in (never a 429, never a challenge), and her password is hashed — in the gate's high class —
 * while the attack-listed sources are refused before any hash. Asserted on what ran (the hasher's and the gate's
 * counts), not on time: the latency is bench/stuffing.ts's.
 */
const LEAKED = "hanako-summer-2019!";
const OWN = "violet tractor sings at midnight 93";
const OWNER = "owner@example.jp";
const OWNER_HOME: RequestContext = { ...TOKYO, ip: "153.150.10.20", deviceId: "owner-pc" };
const UA =
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Mobile Safari/537.36";
/** Three residential addresses of one /24 (a proxy pool's), and a second pool's. */
const POOL = ["126.10.200.7", "126.10.200.8", "126.10.200.9", "114.160.201.5", "114.160.201.6"];

describe("legit-user-starved-by-stuffing", () => {
  let t: TestApp;
  let verifies = 0;
  const counting = (h: PasswordHasher): PasswordHasher => ({
    hash: (pw) => h.hash(pw),
    verify: (hash, pw) => {
      verifies++;
      return h.verify(hash, pw);
    },
    needsRehash: (hash) => h.needsRehash(hash),
  });

  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: "default", hasher: counting(fastTestHasher()) });
    await bulkAccounts(
      t.app,
      fastTestHasher(),
      [
        { email: OWNER, password: OWN, home: OWNER_HOME },
        ...Array.from({ length: 200 }, (_, i) => ({
          email: `user${i}@example.jp`,
          password: i % 100 === 0 ? LEAKED : OWN,
          home: { ...OWNER_HOME, ip: `153.150.${i % 100}.${i + 1}`, deviceId: `pc-${i}` },
        })),
      ],
      t.clock.now(),
    );
    t.clock.advance(86_400_000);
  });
  after(() => t.close());

  const attack = (k: number, ip: string, email = `user${k % 200}@example.jp`) =>
    t.call("POST", "/v1/sign-in", { email, password: LEAKED, context: { ip, userAgent: UA, channel: "web" } });

  it("the attack's sources are listed, then refused before any password is hashed", async () => {
    // 20 failures an hour from one address lists it (a right password is not a failure, hence 25 tries); 60 from one
    // /24 list the whole network.
    let k = 0;
    for (const ip of POOL) {
      for (let i = 0; i < 25; i++) {
        t.clock.advance(500);
        await attack(k++, ip);
      }
    }
    for (const ip of POOL) assert.equal(await t.app.identity.sourceListed(ip), true, ip);
    assert.equal(await t.app.identity.sourceListed("126.10.200.99"), true, "the rest of the pool's /24 too");

    const before = { verifies, gate: t.app.hashGate.stats() };
    for (let i = 0; i < 200; i++) {
      t.clock.advance(100);
      const r = await attack(k++, POOL[i % POOL.length]!);
      assert.equal(r.statusCode, 429, r.body);
      assert.equal(r.json().error.code, "rate_limited");
    }
    assert.equal(verifies, before.verifies, "no hash for a listed source's attempt");
    assert.deepEqual(t.app.hashGate.stats().admitted, before.gate.admitted, "nothing entered the hash gate");
  });

  it("meanwhile the owner on her known device and network signs in, her password hashed in the high class", async () => {
    // The attack goes on, now against her address too, from fresh sources (each hashed, in the low class).
    let k = 10_000;
    for (let round = 0; round < 10; round++) {
      for (let i = 0; i < 15; i++) {
        t.clock.advance(100);
        const r = await attack(k++, `180.12.${round}.${i + 1}`, i % 3 === 0 ? OWNER : undefined);
        assert.notEqual(r.json().status, "signed_in");
      }
      const before = { verifies, gate: t.app.hashGate.stats().admitted };
      const r = await t.call("POST", "/v1/sign-in", { email: OWNER, password: OWN, context: OWNER_HOME });
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().status, "signed_in", "not a 429, not a challenge, not shed");
      assert.equal(verifies, before.verifies + 1, "her password was hashed");
      const after = t.app.hashGate.stats().admitted;
      assert.equal(after.high, before.gate.high + 1, "in the high class");
      assert.equal(after.low, before.gate.low);
    }
    // Her address failed 50 times from elsewhere meanwhile (unknown devices must now pass a second factor for it);
    // her own device was never throttled, and no high-class hash was shed.
    assert.equal(t.app.hashGate.stats().shed.high, 0);
  });
});
