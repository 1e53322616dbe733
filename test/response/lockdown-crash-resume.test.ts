import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import pg from "pg";
import { LOCKDOWN_STEPS } from "../../src/response/store.ts";
import { APP_STORE } from "../../src/testing/app.ts";
import { PG_URL } from "../../src/testing/stores.ts";

// A lockdown killed (SIGKILL) at any point must finish on restart with nothing lost and nothing done twice:
// the story-000 failure was a response that stopped half-way and nobody noticed.
const CHILD = path.join(import.meta.dirname, "crash-child.ts");
const T0 = Date.UTC(2026, 10, 1, 9, 0, 0);
const dir = mkdtempSync(path.join(tmpdir(), "mamori-crash-"));
const schemas: string[] = [];

function child(mode: string, db: string, now: number, env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["--import", "tsx", CHILD, mode, db, String(now)], {
    env: { ...process.env, MAMORI_FAST_HASH: "1", ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  const line = r.stdout.trim().split("\n").pop() ?? "";
  return { signal: r.signal, status: r.status, stderr: r.stderr, json: line.startsWith("{") ? JSON.parse(line) : null };
}

function freshDb(name: string): string {
  if (APP_STORE.name === "postgres") {
    const s = `crash_${randomBytes(5).toString("hex")}`;
    schemas.push(s);
    return `pg:${s}`;
  }
  return path.join(dir, `${name}.db`);
}

/** Sets up the scenario and runs the lockdown, crashing at `at` (or not), then resumes; returns the final state. */
function run(at: string | null) {
  const db = freshDb(at ?? "reference");
  const setup = child("setup", db, T0);
  assert.ok(setup.json, setup.stderr);
  const later = setup.json.now + 3_600_000;
  const env: Record<string, string> = { MAMORI_CRASH_ACCOUNT: setup.json.accountId };
  if (at) env.MAMORI_CRASH_AT = at;
  const lock = child("lockdown", db, later, env);
  if (at) assert.equal(lock.signal, "SIGKILL", `expected to die at ${at}: ${lock.stderr}`);
  else assert.equal(lock.status, 0, lock.stderr);
  const resume = child("resume", db, later + 60_000);
  assert.equal(resume.status, 0, resume.stderr);
  return { ...resume.json, crashedAt: at };
}

const summary = (s: {
  report: { objects: { objectType: string; action: string }[]; steps: { status: string }[]; status: string };
  events: string[];
  outbox: { template: string; recipient: string }[];
  gatewayOps: string[];
  ledger: { kind: string; balance: number }[];
  webhooks: string[];
}) => ({
  gatewayOps: [...s.gatewayOps].sort(),
  webhooks: [...s.webhooks].sort(),
  buyerNotices: s.outbox.filter((n) => n.template === "fraudulent_listing_refund").length,
  // Ids differ between runs; balances by kind of ledger account do not.
  ledger: Object.entries(
    s.ledger.reduce<Record<string, number>>((m, l) => {
      m[l.kind] = (m[l.kind] ?? 0) + l.balance;
      return m;
    }, {}),
  ).sort(),
  status: s.report.status,
  steps: s.report.steps.map((x) => x.status),
  objects: s.report.objects.map((o) => `${o.objectType}:${o.action}`).sort(),
  events: s.events.filter((e) => /^(account|case|sessions)\./.test(e)).sort(),
  lockdownNotices: s.outbox
    .filter((n) => n.template === "account_locked_down")
    .map((n) => n.recipient)
    .sort(),
});

describe("lockdown-crash-resume", () => {
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    if (schemas.length) {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      for (const s of schemas) await c.query(`DROP SCHEMA IF EXISTS "${s}" CASCADE`);
      await c.end();
    }
  });

  const reference = run(null);
  const expected = summary(reference);

  it("the uninterrupted lockdown does every step once", () => {
    assert.equal(expected.status, "locked_down");
    assert.ok(expected.steps.every((s) => s === "done"));
    assert.deepEqual(expected.lockdownNotices, ["crash@example.jp"]);
    assert.equal(expected.events.filter((e) => e === "account.frozen").length, 1);
    assert.ok(expected.objects.includes("contact_point:restored"));
    // Every kind of object the attacker touched is in the report.
    for (const o of [
      "order:cancel",
      "payment:void",
      "payment:refund",
      "gift_card:void",
      "gift_card:lock",
      "listing:take_down",
    ])
      assert.ok(expected.objects.includes(o), o);
    assert.ok(
      expected.objects.some((o) => o.startsWith("address:")),
      "address rolled back",
    );
    assert.equal(expected.buyerNotices, 1);
    assert.ok(expected.gatewayOps.includes("refund") && expected.gatewayOps.includes("void"));
  });

  for (const step of LOCKDOWN_STEPS) {
    for (const phase of ["before", "work"]) {
      it(`killed at ${step}:${phase}, resumed: same outcome, nothing twice`, () => {
        const got = run(`${step}:${phase}`);
        assert.deepEqual(got.resumed.length, 1, "the interrupted case was resumed");
        assert.deepEqual(summary(got), expected);
      });
    }
  }
});
