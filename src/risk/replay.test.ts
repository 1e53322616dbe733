import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { shopper } from "../../test/commerce/helpers.ts";
import { openStore } from "../store.ts";
import { ATTACKER, makeTestApp, STRONG, type TestApp, TOKYO } from "../testing/app.ts";
import { testStores } from "../testing/stores.ts";
import { PolicyError, type PolicySetSource } from "./policy.ts";
import {
  backtestStoredDecisions,
  type Confusion,
  formatReplaySummary,
  labeller,
  type ReplaySummary,
  replayDecisions,
  type StoredDecisionRow,
} from "./replay.ts";

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const BIN = path.join(import.meta.dirname, "..", "..", "bin", "mamori.js");

const GIFT_COUNTER = {
  name: "giftcard_purchases_10m",
  event: "gift_card_purchase",
  key: "account",
  window: "10m",
  agg: "count",
} as const;

/** What runs live in these tests: flags only a flood (the fifth gift card in 10 minutes). */
const LIVE: PolicySetSource = {
  name: "live-lenient",
  velocity: [GIFT_COUNTER],
  rules: [
    {
      id: "giftcard_flood",
      events: ["gift_card_purchase"],
      when: "velocity.giftcard_purchases_10m >= 4.0",
      action: "review",
      hold: true,
    },
  ],
};

/** The candidate: the third gift card in 10 minutes, and sign-ins from a new country on a new device. */
const CANDIDATE: PolicySetSource = {
  name: "candidate",
  velocity: [GIFT_COUNTER],
  rules: [
    {
      id: "giftcard_burst",
      events: ["gift_card_purchase"],
      when: "velocity.giftcard_purchases_10m >= 2.0",
      action: "review",
      hold: true,
    },
    {
      id: "new_country_new_device",
      events: ["login"],
      when: "signals.newCountry && signals.newDevice",
      action: "challenge",
    },
  ],
};

const BROKEN = {
  name: "broken",
  rules: [{ id: "oops", events: ["order"], when: "event.data.amount >", action: "review" }],
};

const giftCardOrder = (instrumentId: string, recipientEmail: string) => ({
  items: [{ category: "gift_card", sku: "gc-2500", title: "Gift card", quantity: 1, unitPrice: 2500, recipientEmail }],
  payment: { method: "instrument", instrumentId },
});
const bookOrder = (instrumentId: string) => ({
  items: [{ category: "digital", sku: "e", title: "E-book", quantity: 1, unitPrice: 900 }],
  payment: { method: "instrument", instrumentId },
});

/**
 * Real history through the HTTP API: three shoppers sign up and save a card; Alice signs in and buys a book; Bob buys
 * three gift cards in four minutes (a legitimate burst); an hour later an attacker signs in to Hanako's account from
 * abroad and buys five gift cards a minute apart; support locks the account down with the break-in as `since`.
 */
async function buildHistory(t: TestApp) {
  const victim = await shopper(t, "hanako@example.jp");
  const alice = await shopper(t, "alice@example.jp");
  const bob = await shopper(t, "bob@example.jp");
  t.clock.advance(DAY);
  const a = await t.signIn("alice@example.jp", STRONG, TOKYO);
  assert.equal(a.status, "signed_in", JSON.stringify(a));
  t.clock.advance(MIN);
  const book = await t.call("POST", "/v1/commerce/orders", bookOrder(alice.instrumentId), {
    session: a.session.token,
  });
  assert.equal(book.statusCode, 201, book.body);
  for (let i = 0; i < 3; i++) {
    t.clock.advance(2 * MIN);
    const r = await t.call("POST", "/v1/commerce/orders", giftCardOrder(bob.instrumentId, "nephew@example.jp"), {
      session: bob.token,
    });
    assert.equal(r.statusCode, 201, r.body);
  }
  t.clock.advance(HOUR);
  const breakIn = t.clock.now();
  const atk = await t.signIn("hanako@example.jp", STRONG, ATTACKER);
  assert.equal(atk.status, "signed_in", JSON.stringify(atk));
  const statuses: string[] = [];
  for (let i = 0; i < 5; i++) {
    t.clock.advance(MIN);
    const r = await t.call("POST", "/v1/commerce/orders", giftCardOrder(victim.instrumentId, "drop@attacker.example"), {
      session: atk.session.token,
    });
    assert.equal(r.statusCode, 201, r.body);
    statuses.push(r.json().status);
  }
  // The live set holds only the fifth.
  assert.deepEqual(statuses, ["placed", "placed", "placed", "placed", "on_hold"]);
  const admin = await t.adminToken();
  const lock = await t.call(
    "POST",
    `/v1/admin/accounts/${victim.accountId}/lockdown`,
    { reason: "gift card burst", since: new Date(breakIn).toISOString() },
    { auth: admin },
  );
  assert.equal(lock.statusCode, 200, lock.body);
  await t.app.risk.flush();
  return { victim, alice, bob, breakIn };
}

