import type { Db, Executor } from "../../../db/database.ts";
import type { Clock } from "../../../shared/clock.ts";
import { IdentityErrors } from "../../errors.ts";
import { newLookupSecret, type StoredSecrets } from "../../secrets.ts";
import type { Factor, FactorChange, FactorEnrolledSql, FactorFace, FactorItem, FactorVerifyInput } from "../types.ts";
import { recoveryCodeStore as store } from "./store.ts";

/** The accounts with this factor enrolled, as SQL (Factor.enrolledSql: what risk reads with an account's facts). */
export const RECOVERY_CODES_ENROLLED_SQL: FactorEnrolledSql = {
  select: "select account_id from recovery_codes where used_at is null",
  tables: [{ table: "recovery_codes", account: "account_id" }],
};

export interface RecoveryCodesFactorDeps {
  db: Db;
  clock: Clock;
  /** how codes are hashed and spent (identity/secrets.ts, keyed by the instance secret) */
  secrets: StoredSecrets;
}

/** Codes in a set: enough for years of lost phones, few enough to write down. */
export const RECOVERY_CODES = 10;
const LABEL = { ja: "リカバリーコード", en: "Recovery codes" };

/**
 * Recovery codes: single-use lookup secrets (120 bits, identity/secrets.ts) issued with an authenticator, for the day
 * the phone is lost. Strength 2 like the authenticator they stand in for. The set is one item; `issue` replaces it
 * (the old codes are spent, never deleted, so a roll-back can bring the owner's back).
 */
export function createRecoveryCodesFactor(deps: RecoveryCodesFactorDeps) {
  const { db, clock, secrets } = deps;

  const factor = {
    kind: "recovery_code",
    strength: 2,
    label: LABEL,
    changeEvents: { "recovery_codes.regenerated": { ja: "リカバリーコード再発行", en: "Recovery codes renewed" } },
    // They stand in for the authenticator: without it enrolled they are not offered and complete nothing.
    backs: "totp",
    enrolledSql: RECOVERY_CODES_ENROLLED_SQL,

    async enrolled(ex: Executor, accountId: string) {
      return (await store.unused(ex, accountId)) > 0;
    },

    /** Nothing to send: the owner has the codes on paper. */
    async challenge(): Promise<Record<string, never>> {
      return {};
    },

    /** Spends a code (guarded: exactly once, even by two racing requests); code_invalid otherwise. */
    async verify(input: FactorVerifyInput<string>) {
      if (input.accountId === null) throw IdentityErrors.code_invalid();
      if (!(await secrets.consumeRecoveryCode(db, input.accountId, input.proof, clock.now()))) {
        throw IdentityErrors.code_invalid();
      }
      return { accountId: input.accountId, itemId: input.accountId };
    },

    /** Spends every unused code of the account. */
    async remove(t: Executor, input: { accountId: string; itemId?: string; by: string; now: number }) {
      const had = (await store.unused(t, input.accountId)) > 0;
      await store.replace(t, input.accountId, [], input.now);
      return had;
    },

    async planRollBack(ex: Executor, input: { accountId: string; since: number }): Promise<FactorChange[]> {
      const codes = await store.inWindow(ex, input.accountId, input.since);
      if (!codes.length) return [];
      const revived = codes.filter((x) => x.created_at < input.since).length;
      const voided = codes.length - revived;
      return [change(input.accountId, voided, revived)];
    },

    /** The owner's unused codes that the window spent or replaced come back; codes made in it go. */
    async rollBackSince(
      t: Executor,
      input: { accountId: string; since: number; now: number; by: string },
    ): Promise<FactorChange[]> {
      const revived = await store.revive(t, input.accountId, input.since);
      const voided = await store.voidSince(t, input.accountId, input.since, input.now);
      return revived + voided > 0 ? [change(input.accountId, voided, revived)] : [];
    },

    async describe(ex: Executor, accountId: string): Promise<FactorItem[]> {
      const left = await store.unused(ex, accountId);
      const at = left > 0 ? await store.newestUnused(ex, accountId) : null;
      if (at === null) return [];
      return [{ kind: "recovery_code", id: accountId, name: `${LABEL.en} (${left})`, createdAt: at, lastUsedAt: null }];
    },

    /**
     * How many are left, and a new set (the security center's post). Shown only while there are codes: they are
     * issued with the authenticator and go with it.
     */
    async face(ex: Executor, accountId: string): Promise<FactorFace | null> {
      const left = await store.unused(ex, accountId);
      if (left === 0) return null;
      return {
        status: {
          ja: `残り ${left} 個。認証アプリが使えないときに、コードの代わりに1回ずつ使えます。`,
          en: `${left} left. Each works once in place of the app's code.`,
        },
        actions: [
          {
            label: { ja: "リカバリーコードを作り直す", en: "Make new recovery codes" },
            href: "./recovery-codes",
            method: "post",
          },
        ],
      };
    },

    /** How many unused codes the account has (the account view's `recoveryCodesLeft`). */
    left: (ex: Executor, accountId: string) => store.unused(ex, accountId),

    /** A new set in the caller's transaction, replacing the old one; the codes are shown once and never stored. */
    async issue(t: Executor, accountId: string): Promise<string[]> {
      const codes = Array.from({ length: RECOVERY_CODES }, () => newLookupSecret());
      await store.replace(t, accountId, codes.map(secrets.recoveryCodeHash), clock.now());
      return codes;
    },
  } satisfies Factor & Record<string, unknown>;
  return factor;
}

function change(accountId: string, voided: number, revived: number): FactorChange {
  return {
    objectId: accountId,
    caseObjectId: `${accountId}:recovery_codes`,
    action: "restored",
    before: { codesMadeInWindow: voided },
    after: { ownerCodesRestored: revived },
    note: null,
    summary: {
      ja: `リカバリーコード: ${revived}個を復活、${voided}個を無効化`,
      en: `recovery codes: ${revived} revived, ${voided} voided`,
    },
  };
}

export type RecoveryCodesFactor = ReturnType<typeof createRecoveryCodesFactor>;
