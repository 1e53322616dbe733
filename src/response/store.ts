import type { Executor } from "../db/database.ts";
import type { CasesTable } from "./tables.ts";

export type CaseRow = CasesTable;

/**
 * The lockdown's one step table, in the order the steps run. Each step is idempotent; a resumed lockdown re-plans
 * (adds rows for steps it has none for: a step added in a newer version while a case was mid-lockdown) and skips the
 * ones marked done. `window`: the step runs again when support moves the window. `summary`: the line of the owner's
 * mail counting the case's actions on these object kinds ({n}); a line with nothing counted is left out.
 */
export interface StepSpec {
  name: string;
  window: boolean;
  summary: { objects: readonly string[]; ja: string; en: string } | null;
}

export const LOCKDOWN_PLAN = [
  { name: "freeze", window: false, summary: null },
  {
    name: "end_sessions",
    window: false,
    summary: { objects: ["session"], ja: "端末のログアウト {n}件", en: "{n} sessions ended" },
  },
  { name: "window", window: true, summary: null },
  {
    name: "cancel_orders",
    window: true,
    summary: { objects: ["order"], ja: "注文のキャンセル・返金 {n}件", en: "{n} orders cancelled or refunded" },
  },
  {
    name: "rollback",
    window: true,
    summary: {
      objects: ["contact_point", "password", "second_factor", "address", "payment_instrument", "setting"],
      ja: "元に戻した変更 {n}件",
      en: "{n} changes undone",
    },
  },
  {
    name: "gift_cards",
    window: true,
    summary: { objects: ["gift_card", "wallet"], ja: "ギフトカードの対応 {n}件", en: "{n} gift card actions" },
  },
  {
    name: "listings",
    window: true,
    summary: { objects: ["listing"], ja: "出品の取り下げ {n}件", en: "{n} listings taken down" },
  },
  { name: "notify_owner", window: true, summary: null },
] as const satisfies readonly StepSpec[];

export const LOCKDOWN_STEPS = LOCKDOWN_PLAN.map((s) => s.name);
export type LockdownStep = (typeof LOCKDOWN_PLAN)[number]["name"];

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

  /**
   * Steps are written before any of them runs, so a crash at any point leaves a plan to resume; called again on every
   * (re)start of a lockdown, it adds only the steps the case has no row for (insert-if-absent per step).
   */
  async planSteps(ex: Executor, caseId: string, names: readonly string[]): Promise<void> {
    const have = new Set(
      (await ex.selectFrom("case_steps").select("step").where("case_id", "=", caseId).execute()).map((r) => r.step),
    );
    for (const step of names) {
      if (have.has(step)) continue;
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

  /**
   * Takes the lockdown for this node: only while the case is locking and nobody else's claim is live (none, this
   * node's own, or lapsed), in one conditional UPDATE, so of two nodes sweeping at once one gets it. "finished": the
   * case is no longer locking; "held": another node's claim is live.
   */
  async claimLockdown(
    ex: Executor,
    caseId: string,
    node: string,
    now: number,
    leaseMs: number,
  ): Promise<"claimed" | "held" | "finished"> {
    const r = await ex
      .updateTable("cases")
      .set({ runner: node, runner_until: now + leaseMs })
      .where("id", "=", caseId)
      .where("status", "=", "locking")
      .where((w) => w.or([w("runner", "is", null), w("runner", "=", node), w("runner_until", "<", now)]))
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return "claimed";
    const c = await ex.selectFrom("cases").select("status").where("id", "=", caseId).executeTakeFirst();
    return c?.status === "locking" ? "held" : "finished";
  },

  /** Extends this node's claim; false when another node has taken the case (this one was too slow) or it finished. */
  async renewLockdownClaim(ex: Executor, caseId: string, node: string, now: number, leaseMs: number) {
    const r = await ex
      .updateTable("cases")
      .set({ runner_until: now + leaseMs })
      .where("id", "=", caseId)
      .where("runner", "=", node)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /** Lets go of the claim (the lockdown is done): guarded on the runner, so a taken-over claim is not cleared. */
  async releaseLockdownClaim(ex: Executor, caseId: string, node: string): Promise<void> {
    await ex
      .updateTable("cases")
      .set({ runner: null, runner_until: null })
      .where("id", "=", caseId)
      .where("runner", "=", node)
      .execute();
  },

  /**
   * Locking cases nobody holds: no runner, or its claim lapsed (its node died or stalls); with `mine`, also those this
   * node's name holds (a node started again takes back its own at once).
   */
  async unclaimedLockdowns(ex: Executor, now: number, mine?: string): Promise<string[]> {
    const rows = await ex
      .selectFrom("cases")
      .select("id")
      .where("status", "=", "locking")
      .where((w) =>
        w.or([
          w("runner", "is", null),
          w("runner_until", "<", now),
          ...(mine === undefined ? [] : [w("runner", "=", mine)]),
        ]),
      )
      .execute();
    return rows.map((r) => r.id);
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
    if (Number(r.numUpdatedRows) === 1) return;
    const row = await ex
      .selectFrom("case_steps")
      .select("status")
      .where("case_id", "=", caseId)
      .where("step", "=", step)
      .executeTakeFirst();
    // A step without a row would roll its work back silently and the lockdown would move on without it: never quiet.
    if (!row) throw new Error(`lockdown step ${step} is not in the plan of case ${caseId}`);
    throw new StepAlreadyDone(step);
  },

  /** Re-opens the steps that depend on the window (support moved it); done work stays recorded and is not redone. */
  async reopenWindowSteps(ex: Executor, caseId: string, names: readonly string[]): Promise<void> {
    if (names.length === 0) return;
    await ex
      .updateTable("case_steps")
      .set({ status: "pending", done_at: null })
      .where("case_id", "=", caseId)
      .where("step", "in", [...names])
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