const c = (tp: number, fp: number, fn: number, tn: number): Confusion => ({ tp, fp, fn, tn });

/**
 * Expected on that history. Stored rows: 3 payment_instrument_added (sign-up day), Alice's login and order, Bob's 3
 * gift cards, the attacker's login and 5 gift cards = 14; compromised: the attacker's 6.
 * Candidate flags: Bob's third gift card (FP), the attacker's third to fifth (TP 3) and the attacker's sign-in from a
 * new country on a new device (TP); misses the attacker's first two gift cards (FN 2).
 */
function assertExpected(s: ReplaySummary) {
  assert.equal(s.decisions, 14);
  assert.equal(s.compromised, 6);
  assert.deepEqual(s.replayed, c(4, 1, 2, 7));
  assert.deepEqual(s.stored, c(1, 0, 5, 8));
  assert.deepEqual(s.byType, {
    gift_card_purchase: { replayed: c(3, 1, 2, 2), stored: c(1, 0, 4, 3) },
    login: { replayed: c(1, 0, 0, 1), stored: c(0, 0, 1, 1) },
    order: { replayed: c(0, 0, 0, 1), stored: c(0, 0, 0, 1) },
    payment_instrument_added: { replayed: c(0, 0, 0, 3), stored: c(0, 0, 0, 3) },
  });
  // Bob's third, the attacker's third and fourth (allow → review), the attacker's sign-in (allow → challenge); the
  // attacker's fifth was already held.
  assert.equal(s.changed, 4);
  assert.deepEqual(s.transitions, { "allow→review": 3, "allow→challenge": 1 });
  assert.equal(s.precision, 4 / 5);
  assert.equal(s.recall, 4 / 6);
  assert.deepEqual(s.ruleHits, { giftcard_burst: 4, new_country_new_device: 1 });
}

