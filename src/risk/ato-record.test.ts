import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AtoHistory, atoVector, compareVersions, shippedModelFor, splitVersion } from "./ato-model.ts";
import { prng } from "./generate.ts";
import { RbaHistory, type RbaLogin } from "./rba.ts";
import type { PreviousLogin } from "./signals.ts";

// The decision finds an account's takeover-model state once (AtoHistory's per-account record) and reuses Freeman's
// lookups for the model's "seen before" questions (RbaHistory.userSeen after quickScore). A takeover must be scored
// exactly as before either way: these hold both to what the separate lookups answer, after random writes.

/** AtoHistory as it was before the per-account record: one map per question, keyed by account (and channel). */
class SeparateMaps {
  private readonly kinds = new Map<string, Map<string, { browser: number[]; os: number[] }>>();
  private readonly last = new Map<string, PreviousLogin>();
  private readonly devices = new Map<string, Set<string>>();
  private readonly networks = new Map<string, Map<string, { logins: number; ips: Set<string> }>>();

  add(login: RbaLogin, at: number): void {
    let kinds = this.kinds.get(login.userId);
    if (!kinds) {
      kinds = new Map();
      this.kinds.set(login.userId, kinds);
    }
    const [bf, bv] = splitVersion(login.browser);
    const [of, ov] = splitVersion(login.os);
    const key = `${bf}|${of}|${login.deviceType}`;
    const k = kinds.get(key);
    if (!k) kinds.set(key, { browser: bv, os: ov });
    else {
      if (compareVersions(bv, k.browser) > 0) k.browser = bv;
      if (compareVersions(ov, k.os) > 0) k.os = ov;
    }
    let nets = this.networks.get(login.userId);
    if (!nets) {
      nets = new Map();
      this.networks.set(login.userId, nets);
    }
    let net = nets.get(login.asn);
    if (!net) {
      net = { logins: 0, ips: new Set() };
      nets.set(login.asn, net);
    }
    net.logins++;
    if (net.ips.size < 64) net.ips.add(login.ip);
    if (login.deviceId) {
      const key = `${login.userId}|${login.channel ?? ""}`;
      let ds = this.devices.get(key);
      if (!ds) {
        ds = new Set();
        this.devices.set(key, ds);
      }
      ds.delete(login.deviceId);
      ds.add(login.deviceId);
      if (ds.size > 64) ds.delete(ds.values().next().value!);
    }
    const prev = this.last.get(login.userId);
    if (!prev || prev.at <= at) this.last.set(login.userId, { at, country: login.country });
  }

  device(login: RbaLogin) {
    const [bf, bv] = splitVersion(login.browser);
    const [of, ov] = splitVersion(login.os);
    const k = this.kinds.get(login.userId)?.get(`${bf}|${of}|${login.deviceType}`);
    if (!k) return { kindSeen: false, regression: false };
    return { kindSeen: true, regression: compareVersions(bv, k.browser) < 0 || compareVersions(ov, k.os) < 0 };
  }

  unknownDevice(login: RbaLogin): boolean {
    const ds = this.devices.get(`${login.userId}|${login.channel ?? ""}`);
    if (!ds) return false;
    return !login.deviceId || !ds.has(login.deviceId);
  }

  deviceBound(login: RbaLogin): boolean {
    return this.devices.has(`${login.userId}|${login.channel ?? ""}`);
  }

  addressChurn(login: RbaLogin): number {
    const net = this.networks.get(login.userId)?.get(login.asn);
    if (!net || net.logins < 2) return 1;
    return (net.ips.size - 1) / (net.logins - 1);
  }

  previous(userId: string): PreviousLogin | null {
    return this.last.get(userId) ?? null;
  }
}

/** Sign-ins from small pools, so accounts repeat devices, networks and versions (and a device set passes 64). */
function randomLogin(rand: () => number): RbaLogin {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const browser = pick(["Chrome", "Firefox", "Safari"]);
  const os = pick(["Windows", "iOS", "Linux"]);
  const v = `${100 + Math.floor(rand() * 4)}.${Math.floor(rand() * 3)}`;
  const device = rand() < 0.2 ? "" : `d${Math.floor(rand() * 80)}`;
  return {
    userId: `u${Math.floor(rand() * 8)}`,
    ip: `10.0.${Math.floor(rand() * 4)}.${Math.floor(rand() * 30)}`,
    asn: pick(["4713", "2516", "16509", ""]),
    country: pick(["JP", "US", ""]),
    userAgent: `${browser}/${v} ${os}`,
    browser: `${browser} ${v}`,
    os: `${os} ${Math.floor(rand() * 3) + 10}`,
    deviceType: pick(["desktop", "mobile"]),
    ...(rand() < 0.1 ? {} : { deviceId: device }),
    ...(rand() < 0.2 ? {} : { channel: pick(["web", "app"]) }),
  };
}

