import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import SqliteDatabase from "better-sqlite3";
import { CompiledQuery } from "kysely";
import { networkOf } from "../context/ip.ts";
import type { DatabaseHandle } from "../db/database.ts";
import { EMAIL_CODE_ENROLLED_SQL } from "../identity/factors/email-code/factor.ts";
import { PASSKEY_ENROLLED_SQL } from "../identity/factors/passkey/factor.ts";
import { RECOVERY_CODES_ENROLLED_SQL } from "../identity/factors/recovery-codes/factor.ts";
import { TOTP_ENROLLED_SQL } from "../identity/factors/totp/factor.ts";
import { openStore } from "../store.ts";
import { bareAccount } from "../testing/stores.ts";
import { createFactIndex, type FactIndexOptions } from "./fact-index.ts";
import { CREDENTIAL_EVENTS, createDbFeatureSource, credentialEvents, type SnapshotQuery } from "./features.ts";
import { feedFactTables } from "./migration.ts";

// The risk facts kept in memory must never be staler than the store: an attacker's failed sign-ins, a password just
// changed, a new device — whoever wrote them (this process, the CLI, another server on the file), the next decision
// must see them. Each test writes at random and compares the index's answer with the SQL snapshot's, query by query.

const T0 = Date.UTC(2026, 10, 30, 12);
const HOUR = 3_600_000;
const ACCOUNTS = ["a1", "a2", "a3", "a4", "a5"];
const IPS = ["203.0.113.1", "203.0.113.2", "198.51.100.7", "192.0.2.9"];
const DEVICES = ["d1", "d2", "d3", null];
const COUNTRIES = ["JP", "US", "CN", null];
const ASNS = [4713, 16509, null];
const OUTCOMES = ["succeeded", "failed", "denied", "challenged"];
// The built-in factors' enrolled-account SQL, as app.ts gives the registry's: both sides read them.
const FACTORS = [
  { kind: "totp", ...TOTP_ENROLLED_SQL },
  { kind: "recovery_code", ...RECOVERY_CODES_ENROLLED_SQL },
  { kind: "passkey", ...PASSKEY_ENROLLED_SQL },
  { kind: "email_code", ...EMAIL_CODE_ENROLLED_SQL },
];
const EVENT_TYPES = [...CREDENTIAL_EVENTS.slice(0, 3), "session.created", "email.verified"];

