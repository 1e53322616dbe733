import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  assessLoginSignals,
  COUNTRY_CENTROIDS,
  DEFAULT_SIGNAL_CONFIG,
  greatCircleKm,
  type LoginSignalSource,
  type PreviousLogin,
  travel,
} from "./signals.ts";

const T0 = Date.UTC(2026, 0, 1);
const HOUR = 3_600_000;

/** An in-memory source: the signals only need these answers, not a database. */
function source(s: {
  devices?: [string, string, number][];
  logins?: [string, PreviousLogin][];
  credentialChanges?: [string, number][];
  challenges?: [string, number, boolean][];
  failures?: [string, string, number][]; // ip, account, at
}): LoginSignalSource {
  return {
    async deviceSeen(accountId, deviceId, before) {
      return (s.devices ?? []).some(([a, d, at]) => a === accountId && d === deviceId && at < before);
    },
    async previousLogin(accountId, before) {
      const mine = (s.logins ?? []).filter(([a, l]) => a === accountId && l.at < before).map(([, l]) => l);
      return mine.sort((x, y) => y.at - x.at)[0] ?? null;
    },
    async lastCredentialChange(accountId, before) {
      const t = (s.credentialChanges ?? []).filter(([a, at]) => a === accountId && at < before).map(([, at]) => at);
      return t.length ? Math.max(...t) : null;
    },
    async unfinishedSecondFactor(accountId, windowMs, now) {
      return (s.challenges ?? []).filter(
        ([a, at, done]) => a === accountId && !done && at > now - windowMs && at <= now,
      ).length;
    },
    async ipActivity(ip, windowMs, now) {
      const f = (s.failures ?? []).filter(([i, , at]) => i === ip && at > now - windowMs && at <= now);
      return { failedLogins: f.length, distinctAccounts: new Set(f.map(([, a]) => a)).size };
    },
  };
}

describe("login signals beyond the RBA model", () => {
  it("device cookie seen before for this account, and null without a cookie", async () => {
    const src = source({ devices: [["acct1", "dev-a", T0]] });
    const base = { accountId: "acct1", at: T0 + HOUR, ip: "1.1.1.1", country: "JP" };
    assert.equal((await assessLoginSignals({ ...base, deviceId: "dev-a" }, src)).deviceSeen, true);
    assert.equal((await assessLoginSignals({ ...base, deviceId: "dev-b" }, src)).deviceSeen, false);
    assert.equal((await assessLoginSignals({ ...base, accountId: "acct2", deviceId: "dev-a" }, src)).deviceSeen, false);
    assert.equal((await assessLoginSignals(base, src)).deviceSeen, null);
  });

  it("attack IP: many failed sign-ins, or many accounts, from one IP within the window", async () => {
    const failures: [string, string, number][] = [];
    for (let i = 0; i < 20; i++) failures.push(["6.6.6.6", "victim", T0 + i * 1000]);
    for (let i = 0; i < 5; i++) failures.push(["7.7.7.7", `acct${i}`, T0 + i * 1000]);
    for (let i = 0; i < 4; i++) failures.push(["8.8.8.8", `acct${i}`, T0 + i * 1000]);
    const src = source({ failures });
    const at = T0 + 60_000;
    const sig = (ip: string, when = at) => assessLoginSignals({ accountId: "x", at: when, ip, country: "JP" }, src);
    assert.deepEqual((await sig("6.6.6.6")).attackIp, { flagged: true, failedLogins: 20, distinctAccounts: 1 });
    assert.deepEqual((await sig("7.7.7.7")).attackIp, { flagged: true, failedLogins: 5, distinctAccounts: 5 });
    assert.deepEqual((await sig("8.8.8.8")).attackIp, { flagged: false, failedLogins: 4, distinctAccounts: 4 });
    // An hour after the last failure the window is empty again.
    assert.equal((await sig("6.6.6.6", T0 + 19_000 + DEFAULT_SIGNAL_CONFIG.attackIpWindowMs)).attackIp.flagged, false);
  });

  it("great-circle distance between country centroids", () => {
    // Tokyo → Paris ≈ 9,700 km; centroids JP (37.6, 138.0) → FR (46.6, 2.5) are ≈ 9,500 km apart.
    const d = greatCircleKm(COUNTRY_CENTROIDS.JP!, COUNTRY_CENTROIDS.FR!);
    assert.ok(d > 9200 && d < 9800, `JP–FR ${d} km`);
    assert.equal(greatCircleKm(COUNTRY_CENTROIDS.JP!, COUNTRY_CENTROIDS.JP!), 0);
    // One degree of latitude along a meridian: 2πR/360 ≈ 111.195 km.
    assert.ok(Math.abs(greatCircleKm([0, 0], [1, 0]) - 111.195) < 0.01);
  });

  it("impossible travel: > 1000 km/h between consecutive sign-ins is flagged", async () => {
    const d = greatCircleKm(COUNTRY_CENTROIDS.JP!, COUNTRY_CENTROIDS.TW!); // ≈ 2,200 km
    const fast = travel({ at: T0, country: "JP" }, { at: T0 + HOUR, country: "TW" });
    assert.equal(fast?.flagged, true);
    assert.ok(Math.abs(fast!.speedKmh - d) < 1e-9, "distance over one hour");
    const slow = travel({ at: T0, country: "JP" }, { at: T0 + Math.ceil((d / 900) * HOUR), country: "TW" });
    assert.equal(slow?.flagged, false, "an airliner could have done it");
    const same = travel({ at: T0, country: "JP" }, { at: T0, country: "jp" });
    assert.deepEqual([same?.flagged, same?.speedKmh], [false, 0]);
    const instant = travel({ at: T0, country: "JP" }, { at: T0, country: "US" });
    assert.equal(instant?.speedKmh, Number.POSITIVE_INFINITY);
    assert.equal(instant?.flagged, true);
    assert.equal(travel({ at: T0, country: "JP" }, { at: T0 + HOUR, country: "ZZ" }), null, "unknown country");

    const src = source({ logins: [["acct1", { at: T0, country: "JP" }]] });
    const sig = await assessLoginSignals({ accountId: "acct1", at: T0 + HOUR, ip: "1.1.1.1", country: "TW" }, src);
    assert.equal(sig.impossibleTravel?.flagged, true);
    const first = await assessLoginSignals({ accountId: "new", at: T0, ip: "1.1.1.1", country: "TW" }, src);
    assert.equal(first.impossibleTravel, null);
  });

  it("time since the last credential change, and unfinished second-factor challenges", async () => {
    const src = source({
      credentialChanges: [["acct1", T0]],
      challenges: [
        ["acct1", T0 + HOUR, false],
        ["acct1", T0 + 2 * HOUR, true],
        ["acct1", T0 - 2 * 24 * HOUR, false],
      ],
    });
    const sig = await assessLoginSignals({ accountId: "acct1", at: T0 + 3 * HOUR, ip: "1.1.1.1", country: "JP" }, src);
    assert.equal(sig.sinceCredentialChangeMs, 3 * HOUR);
    assert.equal(sig.unfinishedSecondFactor, 1, "the completed one and the one older than the window do not count");
    const none = await assessLoginSignals({ accountId: "acct2", at: T0, ip: "1.1.1.1", country: "JP" }, src);
    assert.equal(none.sinceCredentialChangeMs, null);
    assert.equal(none.unfinishedSecondFactor, 0);
  });
});