describe("backtest on stored decisions (HTTP history)", () => {
  let t: TestApp;
  let h: Awaited<ReturnType<typeof buildHistory>>;
  before(async () => {
    t = await makeTestApp(undefined, undefined, { risk: LIVE });
    h = await buildHistory(t);
  });
  after(() => t.close());

  it("replays every stored decision through the candidate with fresh counters; exact confusion table", async () => {
    const rows: { account: string | null; type: string; label: string; stored: string; replayed: string }[] = [];
    const s = await backtestStoredDecisions(t.app.database.db, CANDIDATE, {
      onRow: (r) => {
        rows.push({ account: r.accountId, type: r.eventType, label: r.label, stored: r.stored, replayed: r.replayed });
      },
    });
    assertExpected(s);
    const attackerGift = rows.filter((r) => r.account === h.victim.accountId && r.type === "gift_card_purchase");
    assert.deepEqual(
      attackerGift.map((r) => [r.label, r.stored, r.replayed]),
      [
        ["compromised", "allow", "allow"],
        ["compromised", "allow", "allow"],
        ["compromised", "allow", "review"],
        ["compromised", "allow", "review"],
        ["compromised", "review", "review"],
      ],
    );
    const bobGift = rows.filter((r) => r.account === h.bob.accountId && r.type === "gift_card_purchase");
    assert.deepEqual(
      bobGift.map((r) => [r.label, r.replayed]),
      [
        ["legitimate", "allow"],
        ["legitimate", "allow"],
        ["legitimate", "review"],
      ],
    );
    const text = formatReplaySummary(s);
    assert.match(text, /replayed on 14 stored decisions/);
    assert.match(text, /^all\s+4\s+1\s+2\s+7\s+1\s+0\s+5\s+8$/m);
    assert.match(text, /precision 80\.0 %, recall 66\.7 %/);
    assert.match(text, /changed vs stored: 4 of 14/);
  });

  it("never touches the live counters: the next live event sees exactly the live history", async () => {
    // Replay twice more (it would double-count if it wrote into the live store), then decide one live event.
    await backtestStoredDecisions(t.app.database.db, CANDIDATE);
    await backtestStoredDecisions(t.app.database.db, LIVE);
    t.clock.advance(1000);
    const d = await t.app.risk.assessEvent({ type: "gift_card_purchase", accountId: h.victim.accountId, data: {} });
    // The attacker's five purchases, in the last 5 minutes, are the live 10-minute count.
    assert.equal(d.decision, "review");
    assert.deepEqual(
      d.reasons.map((r) => [r.ruleId, r.inputs]),
      [["giftcard_flood", { "velocity.giftcard_purchases_10m": 5 }]],
    );
  });

  it("replaying the live set itself reproduces the stored decisions", async () => {
    await t.app.risk.flush();
    const s = await backtestStoredDecisions(t.app.database.db, LIVE, { until: h.breakIn + 5 * MIN });
    assert.equal(s.decisions, 14);
    assert.equal(s.changed, 0);
    assert.deepEqual(s.replayed, s.stored);
  });

  it("--since / --until: counts only the range, warms the counters from the largest window before it", async () => {
    // From the attacker's third purchase on: the first two only warm the counter, so the third is still flagged.
    const s = await backtestStoredDecisions(t.app.database.db, CANDIDATE, {
      since: h.breakIn + 3 * MIN,
      until: h.breakIn + 5 * MIN,
    });
    assert.equal(s.decisions, 3);
    assert.deepEqual(s.replayed, c(3, 0, 0, 0));
    // The 10 minutes before: the attacker's sign-in and first two purchases.
    assert.equal(s.warmup, 3);
  });

  it("refuses a policy whose CEL expression does not compile, listing the problem", async () => {
    await assert.rejects(
      () => backtestStoredDecisions(t.app.database.db, BROKEN),
      (e: unknown) =>
        e instanceof PolicyError &&
        e.problems.length === 1 &&
        e.problems[0]!.path === "rules[0].when" &&
        /does not compile/.test(e.problems[0]!.message),
    );
  });
});

// The pure core on hand-made rows: labels, counters from the replayed rows only, warm-up, order.
describe("replayDecisions (pure)", () => {
  const T0 = Date.UTC(2026, 0, 10, 12);
  const row = (id: string, at: number, accountId: string | null, decision = "allow" as const): StoredDecisionRow => ({
    id,
    at,
    eventType: "gift_card_purchase",
    accountId,
    decision,
    policyVersion: 1,
    features: {
      event: { type: "gift_card_purchase", at, ip: "1.2.3.4", data: { amount: 2500 } },
      account: { id: accountId, exists: accountId !== null },
      session: {},
      signals: {},
      scores: { rba: 0 },
      // Live counters as stored: replay must ignore them.
      velocity: { giftcard_purchases_10m: 99 },
    },
  });

  it("labels: a case window [since, recovered_at), a 'not me' report within 30 days after", () => {
    const label = labeller({
      cases: [{ accountId: "a", since: T0, recoveredAt: T0 + HOUR }],
      notMe: [{ accountId: "b", at: T0 + 30 * DAY }],
    });
    assert.equal(label("a", T0 - 1), "legitimate");
    assert.equal(label("a", T0), "compromised");
    assert.equal(label("a", T0 + HOUR - 1), "compromised");
    assert.equal(label("a", T0 + HOUR), "legitimate");
    assert.equal(label("b", T0), "compromised");
    assert.equal(label("b", T0 - 1), "legitimate");
    assert.equal(label("b", T0 + 30 * DAY), "compromised");
    assert.equal(label("b", T0 + 30 * DAY + 1), "legitimate");
    assert.equal(label(null, T0), "legitimate");
  });

  it("counters come from the replayed rows, not the stored velocity; warm-up rows count only in counters", async () => {
    const rows = [0, 1, 2, 3].map((i) => row(`r${i}`, T0 + i * MIN, "acct"));
    const labels = { cases: [], notMe: [{ accountId: "acct", at: T0 + DAY }] };
    const all = await replayDecisions(rows, CANDIDATE, labels);
    assert.deepEqual(all.replayed, c(2, 0, 2, 0));
    const seen: number[] = [];
    const late = await replayDecisions(rows, CANDIDATE, labels, {
      from: T0 + 2 * MIN,
      onRow: (r) => {
        seen.push(r.velocity.giftcard_purchases_10m ?? -1);
      },
    });
    assert.equal(late.warmup, 2);
    assert.deepEqual(seen, [2, 3]);
    assert.deepEqual(late.replayed, c(2, 0, 0, 0));
  });

  it("rejects rows out of time order and an invalid set", async () => {
    await assert.rejects(
      () => replayDecisions([row("b", T0 + 1, "x"), row("a", T0, "x")], CANDIDATE, { cases: [], notMe: [] }),
      /out of time order/,
    );
    await assert.rejects(() => replayDecisions([], BROKEN, { cases: [], notMe: [] }), PolicyError);
  });
});

