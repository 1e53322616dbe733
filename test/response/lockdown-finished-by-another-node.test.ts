import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { APP_STORE, ATTACKER, makeTestApp, STRONG } from "../../src/testing/app.ts";

/**
 * Issue 18 item 4: a node dies in the middle of a lockdown. Before, the case stayed half-done (sessions ended, the
 * attacker's changes not yet rolled back, the owner not told) until that same node started again, which may be
 * never. Now the node's claim on the case lapses and another node's sweep takes it and finishes it; while the claim
 * is live nobody else touches the case, and of two nodes sweeping at once only one runs it.
 */
describe("lockdown-finished-by-another-node", () => {
  it("a lockdown whose node died is finished by another node once its claim lapses, and by one node only", async () => {
    const db = await APP_STORE.open();
    const email = `lease-${randomBytes(4).toString("hex")}@example.jp`;
    const leaseMs = 15_000;
    const env = (id: string) => ({ MAMORI_NODE_ID: id, MAMORI_LOCKDOWN_LEASE_MS: String(leaseMs) });
    // Node A: its lockdown dies after ending the sessions, before the roll-back (a SIGKILL at that point).
    const a = await makeTestApp(APP_STORE, db, {
      env: env("node-a"),
      crashPoint: (name) => {
        if (name === "rollback:before") throw new Error("node A died");
      },
    });
    const b = await makeTestApp(APP_STORE, db, { env: env("node-b"), now: a.clock.now() });
    const c = await makeTestApp(APP_STORE, db, { env: env("node-c"), now: a.clock.now() });
    try {
      const owner = await a.signUp(email);
      a.clock.advance(3_600_000);
      const atk = await a.signIn(email, STRONG, ATTACKER);
      assert.ok(atk.session.token);
      await assert.rejects(
        a.app.response.lockdownAccount({ accountId: owner.accountId, reason: "lease test", openedBy: "admin:test" }),
        /node A died/,
      );
      const [row] = await db.db.selectFrom("cases").selectAll().where("account_id", "=", owner.accountId).execute();
      assert.ok(row);
      assert.equal(row.status, "locking");
      assert.equal(row.runner, "node-a", "node A held the case when it died");
      const caseId = row.id;
      const stepsOf = async () =>
        Object.fromEntries(
          (await db.db.selectFrom("case_steps").selectAll().where("case_id", "=", caseId).execute()).map((s) => [
            s.step,
            `${s.status}/${s.attempts}`,
          ]),
        );
      const before = await stepsOf();
      assert.equal(before.end_sessions, "done/1");
      assert.equal(before.rollback, "pending/1");

      // While A's claim is live (it might only be slow), B neither sweeps nor resumes the case.
      for (const t of [b, c]) t.clock.set(a.clock.now() + leaseMs - 1000);
      assert.deepEqual(await b.app.response.sweepLockdowns(), []);
      assert.deepEqual(await b.app.response.resumeAll(), []);
      assert.deepEqual(await stepsOf(), before);

      // The claim lapses: B and C sweep at the same moment; one takes the case, the other waits for it to finish.
      for (const t of [b, c]) t.clock.set(a.clock.now() + leaseMs + 1);
      // A sweep that reads after the other's claim committed finds nothing to take (seen on PostgreSQL in CI): each
      // sweep lists the case or nothing, and at least one lists it.
      const [sb, sc] = await Promise.all([b.app.response.sweepLockdowns(), c.app.response.sweepLockdowns()]);
      for (const s of [sb, sc]) assert.ok(s.length === 0 || (s.length === 1 && s[0] === caseId), String(s));
      assert.deepEqual([...new Set([...sb, ...sc])], [caseId]);
      await Promise.all([b.app.response.lockdown(caseId), c.app.response.lockdown(caseId)]);

      const report = await b.app.response.getCase(caseId);
      assert.equal(report.status, "locked_down");
      const after = await stepsOf();
      for (const [step, state] of Object.entries(after)) assert.match(state, /^done\//, step);
      // One more attempt at the step A died in, not two: only one of B and C ran it.
      assert.equal(after.rollback, "done/2");
      assert.equal(after.notify_owner, "done/1");
      const [done] = await db.db.selectFrom("cases").selectAll().where("id", "=", caseId).execute();
      assert.equal(done?.runner, null, "the runner let go of the finished case");
      // The owner was told once.
      assert.equal((await a.mails(email)).filter((m) => m.template === "account_locked_down").length, 1);
    } finally {
      await a.close();
      await b.close();
      await c.close();
      await db.close();
    }
  });
});