const dirs: string[] = [];
const handles: DatabaseHandle[] = [];
after(async () => {
  for (const h of handles) await h.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A small deterministic PRNG, so a failure replays. */
function prng(seed: number) {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(a: readonly T[]): T => a[Math.floor(next() * a.length)]!;
  return { next, pick, int: (n: number) => Math.floor(next() * n) };
}

async function setup(opts: FactIndexOptions = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mamori-facts-"));
  dirs.push(dir);
  // Other processes' commits are looked for on every answer here (1 ms in production).
  const h = openStore({ dataDir: dir, sqliteFile: "mamori.sqlite", foreignCheckMs: 0 });
  handles.push(h);
  await h.migrate();
  for (const id of ACCOUNTS) {
    await h.db
      .insertInto("accounts")
      .values(bareAccount(id, T0 - 400 * 24 * HOUR, T0))
      .execute();
  }
  // The factors' tables feed the change feed as app.ts makes them.
  await feedFactTables(
    h.db,
    FACTORS.flatMap((f) => f.tables),
  );
  const index = createFactIndex(
    { readSync: h.readSync!, changeCounter: h.changeCounter! },
    { factors: FACTORS, ...opts },
  );
  const sqlOnly = createDbFeatureSource(h.db, h.hot, undefined, credentialEvents(), FACTORS);
  // Another process writing the same file: a connection the handle does not count.
  const other = new SqliteDatabase(path.join(dir, "mamori.sqlite"));
  other.pragma("busy_timeout = 5000");
  return { h, index, sqlOnly, other };
}

type Env = Awaited<ReturnType<typeof setup>>;
let rowId = 0;
// Each write gets its own millisecond, so "the latest sign-in" has one answer (ties are unordered in SQL too).
let tick = 0;
/** Times written so far: queries ask at exactly these too, where "at or before now" and "before now" differ. */
const written: number[] = [];
/** Sign-in attempts written: queries also ask about one exactly (its account, device and country, at its time). */
const signIns: { account: string; device: string | null; country: string | null; at: number }[] = [];

/** One random write, through the store's connection or (foreign) another connection on the file. */
async function randomWrite(env: Env, r: ReturnType<typeof prng>) {
  const { h, other } = env;
  const foreign = r.next() < 0.25;
  const run = async (text: string, params: unknown[]) => {
    if (foreign) other.prepare(text).run(...params);
    else await h.db.executeQuery(CompiledQuery.raw(text, params));
  };
  const account = r.pick(ACCOUNTS);
  const at = T0 + (r.int(8) - 4) * HOUR + ++tick;
  written.push(at);
  switch (r.int(10)) {
    case 0:
    case 1:
    case 2: {
      const row = { account, device: r.pick(DEVICES), country: r.pick(COUNTRIES), at };
      signIns.push(row);
      await run(
        "insert into login_attempts (id, account_id, identifier, outcome, reason, channel, ip, country, asn, user_agent, browser, os, device_type, device_id, session_id, at) values (?, ?, ?, ?, null, 'web', ?, ?, ?, 'ua', null, null, null, ?, null, ?)",
        [
          `l${++rowId}`,
          account,
          `${r.pick(["x", "y", "z"])}@example.jp`,
          r.pick(OUTCOMES),
          r.pick(IPS),
          row.country,
          r.pick(ASNS),
          row.device,
          at,
        ],
      );
      break;
    }
    case 3:
      await run("update login_attempts set outcome = ? where id = ?", [r.pick(OUTCOMES), `l${1 + r.int(rowId || 1)}`]);
      break;
    case 4:
      await run("delete from login_attempts where id = ?", [`l${1 + r.int(rowId || 1)}`]);
      break;
    case 5:
      await run(
        "insert into events (id, account_id, seq, type, data, actor, ip, at, prev_hash, hash) values (?, ?, ?, ?, '{}', 'system', null, ?, '', '')",
        [`e${++rowId}`, account, rowId, r.pick(EVENT_TYPES), at],
      );
      break;
    case 6:
      if (r.next() < 0.6)
        await run(
          "insert into signin_challenges (id, token_hash, account_id, context, created_at, expires_at, completed_at, attempts) values (?, ?, ?, '{}', ?, ?, null, 0)",
          [`c${++rowId}`, `t${rowId}`, account, at, at + HOUR],
        );
      else await run("update signin_challenges set completed_at = ? where account_id = ?", [at, account]);
      break;
    case 7:
      if (r.next() < 0.5)
        await run(
          "insert into contact_points (id, account_id, kind, value, verified, verified_at, is_primary, added_at, added_by, removed_at, removed_by, recovery_until) values (?, ?, 'email', ?, ?, null, 0, ?, null, null, null, null)",
          [`p${++rowId}`, account, `${account}-${rowId}@example.jp`, r.int(2), at],
        );
      else await run("update contact_points set removed_at = ? where account_id = ?", [at, account]);
      break;
    case 8: {
      // Factors kept in their own tables: a recovery code or a passkey added, used or removed.
      const k = r.int(4);
      if (k === 0)
        await run(
          "insert into recovery_codes (id, account_id, code_hash, created_at, used_at) values (?, ?, ?, ?, null)",
          [`r${++rowId}`, account, `h${rowId}`, at],
        );
      else if (k === 1) await run("update recovery_codes set used_at = ? where account_id = ?", [at, account]);
      else if (k === 2)
        await run(
          "insert into passkeys (id, account_id, credential_id, public_key, sign_count, transports, user_handle, aaguid, device_type, backed_up, name, created_at, created_by, last_used_at, removed_at) values (?, ?, ?, 'pk', 0, '[]', 'uh', 'ag', 'singleDevice', 0, 'n', ?, 'owner', null, null)",
          [`k${++rowId}`, account, `cred${rowId}`, at],
        );
      else await run("update passkeys set removed_at = ? where account_id = ?", [at, account]);
      break;
    }
    default: {
      const k = r.int(4);
      if (k < 2)
        await run(
          "insert into risk_account_settings (account_id, allowed_countries, updated_at) values (?, ?, ?) on conflict (account_id) do update set allowed_countries = excluded.allowed_countries",
          [account, JSON.stringify([r.pick(["JP", "US"])]), at],
        );
      else if (k === 2) await run("delete from risk_account_settings where account_id = ?", [account]);
      else
        await run("update accounts set status = ?, totp_enrolled_at = ? where id = ?", [
          r.pick(["active", "locked"]),
          r.next() < 0.5 ? null : at,
          account,
        ]);
    }
  }
}

function randomQuery(r: ReturnType<typeof prng>, accounts = ACCOUNTS): SnapshotQuery {
  if (signIns.length > 0 && r.next() < 0.3) {
    const s = r.pick(signIns);
    return {
      accountId: s.account,
      deviceId: s.device,
      country: s.country,
      ip: r.pick(IPS),
      now: s.at,
      ipWindowMs: HOUR,
      secondFactorWindowMs: 10 * 60_000,
    };
  }
  return {
    accountId: r.pick([...accounts, "nobody"]),
    deviceId: r.pick(DEVICES),
    country: r.pick(COUNTRIES),
    ip: r.pick(IPS),
    now: written.length > 0 && r.next() < 0.3 ? r.pick(written) : T0 + (r.int(10) - 5) * HOUR + r.int(HOUR),
    ipWindowMs: r.pick([HOUR, 6 * HOUR]),
    secondFactorWindowMs: r.pick([10 * 60_000, 4 * HOUR]),
  };
}

async function compare(env: Env, r: ReturnType<typeof prng>, queries: number, label: string) {
  for (let k = 0; k < queries; k++) {
    const q = randomQuery(r);
    const fromStore = await env.sqlOnly.snapshot!(q);
    const held = env.index.snapshot(q);
    if (held === undefined) {
      // Left to the store: only for an account the index cannot hold or that does not exist.
      if (q.accountId !== "nobody") assert.ok(fromStore === null || label.includes("cap"), `${label}: ${q.accountId}`);
      continue;
    }
    assert.deepEqual(held, fromStore, `${label}: ${JSON.stringify(q)}`);
    // The networks signed in from (the /24 of 203.0.113.1 and .2 is one network).
    const asn = r.pick(ASNS);
    const network = networkOf(r.pick(IPS));
    const heldNet = env.index.firstSeenNetwork(q.accountId, asn, network, q.now);
    assert.deepEqual(
      heldNet,
      await env.sqlOnly.firstSeenNetwork(q.accountId, asn, network, q.now),
      `${label}: network ${asn} ${network} ${JSON.stringify(q)}`,
    );
  }
}

describe("risk facts in memory answer what the store answers", () => {
  for (const [name, opts, loadFirst] of [
    ["loaded at start", {}, true],
    ["loaded on demand", {}, false],
    ["caps: big accounts and IPs left to the store", { maxLoginsPerAccount: 3, maxFailuresPerIp: 2 }, true],
    ["a reader far behind the feed starts over", { feedCatchUp: 5 }, true],
  ] as const) {
    it(`after random writes by this process and another (${name})`, async () => {
      const env = await setup(opts as FactIndexOptions);
      const r = prng(name.length * 7919);
      for (let i = 0; i < 40; i++) await randomWrite(env, r);
      if (loadFirst) env.index.load();
      for (let round = 0; round < 60; round++) {
        const writes = r.int(4);
        for (let i = 0; i < writes; i++) await randomWrite(env, r);
        await compare(env, r, 6, `${name}, round ${round}`);
      }
    });
  }

  it("a feed read that fails is retried by the next answer, not skipped (the attack IP's failures are not lost)", async () => {
    const env = await setup();
    let fail = 0;
    const readSync = (text: string) => {
      const st = env.h.readSync!(text);
      if (!text.includes("from risk_changes where seq >")) return st;
      return {
        ...st,
        all: (...p: unknown[]) => {
          if (fail > 0) {
            fail--;
            throw new Error("SQLITE_IOERR");
          }
          return st.all(...p);
        },
      };
    };
    const index = createFactIndex({ readSync, changeCounter: env.h.changeCounter! }, { factors: FACTORS });
    index.load();
    const q: SnapshotQuery = {
      accountId: "a1",
      deviceId: "d9",
      country: "JP",
      ip: "203.0.113.60",
      now: T0,
      ipWindowMs: HOUR,
      secondFactorWindowMs: 10 * 60_000,
    };
    assert.deepEqual(index.snapshot(q)?.ipActivity, { failedLogins: 0, distinctAccounts: 0 });
    for (let i = 0; i < 3; i++) {
      env.other
        .prepare(
          "insert into login_attempts (id, account_id, identifier, outcome, reason, channel, ip, country, asn, user_agent, browser, os, device_type, device_id, session_id, at) values (?, null, ?, 'failed', null, 'web', '203.0.113.60', 'CN', null, 'ua', null, null, null, null, null, ?)",
        )
        .run(`g${i}`, `victim${i}@example.jp`, T0 - 1000 + i);
    }
    fail = 1;
    assert.throws(() => index.snapshot(q), /SQLITE_IOERR/);
    assert.deepEqual(index.snapshot(q)?.ipActivity, { failedLogins: 3, distinctAccounts: 3 });
  });

  it("sees another process's failed sign-ins at once (attack IP), and the account's new device after they succeed", async () => {
    const env = await setup();
    env.index.load();
    const q: SnapshotQuery = {
      accountId: "a1",
      deviceId: "d9",
      country: "JP",
      ip: "203.0.113.50",
      now: T0,
      ipWindowMs: HOUR,
      secondFactorWindowMs: 10 * 60_000,
    };
    assert.deepEqual(env.index.snapshot(q)?.ipActivity, { failedLogins: 0, distinctAccounts: 0 });
    for (let i = 0; i < 3; i++) {
      env.other
        .prepare(
          "insert into login_attempts (id, account_id, identifier, outcome, reason, channel, ip, country, asn, user_agent, browser, os, device_type, device_id, session_id, at) values (?, null, ?, 'failed', null, 'web', '203.0.113.50', 'CN', null, 'ua', null, null, null, null, null, ?)",
        )
        .run(`f${i}`, `victim${i}@example.jp`, T0 - 1000 + i);
    }
    assert.deepEqual(env.index.snapshot(q)?.ipActivity, { failedLogins: 3, distinctAccounts: 3 });
    assert.equal(env.index.snapshot(q)?.firstSeen.device, null);
    env.other
      .prepare(
        "insert into login_attempts (id, account_id, identifier, outcome, reason, channel, ip, country, asn, user_agent, browser, os, device_type, device_id, session_id, at) values ('s1', 'a1', 'a1@example.jp', 'succeeded', null, 'web', '203.0.113.50', 'JP', null, 'ua', null, null, null, 'd9', null, ?)",
      )
      .run(T0 - 500);
    assert.equal(env.index.snapshot(q)?.firstSeen.device, T0 - 500);
  });

  it("an account asked for before it exists is found once created, by this process or another (no remembered miss)", async () => {
    const env = await setup();
    env.index.load();
    const q = (accountId: string): SnapshotQuery => ({
      accountId,
      deviceId: null,
      country: "JP",
      ip: "203.0.113.70",
      now: T0,
      ipWindowMs: HOUR,
      secondFactorWindowMs: 10 * 60_000,
    });
    // Asked twice, as a decision asks (networks, then the snapshot): both undefined, the store's answer is used.
    assert.equal(env.index.firstSeenNetwork("n1", 4713, "203.0.113.0/24", T0), undefined);
    assert.equal(env.index.snapshot(q("n1")), undefined);
    await env.h.db
      .insertInto("accounts")
      .values(bareAccount("n1", T0 - HOUR, T0))
      .execute();
    assert.equal(env.index.snapshot(q("n1"))?.account.createdAt, T0 - HOUR);
    assert.equal(env.index.snapshot(q("n2")), undefined);
    const row = bareAccount("n2", T0 - 2 * HOUR, T0) as unknown as Record<string, unknown>;
    const cols = Object.keys(row);
    env.other
      .prepare(`insert into accounts (${cols.join(", ")}) values (${cols.map(() => "?").join(", ")})`)
      .run(...cols.map((c) => row[c]));
    assert.equal(env.index.snapshot(q("n2"))?.account.createdAt, T0 - 2 * HOUR);
  });
});
