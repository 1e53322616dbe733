import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hostingProvider, isHostingAsn } from "../context/hosting.ts";
import { ATO_MODEL, ATO_SIGNALS, AtoHistory, atoVector, SourceWindow, scoreAto, splitVersion } from "./ato-model.ts";
import { RbaHistory, type RbaLogin } from "./rba.ts";

const HOUR = 3_600_000;
const home: RbaLogin = {
  userId: "u1",
  ip: "153.139.1.2",
  asn: "4713",
  country: "JP",
  userAgent: "Chrome/122 Windows",
  browser: "Chrome 122.0.0",
  os: "Windows 10",
  deviceType: "desktop",
};

function histories(logins: RbaLogin[]) {
  const rba = new RbaHistory();
  const history = new AtoHistory();
  logins.forEach((l, i) => {
    rba.add(l);
    history.add(l, i * HOUR);
  });
  return { rba, history };
}

const vectorOf = (h: ReturnType<typeof histories>, login: RbaLogin, at = 100 * HOUR) =>
  atoVector({
    login,
    at,
    ...h,
    previous: h.history.previous(login.userId),
    source: { failedLogins: 0, distinctAccounts: 0 },
  });

describe("takeover model signals", () => {
  it("no history: not scored", () => {
    assert.equal(vectorOf(histories([]), home), null);
  });

  it("versions only move forward on one kind of device: an older browser than seen is a regression", () => {
    assert.deepEqual(splitVersion("Mobile Safari 17.2"), ["Mobile Safari", [17, 2]]);
    assert.deepEqual(splitVersion("Chrome 120"), ["Chrome", [120]]);
    const h = histories([home, { ...home, browser: "Chrome 123.0.0", userAgent: "Chrome/123 Windows" }]);
    assert.equal(vectorOf(h, { ...home, browser: "Chrome 121.0.0", userAgent: "Chrome/121" })!.versionRegression, 1);
    assert.equal(vectorOf(h, { ...home, browser: "Chrome 124.0.0", userAgent: "Chrome/124" })!.versionRegression, 0);
    // Live parsing gives the major only: "Chrome 123" equals "Chrome 123.0.0".
    assert.equal(vectorOf(h, { ...home, browser: "Chrome 123" })!.versionRegression, 0);
    const other = vectorOf(h, { ...home, browser: "Firefox 90.0", userAgent: "Firefox/90" })!;
    assert.equal(other.versionRegression, 0);
    assert.equal(other.newDeviceKind, 1);
  });

  it("device binding: a stranger's device, or none, on an account whose sign-ins carry the store's cookie", () => {
    // A store (or a data set) that sends no device id: the signal never fires.
    assert.equal(vectorOf(histories([home, home]), { ...home, deviceId: "atk" })!.unknownDevice, 0);
    const bound = histories([
      { ...home, deviceId: "pc" },
      { ...home, deviceId: "pc" },
    ]);
    assert.equal(vectorOf(bound, { ...home, deviceId: "pc" })!.unknownDevice, 0, "the owner's own device");
    assert.equal(vectorOf(bound, { ...home, deviceId: "atk" })!.unknownDevice, 1, "another device");
    assert.equal(vectorOf(bound, { ...home, deviceId: "" })!.unknownDevice, 1, "leaving the cookie out does not help");
    assert.equal(vectorOf(bound, home)!.unknownDevice, 1);
    // Bound per channel: web cookies say nothing about the app, where the store may send no install id.
    assert.equal(vectorOf(bound, { ...home, channel: "app" })!.unknownDevice, 0);
    const both = histories([
      { ...home, deviceId: "pc", channel: "web" },
      { ...home, deviceId: "phone-app", channel: "app" },
    ]);
    assert.equal(vectorOf(both, { ...home, deviceId: "pc", channel: "app" })!.unknownDevice, 1);
    assert.equal(vectorOf(both, { ...home, deviceId: "phone-app", channel: "app" })!.unknownDevice, 0);
    assert.ok(ATO_MODEL.weights.unknownDevice > 0, "the fitted weight counts a stranger's device against the login");
  });

  it("a new address on a steady home line counts; on a carrier's NAT pool it does not", () => {
    const steady = histories(Array.from({ length: 6 }, () => home));
    assert.equal(vectorOf(steady, { ...home, ip: "153.139.9.9" })!.newIpSteadyNetwork, 1);
    const churning = histories(Array.from({ length: 6 }, (_, i) => ({ ...home, ip: `153.139.0.${i + 1}` })));
    const v = vectorOf(churning, { ...home, ip: "153.139.9.9" })!;
    assert.equal(v.newIp, 1);
    assert.equal(v.newIpSteadyNetwork, 0);
    assert.equal(vectorOf(steady, { ...home, asn: "2516", ip: "106.154.1.1" })!.newIpSteadyNetwork, 0, "new network");
  });

  it("hosting networks from the curated table; unknown and small hosts are not", () => {
    assert.equal(hostingProvider(16509), "Amazon AWS");
    assert.equal(isHostingAsn("9009"), true);
    assert.equal(isHostingAsn("4713"), false);
    assert.equal(isHostingAsn(""), false);
    assert.equal(isHostingAsn(null), false);
    const h = histories([home]);
    assert.equal(vectorOf(h, { ...home, asn: "16509", ip: "54.64.0.1" })!.hostingAsn, 1);
  });

  it("impossible travel against the previous sign-in", () => {
    const h = histories([home]);
    assert.equal(vectorOf(h, { ...home, country: "BR" }, 1 * HOUR)!.impossibleTravel, 1);
    assert.equal(vectorOf(h, { ...home, country: "BR" }, 48 * HOUR)!.impossibleTravel, 0);
  });

  it("source window: failures and distinct accounts per address within the last hour, across accounts", () => {
    const w = new SourceWindow(HOUR);
    w.recordFailure("1.2.3.4", "a", 0);
    w.recordFailure("1.2.3.4", "b", 10);
    w.recordFailure("1.2.3.4", "b", 20);
    assert.deepEqual(w.activity("1.2.3.4", 30), { failedLogins: 3, distinctAccounts: 2 });
    assert.deepEqual(w.activity("1.2.3.4", HOUR + 15), { failedLogins: 1, distinctAccounts: 1 });
    assert.deepEqual(w.activity("5.6.7.8", 30), { failedLogins: 0, distinctAccounts: 0 });
  });

  it("the score is the bias plus one contribution per non-zero signal, largest first", () => {
    const h = histories([home, home, home]);
    const x = vectorOf(h, { ...home, asn: "16509", ip: "54.64.0.1", userAgent: "other" })!;
    const s = scoreAto(x);
    const sum = s.contributions.reduce((a, c) => a + c.contribution, ATO_MODEL.bias);
    assert.ok(Math.abs(sum - s.score) < 0.01);
    assert.equal(s.contributions.length, ATO_SIGNALS.filter((k) => x[k] !== 0).length);
    assert.ok(s.probability > 0 && s.probability < 1);
    assert.ok(s.score >= ATO_MODEL.threshold, "a cloud address and a new browser on a steady account");
    assert.ok(scoreAto(vectorOf(h, home)!).score < ATO_MODEL.threshold, "the owner at home");
  });
});
