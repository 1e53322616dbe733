import type { Executor } from "../db/database.ts";
import type { CasesTable } from "./tables.ts";

export type CaseRow = CasesTable;

/** The lockdown steps, in the order they run. Each is idempotent; a resumed lockdown skips the ones marked done. */
export const LOCKDOWN_STEPS = [
  "freeze",
  "end_sessions",
  "window",
  "cancel_orders",
  "rollback",
  "gift_cards",
  "listings",
  "notify_owner",
] as const;
export type LockdownStep = (typeof LOCKDOWN_STEPS)[number];

/** Raised inside a step's transaction when another runner already finished it: rolls the duplicate back. */
export class StepAlreadyDone extends Error {}

export const responseStore = {
  getCase(ex: Executor, id: string): Promise<CaseRow | undefined> {
    return ex.selectFrom("cases").selectAll().where("id", "=", id).executeTakeFirst();
  },

  /** The account's case that is still being acted on (at most one matters: the newest). */
  activeCase(ex: Executor, accountId: string): Promise<CaseRow | undefined> {
    return ex
      .selectFrom("cases")
      .selectAll()
      .where("account_id", "=", accountId)
      .where("status", "in", ["open", "locking", "locked_down", "recovering"])
      .orderBy("created_at", "desc")
      .executeTakeFirst();
  },

  /** Steps are written before any of them runs, so a crash at any point leaves a plan to resume. */
  async planSteps(ex: Executor, caseId: string): Promise<void> {
    for (const step of LOCKDOWN_STEPS) {
      const exists = await ex
        .selectFrom("case_steps")
        .select("step")
        .where("case_id", "=", caseId)
        .where("step", "=", step)
        .executeTakeFirst();
      if (!exists) {
        await ex
          .insertInto("case_steps")
          .values({
            case_id: caseId,
            step,
            status: "pending",
            attempts: 0,
            started_at: null,
            done_at: null,
            result: null,
          })
          .execute();
      }
    }
  },

  steps(ex: Executor, caseId: string) {
    return ex.selectFrom("case_steps").selectAll().where("case_id", "=", caseId).execute();
  },

  async startAttempt(ex: Executor, caseId: string, step: string, now: number): Promise<void> {
    await ex
      .updateTable("case_steps")
      .set((eb) => ({ attempts: eb("attempts", "+", 1), started_at: now }))
      .where("case_id", "=", caseId)
      .where("step", "=", step)
      .execute();
  },

  /** Guarded on status pending: of two runners finishing the same step, one commits and the other rolls back. */
  async finishStep(ex: Executor, caseId: string, step: string, now: number, result: unknown): Promise<void> {
    const r = await ex
      .updateTable("case_steps")
      .set({ status: "done", done_at: now, result: JSON.stringify(result ?? null) })
      .where("case_id", "=", caseId)
      .where("step", "=", step)
      .where("status", "=", "pending")
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) !== 1) throw new StepAlreadyDone(step);
  },

  /** Re-opens the steps that depend on the window (support moved it); done work stays recorded and is not redone. */
  async reopenWindowSteps(ex: Executor, caseId: string): Promise<void> {
    await ex
      .updateTable("case_steps")
      .set({ status: "pending", done_at: null })
      .where("case_id", "=", caseId)
      .where("step", "in", ["window", "cancel_orders", "rollback", "gift_cards", "listings", "notify_owner"])
      .execute();
  },

  attackerSessionIds: async (ex: Executor, caseId: string): Promise<string[]> =>
    (
      await ex
        .selectFrom("case_sessions")
        .select("session_id")
        .where("case_id", "=", caseId)
        .where("role", "=", "attacker")
        .execute()
    ).map((r) => r.session_id),

  /** Insert-if-absent: a resumed window step marks each session once; an owner's claim is never overwritten. */
  async markSession(ex: Executor, caseId: string, sessionId: string, role: string, now: number): Promise<void> {
    await ex
      .insertInto("case_sessions")
      .values({ case_id: caseId, session_id: sessionId, role, at: now })
      .onConflict((oc) => oc.columns(["case_id", "session_id"]).doNothing())
      .execute();
  },
};
