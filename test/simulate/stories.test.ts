import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { simulate } from "../../src/simulate/index.ts";
import type { StoryResult } from "../../src/simulate/play.ts";

// The five seed stories, played over HTTP against a Mamori the simulator starts itself (SQLite in a temp dir, or a
// fresh PostgreSQL schema with MAMORI_TEST_STORE=postgres). Each story's outcome object is asserted, not only `ok`.
const PG_URL = process.env.MAMORI_TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";

describe("mamori simulate all", () => {
  it("plays 000–004 and every expected outcome holds", { timeout: 180_000 }, async () => {
    const lines: string[] = [];
    const results = await simulate({
      stories: ["all"],
      out: (s) => lines.push(s),
      ...(process.env.MAMORI_TEST_STORE === "postgres" ? { databaseUrl: PG_URL } : {}),
    });
    const by = (id: string): StoryResult => {
      const r = results.find((x) => x.id === id);
      assert.ok(r, `story ${id} ran`);
      return r;
    };
    const failed = results.flatMap((r) =>
      r.checks.filter((c) => !c.ok).map((c) => `${r.id}: ${c.label} — ${c.detail}`),
    );
    assert.deepEqual(failed, [], lines.join("\n"));
    assert.deepEqual(
      results.map((r) => [r.id, r.ok]),
      ["000", "001", "002", "003", "004"].map((id) => [id, true]),
    );
    const has = (r: StoryResult, re: RegExp) =>
      assert.ok(
        r.checks.some((c) => re.test(c.label) && c.ok),
        `${r.id} ${re}`,
      );

    const s0 = by("000");
    has(s0, /held session is rejected/);
    has(s0, /sign-in fails/);
    assert.equal(s0.facts.pendingOrderStatusBefore, "pending_payment");
    assert.deepEqual(s0.facts.pendingOrderAfter, { status: "cancelled", paymentRequired: false });
    assert.equal(s0.facts.flaggedWhileStoreDown, 1, "the unconfirmed cancellation was flagged");
    assert.ok(["retry", "confirmWebhook"].includes(s0.facts.clearedBy as string));
    has(s0, /voided/);
    has(s0, /refunded in full/);
    has(s0, /address the attacker added is gone/);

    const s1 = by("001");
    assert.equal(s1.facts.ownerLockedOut, "200 challenge", "the owner was locked out by the attacker's change");
    has(s1, /email is back/);
    has(s1, /refuses the password the attacker set/);
    has(s1, /signs in with the old email/);

    const s2 = by("002");
    has(s2, /only masked/);
    has(s2, /original email/);
    const notices = s2.facts.notices as Record<string, { language: string; refundLine: boolean }>;
    assert.deepEqual(
      Object.values(notices).map((x) => x.language),
      ["ja", "en", "ja"],
    );
    assert.ok(Object.values(notices).every((x) => x.refundLine));
    has(s2, /listings are down/);

    const s3 = by("003");
    assert.ok(["signed_in", "challenged"].includes(s3.facts.attackerSignIn as string));
    assert.equal(s3.facts.muleBalance, 0, "nothing redeemed is left to spend");
    // The default policy: two cards charged, five held; the mule's redemptions from abroad minutes later are held too.
    assert.equal(s3.facts.charged, 2);
    assert.equal(s3.facts.held, 5);
    assert.equal((s3.facts.redeemedCodes as number) + (s3.facts.redemptionsHeld as number), 2);
    has(s3, /holds the burst/);
    has(s3, /nothing the attacker bought stays charged/);

    const s4 = by("004");
    assert.equal(s4.facts.firstAttempt, "redemption_held", "the redemption from abroad was held");
    assert.equal(s4.facts.proxyAttempt, "redemption_held", "the redemption through a Japanese proxy was held too");
    assert.equal(s4.facts.ownerRedeemFirst, null, "the owner redeemed her card");
    assert.equal(s4.facts.strangerBalance, 0);
    assert.equal(s4.facts.ownerBalance, 20_000);
  });
});