describe("a takeover is scored the same from the per-account record as from separate lookups", () => {
  it("AtoHistory's record answers what one map per question answered, after random sign-ins", () => {
    const rand = prng(7);
    const record = new AtoHistory();
    const separate = new SeparateMaps();
    let at = 0;
    for (let step = 0; step < 6000; step++) {
      const login = randomLogin(rand);
      if (rand() < 0.6) {
        // Mostly in time order; sometimes an older one (a replay's late row) that must not move `previous`.
        at += rand() < 0.9 ? Math.floor(rand() * 3_600_000) : -Math.floor(rand() * 3_600_000);
        record.add(login, at);
        separate.add(login, at);
        continue;
      }
      const acc = record.account(login.userId);
      const what = `step ${step}: ${JSON.stringify(login)}`;
      assert.deepEqual(record.device(login), separate.device(login), what);
      assert.deepEqual(record.device(login, acc), separate.device(login), what);
      assert.equal(record.unknownDevice(login), separate.unknownDevice(login), what);
      assert.equal(record.unknownDevice(login, acc), separate.unknownDevice(login), what);
      assert.equal(record.deviceBound(login), separate.deviceBound(login), what);
      assert.equal(record.deviceBound(login, acc), separate.deviceBound(login), what);
      assert.equal(record.addressChurn(login), separate.addressChurn(login), what);
      assert.equal(record.addressChurn(login, acc), separate.addressChurn(login), what);
      assert.deepEqual(record.previous(login.userId), separate.previous(login.userId), what);
      assert.equal(shippedModelFor(record, login, acc), shippedModelFor(record, login), what);
    }
  });

  it("the vector is the same with the record handed in as looked up by atoVector", () => {
    const rand = prng(11);
    const rba = new RbaHistory();
    const history = new AtoHistory();
    for (let step = 0; step < 3000; step++) {
      const login = randomLogin(rand);
      if (rand() < 0.5) {
        rba.add(login);
        history.add(login, step * 60_000);
        continue;
      }
      const input = {
        login,
        at: step * 60_000,
        rba,
        history,
        previous: history.previous(login.userId),
        source: { failedLogins: step % 5, distinctAccounts: step % 3 },
      };
      assert.deepEqual(atoVector({ ...input, account: history.account(login.userId) ?? null }), atoVector(input));
    }
  });

  it("RbaHistory.userSeen right after quickScore answers what it answers alone, after random sign-ins", () => {
    const rand = prng(13);
    const scored = new RbaHistory();
    const alone = new RbaHistory();
    for (let step = 0; step < 6000; step++) {
      const login = randomLogin(rand);
      const r = rand();
      if (r < 0.4) {
        scored.add(login);
        alone.add(login);
        continue;
      }
      const what = `step ${step}: ${JSON.stringify(login)}`;
      scored.quickScore(login);
      if (r < 0.5) {
        // A sign-in recorded between the score and the question: what was looked up is stale.
        const other = rand() < 0.5 ? { ...login, ip: `10.9.9.${step % 7}` } : randomLogin(rand);
        scored.add(other);
        alone.add(other);
      } else if (r < 0.6) {
        // The same object asked about other values (or another account) than were scored.
        login.ip = rand() < 0.5 ? `10.0.0.${step % 30}` : login.ip;
        login.userId = rand() < 0.5 ? `u${step % 8}` : login.userId;
        login.userAgent = rand() < 0.5 ? "Chrome/101.0 Linux" : login.userAgent;
      } else if (r < 0.7) {
        scored.score(randomLogin(rand));
      }
      assert.deepEqual(scored.userSeen(login), alone.userSeen(login), what);
      assert.deepEqual(scored.userSeen({ ...login }), alone.userSeen(login), what);
    }
  });
});
