import type { Executor } from "../db/database.ts";
import { newId } from "../shared/crypto.ts";

/** One line of a case's verification report: what was done to one object, with its state before and after. */
export interface CaseAction {
  caseId: string;
  step: string;
  objectType: string;
  objectId: string;
  action: string;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  webhookId?: string | null;
  note?: string | null;
  at: number;
}

/**
 * Has this case already done `action` to this object? Check it in the transaction that would do it: with
 * `recordCaseAction` in the same transaction, a resumed step skips what the crashed run committed.
 */
export async function caseActionDone(
  tx: Executor,
  k: { caseId: string; objectType: string; objectId: string; action: string },
): Promise<boolean> {
  const row = await tx
    .selectFrom("case_actions")
    .select("id")
    .where("case_id", "=", k.caseId)
    .where("object_type", "=", k.objectType)
    .where("object_id", "=", k.objectId)
    .where("action", "=", k.action)
    .executeTakeFirst();
  return row !== undefined;
}

/**
 * Records an action in the transaction that performs it. The unique index on (case, object type, object, action)
 * makes a second record of the same action fail, rolling back a duplicate change with it.
 */
export async function recordCaseAction(tx: Executor, a: CaseAction): Promise<void> {
  await recordCaseActions(tx, [a]);
}

/** The same for several actions, with one insert (the unique index still refuses any one of them twice). */
export async function recordCaseActions(tx: Executor, actions: CaseAction[]): Promise<void> {
  if (actions.length === 0) return;
  await tx
    .insertInto("case_actions")
    .values(
      actions.map((a) => ({
        id: newId(),
        case_id: a.caseId,
        step: a.step,
        object_type: a.objectType,
        object_id: a.objectId,
        action: a.action,
        before: a.before === null ? null : JSON.stringify(a.before),
        after: a.after === null ? null : JSON.stringify(a.after),
        webhook_id: a.webhookId ?? null,
        note: a.note ?? null,
        at: a.at,
      })),
    )
    .execute();
}
