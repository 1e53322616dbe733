// Shared by bench/risk-http.ts and bench/risk-profile.ts: the 100-rule login policy set and the 1M-login store.
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { buildApp } from "../src/app.ts";
import { loadConfig } from "../src/config.ts";
import { DEFAULT_POLICY } from "../src/risk/default-policy.ts";
import { type GeneratedRow, generateLogins } from "../src/risk/generate.ts";
import type { PolicySetSource } from "../src/risk/policy.ts";
import { bareAccount } from "../src/testing/stores.ts";

const DAY = 86_400_000;

/**
 * The device cookie a login carries: one per user and browser (the same user agent on another person's machine — a
 * targeted attacker copying the victim's browser — is another device). Stored with the history and sent with the
 * queries, so the "device seen before" read runs as it does for a store that sends device ids.
 */
export function deviceOf(r: GeneratedRow): string {
  return `d${createHash("sha256")
    .update(`${r.userId}|${r.userAgent}|${r.attacker ?? ""}`)
    .digest("hex")
    .slice(0, 16)}`;
}

/** The default set plus generated login rules, 100 login rules in all, most of them not matching (as in life). */
export function benchPolicy(): PolicySetSource {
  const rules = [...DEFAULT_POLICY.rules];
  const velocity = [
    ...(DEFAULT_POLICY.velocity ?? []),
    { name: "logins_ip_1h", event: "login" as const, key: "ip" as const, window: "1h", agg: "count" as const },
    { name: "logins_acct_1d", event: "login" as const, key: "account" as const, window: "24h", agg: "count" as const },
    {
      name: "ips_acct_1d",
      event: "login" as const,
      key: "account" as const,
      window: "24h",
      agg: "distinct" as const,
      field: "ip",
    },
  ];
  const countries = ["CN", "RU", "KP", "IR", "NG", "BR", "VN", "IN", "ID", "TR"];
  let i = 0;
  while (rules.filter((r) => r.events.includes("login")).length < 100) {
    const k = i++;
    const when = [
      `scores.rba > ${200 + k}.0 && signals.newDevice`,
      `event.country == '${countries[k % countries.length]}' && signals.newCountry && scores.rba > ${k}.5`,
      `velocity.logins_ip_1h >= ${50 + k}.0`,
      `velocity.ips_acct_1d >= ${8 + (k % 5)}.0 && !signals.deviceSeen`,
      `signals.unfinishedSecondFactor >= ${3 + (k % 4)}.0 && signals.newDevice`,
      `account.ageDays < 1.0 && velocity.logins_acct_1d >= ${20 + k}.0`,
      `event.asn == ${64_000 + k}.0 || (event.deviceType == 'bot' && scores.rba > 1.0)`,
    ][k % 7]!;
    rules.push({
      id: `bench_${k}`,
      events: ["login"],
      when,
      action: (["challenge", "review", "deny"] as const)[k % 3]!,
    });
  }
  return { name: "bench-100", velocity, rules };
}

export interface BenchData {
  /** The logins to decide (not in the store). */
  queries: GeneratedRow[];
  generated: number;
  users: number;
  generateMs: number;
  loadDbMs: number;
}

/**
 * Generates `users` × `days` of logins ending now, stores all but the last `n` in login_attempts of an embedded store
 * in `dataDir` (plus the accounts and the 100-rule set, active), and returns the last `n` as the queries. With
 * `reuse`, a data dir prepared before (bench-queries.json present) is used as it is.
 */
export async function prepareBenchStore(opts: {
  dataDir: string;
  users: number;
  days: number;
  n: number;
  reuse?: boolean;
}): Promise<BenchData> {
  const marker = path.join(opts.dataDir, "bench-queries.json");
  if (opts.reuse && fs.existsSync(marker)) {
    return JSON.parse(fs.readFileSync(marker, "utf8")) as BenchData;
  }
  const now = Date.now();
  let t = performance.now();
  const start = Math.floor((now - opts.days * DAY) / DAY) * DAY;
  const rows = generateLogins({ users: opts.users, days: opts.days, seed: 1, start }).filter((r) => r.at < now);
  const generateMs = performance.now() - t;
  const split = rows.length - opts.n;

  const config = loadConfig({ ...process.env, MAMORI_DATA_DIR: opts.dataDir, MAMORI_DISPATCHER: "off" });
  const app = await buildApp(config);
  const { db } = app.database;
  t = performance.now();
  const users = [...new Set(rows.map((r) => r.userId))];
  for (let i = 0; i < users.length; i += 1000) {
    await db
      .insertInto("accounts")
      .values(users.slice(i, i + 1000).map((id) => bareAccount(id, start - 400 * DAY, start)))
      .execute();
  }
  for (let i = 0; i < split; i += 900) {
    const chunk = rows.slice(i, Math.min(i + 900, split));
    await db.transaction().execute((tx) =>
      tx
        .insertInto("login_attempts")
        .values(
          chunk.map((r, j) => ({
            id: `h${i + j}`,
            account_id: r.userId,
            identifier: `${r.userId}@example.jp`,
            outcome: r.success ? "succeeded" : "failed",
            reason: null,
            channel: "web",
            ip: r.ip,
            country: r.country,
            asn: Number(r.asn) || null,
            user_agent: r.userAgent,
            browser: r.browser,
            os: r.os,
            device_type: r.deviceType,
            device_id: deviceOf(r),
            session_id: null,
            at: r.at,
          })),
        )
        .execute(),
    );
  }
  const loadDbMs = performance.now() - t;
  const policy = await app.risk.putPolicySet(benchPolicy());
  await app.risk.promote(policy.version, "active");
  await app.close();
  // Only the queries are kept. The ~1M generated rows stayed on the caller's heap for the whole run before: the first
  // run after generating a store measured 8,712 decisions/s in process then, and 24,647/s with them dropped.
  const out: BenchData = {
    queries: rows.slice(split),
    generated: rows.length,
    users: users.length,
    generateMs: Math.round(generateMs),
    loadDbMs: Math.round(loadDbMs),
  };
  if (opts.reuse) fs.writeFileSync(marker, JSON.stringify(out));
  return out;
}
