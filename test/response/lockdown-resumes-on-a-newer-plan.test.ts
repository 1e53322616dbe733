import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import type { ExtraStep } from "../../src/response/service.ts";
import { APP_STORE, ATTACKER, makeTestApp, STRONG } from "../../src/testing/app.ts";

/**
 * A lockdown interrupted on one version is finished by the next, whose plan has a step the case was never planned
 * with. Before, that step had no row: its transaction rolled back silently and the lockdown went on without it. The
 * resumed lockdown must re-plan, run the new step, and say so in the case's report.
 */
describe("lockdown-resumes-on-a-newer-plan", () => {
  it("a step added since the case was planned runs when the lockdown resumes", async () => {
    const db = await APP_STORE.open();
    const email = `replan-${randomBytes(4).toString("hex")}@example.jp`;
    let caseId = "";
    let accountId = "";
    {
      // The old version: its lockdown dies right after ending the sessions.
      const t = await makeTestApp(APP_STORE, db, {
        crashPoint: (name) => {
          if (name === "end_sessions:done") throw new Error("process died");
        },
      });
      const owner = await t.signUp(email);
      accountId = owner.accountId;
      t.clock.advance(3_600_000);
      await t.signIn(email, STRONG, ATTACKER);
      await assert.rejects(
        t.app.response.lockdownAccount({ accountId, reason: "replan test", openedBy: "admin:test" }),
        /process died/,
      );
      const open = await db.db
        .selectFrom("cases")
        .select(["id", "status"])
        .where("account_id", "=", accountId)
        .execute();
      assert.equal(open.length, 1);
      assert.equal(open[0]!.status, "locking");
      caseId = open[0]!.id;
      await t.close();
    }
    // The new version: one more step, before the owner is told.
    const audit: ExtraStep = {
      name: "store_audit_note",
      before: "notify_owner",
      window: true,
      summary: null,
      work: async (tx, c) => {
        await tx
          .insertInto("case_notes")
          .values({ id: `n-${c.id}`, case_id: c.id, author: "system", body: "audited by the new step", at: 0 })
          .execute();
        return { audited: true };
      },
    };
    const t = await makeTestApp(APP_STORE, db, { lockdownSteps: [audit] });
    try {
      assert.deepEqual(await t.app.response.resumeAll(), [caseId]);
      const report = await t.app.response.getCase(caseId);
      assert.equal(report.status, "locked_down");
      const steps = report.steps.map((s: { step: string; status: string }) => `${s.step}:${s.status}`);
      assert.deepEqual(steps, [
        "freeze:done",
        "end_sessions:done",
        "window:done",
        "cancel_orders:done",
        "rollback:done",
        "gift_cards:done",
        "listings:done",
        "store_audit_note:done",
        "notify_owner:done",
      ]);
      assert.equal(report.notes.map((n: { body: string }) => n.body).includes("audited by the new step"), true);
      // Window-dependent steps of the new plan run again when support moves the window.
      await db.db.deleteFrom("case_notes").where("id", "=", `n-${caseId}`).execute();
      await t.app.response.adjustWindow(caseId, t.clock.now() - 7_200_000, "admin:test");
      const again = await t.app.response.getCase(caseId);
      assert.equal(again.notes.map((n: { body: string }) => n.body).includes("audited by the new step"), true);
    } finally {
      await t.close();
      await db.close();
    }
  });
});