describe("mamori backtest --policy (CLI on a SQLite data dir)", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "mamori-replay-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("prints the confusion table and writes one CSV line per decision; a broken policy exits 2", async () => {
    const db = openStore({ dataDir: path.join(dir, "data") });
    await db.migrate();
    const t = await makeTestApp(testStores[0]!, db, { risk: LIVE });
    await buildHistory(t);
    await t.close();
    await db.close();

    const policy = path.join(dir, "candidate.json");
    writeFileSync(policy, JSON.stringify(CANDIDATE));
    const out = path.join(dir, "replay.csv");
    const env = { ...process.env, MAMORI_DATA_DIR: path.join(dir, "data"), MAMORI_FAST_HASH: "1" };
    const r = spawnSync(process.execPath, [BIN, "backtest", "--policy", policy, "--out", out], {
      env,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /replayed on 14 stored decisions/);
    assert.match(r.stdout, /^all\s+4\s+1\s+2\s+7\s+1\s+0\s+5\s+8$/m);
    assert.match(r.stdout, /^gift_card_purchase\s+3\s+1\s+2\s+2\s+1\s+0\s+4\s+3$/m);
    assert.match(r.stdout, /changed vs stored: 4 of 14/);
    const lines = readFileSync(out, "utf8").trim().split("\n");
    assert.equal(
      lines[0],
      "decision_id,at,event_type,account_id,label,stored_decision,stored_version,replayed_decision,changed,rules",
    );
    assert.equal(lines.length, 15);
    assert.equal(lines.filter((l) => /,compromised,allow,1,review,yes,giftcard_burst$/.test(l)).length, 2);
    if (process.env.REPLAY_PRINT) process.stdout.write(`${r.stdout}\n${lines.slice(0, 4).join("\n")}\n`);

    const broken = path.join(dir, "broken.json");
    writeFileSync(broken, JSON.stringify(BROKEN));
    const b = spawnSync(process.execPath, [BIN, "backtest", "--policy", broken], { env, encoding: "utf8" });
    assert.equal(b.status, 2, b.stdout + b.stderr);
    assert.match(b.stderr, /broken\.json is invalid/);
    assert.match(b.stderr, /rules\[0\]\.when: does not compile/);
    const notJson = path.join(dir, "not.json");
    writeFileSync(notJson, "{ rules: ");
    const n = spawnSync(process.execPath, [BIN, "backtest", "--policy", notJson], { env, encoding: "utf8" });
    assert.equal(n.status, 2, n.stdout + n.stderr);
    // --csv keeps working as before: without a file it prints the usage.
    const csv = spawnSync(process.execPath, [BIN, "backtest"], { env, encoding: "utf8" });
    assert.equal(csv.status, 2);
    assert.match(csv.stdout, /--policy FILE\.json/);
  });
});
