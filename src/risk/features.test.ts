import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { networkOf } from "../context/ip.ts";
import { makeTestApp, STRONG, type TestApp, TOKYO } from "../testing/app.ts";
import { createDbFeatureSource, type RiskFeatureSource } from "./features.ts";

const MIN = 60_000;
const DAY = 86_400_000;

// The hot source (prepared statements on the read connection / named statements on PostgreSQL) must answer exactly
// what the Kysely source answers, on every store.
describe("risk feature source: hot prepared reads equal Kysely's", () => {
  let t: TestApp;
  let kysely: RiskFeatureSource;
  let hot: RiskFeatureSource;
  let accountId: string;
  let now: number;
  before(async () => {
    t = await makeTestApp();
    kysely = createDbFeatureSource(t.app.database.db);
    hot = createDbFeatureSource(t.app.database.db, t.app.database.hot);
    ({ accountId } = await t.signUp("features@example.jp", STRONG, TOKYO));
    now = t.clock.now();
    const { db } = t.app.database;
    const attempt = (i: number, at: number, outcome: string, extra: Record<string, unknown> = {}) => ({
      id: `fa${i}`,
      account_id: accountId,
      identifier: "features@example.jp",
      outcome,
      reason: null,
      channel: "web",
      ip: "203.0.113.7",
      country: "JP",
      asn: 64500,
      user_agent: "ua",
      browser: "Chrome 120",
      os: "Windows 10",
      device_type: "desktop",
      device_id: "dev-a",
      session_id: null,
      at,
      ...extra,
    });
    await db
      .insertInto("login_attempts")
      .values([
        attempt(1, now - 30 * DAY, "succeeded"),
        attempt(2, now - 20 * DAY, "succeeded", { country: "TW", device_id: "dev-b", ip: "198.51.100.9", asn: 64501 }),
        attempt(3, now - 10 * DAY, "succeeded", { country: "TW", device_id: "dev-b" }),
        attempt(4, now - 5 * MIN, "failed"),
        attempt(5, now - 4 * MIN, "denied", { identifier: "other@example.jp" }),
        attempt(6, now - 3 * MIN, "failed", { identifier: "third@example.jp" }),
        attempt(7, now, "succeeded", { country: "US", device_id: "dev-c", ip: "203.0.113.99" }),
        attempt(8, now + MIN, "succeeded", { country: "FR", device_id: "dev-d" }),
      ])
      .execute();
    await t.app.database.db
      .transaction()
      .execute((tx) =>
        t.app.events.append(tx, { accountId, type: "password.changed", data: {}, actor: "system", ip: null }),
      );
    await db
      .insertInto("signin_challenges")
      .values([
        {
          id: "c1",
          token_hash: "h1",
          account_id: accountId,
          context: "{}",
          created_at: now - MIN,
          expires_at: now,
          attempts: 0,
        },
        {
          id: "c2",
          token_hash: "h2",
          account_id: accountId,
          context: "{}",
          created_at: now - 2 * MIN,
          expires_at: now,
          completed_at: now - MIN,
          attempts: 0,
        },
      ])
      .execute();
  });
  after(() => t.close());

  it("account facts, first seen, previous login, credential change, unfinished challenges, IP activity", async () => {
    const calls: [string, (s: RiskFeatureSource) => Promise<unknown>][] = [];
    for (const who of [accountId, "no-such-account"]) {
      for (const at of [now - 15 * DAY, now, now + 2 * MIN]) {
        calls.push([`account ${who} ${at}`, (s) => s.account(who, at)]);
        calls.push([`previousLogin ${who} ${at}`, (s) => s.previousLogin(who, at)]);
        calls.push([`lastCredentialChange ${who} ${at}`, (s) => s.lastCredentialChange(who, at)]);
        calls.push([`unfinished ${who} ${at}`, (s) => s.unfinishedSecondFactor(who, DAY, at)]);
        for (const [d, c] of [
          ["dev-a", "JP"],
          ["dev-b", "TW"],
          ["dev-c", "US"],
          ["dev-d", "FR"],
          ["dev-x", "DE"],
          [null, null],
          [null, "TW"],
        ] as const) {
          calls.push([`firstSeen ${who} ${d} ${c} ${at}`, (s) => s.firstSeen(who, d, c, at)]);
          if (d) calls.push([`deviceSeen ${who} ${d} ${at}`, (s) => s.deviceSeen(who, d, at)]);
        }
      }
    }
    for (const who of [accountId, "no-such-account"]) {
      for (const at of [now - 25 * DAY, now - 15 * DAY, now]) {
        for (const [asn, ip] of [
          [64500, "203.0.113.50"],
          [64501, "198.51.100.200"],
          [9999, "192.0.2.1"],
          [null, "198.51.100.1"],
          [null, "not an ip"],
        ] as const) {
          const net = networkOf(ip);
          calls.push([`firstSeenNetwork ${who} ${asn} ${net} ${at}`, (s) => s.firstSeenNetwork(who, asn, net, at)]);
        }
      }
    }
    for (const ip of ["203.0.113.7", "198.51.100.1"]) {
      for (const at of [now - 10 * MIN, now - 4 * MIN, now]) {
        calls.push([`ipActivity ${ip} ${at}`, (s) => s.ipActivity(ip, 60 * MIN, at)]);
      }
    }
    for (const [name, call] of calls) assert.deepEqual(await call(hot), await call(kysely), name);

    // The one-statement snapshot answers what the separate reads answer (null for an account that does not exist).
    for (const source of [hot, kysely]) {
      for (const who of [accountId, "no-such-account"]) {
        for (const at of [now - 15 * DAY, now, now + 2 * MIN]) {
          for (const [d, c, ip] of [
            ["dev-a", "JP", "203.0.113.7"],
            ["dev-b", "TW", "198.51.100.1"],
            ["dev-x", "DE", "203.0.113.7"],
            [null, null, "203.0.113.7"],
            [null, "US", "203.0.113.7"],
          ] as const) {
            const q = {
              accountId: who,
              deviceId: d,
              country: c,
              ip,
              now: at,
              ipWindowMs: 60 * MIN,
              secondFactorWindowMs: DAY,
            };
            const snap = await source.snapshot!(q);
            const account = await kysely.account(who, at);
            if (!account) {
              assert.equal(snap, null);
              continue;
            }
            assert.deepEqual(
              snap,
              {
                account,
                firstSeen: await kysely.firstSeen(who, d, c, at),
                previousLogin: await kysely.previousLogin(who, at),
                lastCredentialChange: await kysely.lastCredentialChange(who, at),
                unfinishedSecondFactor: await kysely.unfinishedSecondFactor(who, DAY, at),
                ipActivity: await kysely.ipActivity(ip, 60 * MIN, at),
              },
              JSON.stringify(q),
            );
          }
        }
      }
    }
    // And the answers are the ones the data says (so the comparison is not between two empty results).
    const facts = await hot.account(accountId, now);
    assert.equal(facts?.lastSignIns[0], now);
    assert.equal((await hot.account(accountId, now - DAY))?.lastSignIns[0], now - 10 * DAY);
    assert.deepEqual(await hot.firstSeen(accountId, "dev-b", "TW", now), {
      device: now - 20 * DAY,
      country: now - 20 * DAY,
    });
    assert.deepEqual(await hot.previousLogin(accountId, now), { at: now - 10 * DAY, country: "TW" });
    // The network is the /24 of a stored address: 203.0.113.50 is in the network of the sign-ins from .7 and .99.
    assert.deepEqual(await hot.firstSeenNetwork(accountId, 64501, networkOf("198.51.100.200"), now), {
      asn: now - 20 * DAY,
      network: now - 20 * DAY,
    });
    assert.deepEqual(await hot.firstSeenNetwork(accountId, 64500, networkOf("203.0.113.50"), now - 25 * DAY), {
      asn: now - 30 * DAY,
      network: now - 30 * DAY,
    });
    assert.deepEqual(await hot.firstSeenNetwork(accountId, 9999, networkOf("192.0.2.1"), now), {
      asn: null,
      network: null,
    });
    assert.equal(await hot.unfinishedSecondFactor(accountId, DAY, now), 1);
    assert.deepEqual(await hot.ipActivity("203.0.113.7", 60 * MIN, now), { failedLogins: 2, distinctAccounts: 3 });
    assert.notEqual(await hot.lastCredentialChange(accountId, now), null);
  });
});
