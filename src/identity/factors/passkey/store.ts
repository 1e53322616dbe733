import type { Executor } from "../../../db/database.ts";
import { signCountMoves } from "./ceremony.ts";
import type { PasskeyChallengesTable, PasskeysTable } from "./tables.ts";

export type PasskeyRow = PasskeysTable;
export type PasskeyChallengeRow = PasskeyChallengesTable;

/** SQL of the passkey factor. Each method takes the executor, so the caller picks the transaction it joins. */
export const passkeyStore = {
  async issueChallenge(ex: Executor, row: PasskeyChallengeRow): Promise<void> {
    await ex.insertInto("passkey_challenges").values(row).execute();
  },

  /**
   * Spends a challenge once. Atomic: `used_at is null and expires_at > now` in the UPDATE, so of two responses
   * carrying the same challenge (a replay, or two tabs) exactly one matches; the loser gets nothing. Only its owner's
   * answer spends it (`owner`: the account and the session or recovery it was issued to): the spend commits on its
   * own, so a stranger's answer carrying it must not burn the owner's ceremony.
   */
  async consumePasskeyChallenge(
    ex: Executor,
    input: {
      challenge: string;
      purposes: readonly string[];
      owner: { accountId: string | null; boundTo: string | null };
      now: number;
    },
  ): Promise<PasskeyChallengeRow | undefined> {
    const row = await ex
      .selectFrom("passkey_challenges")
      .selectAll()
      .where("challenge", "=", input.challenge)
      .executeTakeFirst();
    if (!row || !input.purposes.includes(row.purpose)) return undefined;
    if (row.account_id !== input.owner.accountId || row.bound_to !== input.owner.boundTo) return undefined;
    const r = await ex
      .updateTable("passkey_challenges")
      .set({ used_at: input.now })
      .where("id", "=", row.id)
      .where("used_at", "is", null)
      .where("expires_at", ">", input.now)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? { ...row, used_at: input.now } : undefined;
  },

  /** Challenges past their expiry are worth nothing; the sweep keeps the table small. */
  async deleteExpiredChallenges(ex: Executor, now: number): Promise<void> {
    await ex.deleteFrom("passkey_challenges").where("expires_at", "<", now).execute();
  },

  async insertPasskey(ex: Executor, row: PasskeyRow): Promise<void> {
    await ex.insertInto("passkeys").values(row).execute();
  },

  /** A live credential by its id (a removed one signs nobody in). */
  byCredentialId(ex: Executor, credentialId: string): Promise<PasskeyRow | undefined> {
    return ex
      .selectFrom("passkeys")
      .selectAll()
      .where("credential_id", "=", credentialId)
      .where("removed_at", "is", null)
      .executeTakeFirst();
  },

  live(ex: Executor, accountId: string): Promise<PasskeyRow[]> {
    return ex
      .selectFrom("passkeys")
      .selectAll()
      .where("account_id", "=", accountId)
      .where("removed_at", "is", null)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
  },

  /** Every credential the account ever had, removed ones included (roll-back reads them). */
  all(ex: Executor, accountId: string): Promise<PasskeyRow[]> {
    return ex
      .selectFrom("passkeys")
      .selectAll()
      .where("account_id", "=", accountId)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
  },

  async count(ex: Executor, accountId: string): Promise<number> {
    const r = await ex
      .selectFrom("passkeys")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("account_id", "=", accountId)
      .where("removed_at", "is", null)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  },

  /**
   * Records a use whose signature verified. Atomic: `sign_count < n` (or both zero: an authenticator that keeps no
   * counter) in the UPDATE, so a counter equal to or below the stored one — a cloned key, or two racing uses of the
   * same count — matches nothing and the caller refuses it.
   */
  async advanceSignCount(ex: Executor, id: string, n: number, now: number): Promise<boolean> {
    const r = await ex
      .updateTable("passkeys")
      .set({ sign_count: n, last_used_at: now })
      .where("id", "=", id)
      .where("removed_at", "is", null)
      .where(...signCountMoves(n))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /** Guarded on `removed_at is null`: the rename of a removed passkey changes nothing. */
  async rename(ex: Executor, accountId: string, id: string, name: string): Promise<PasskeyRow | undefined> {
    const before = await ex
      .selectFrom("passkeys")
      .selectAll()
      .where("id", "=", id)
      .where("account_id", "=", accountId)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    if (!before) return undefined;
    const r = await ex
      .updateTable("passkeys")
      .set({ name })
      .where("id", "=", id)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? before : undefined;
  },

  /** Removal happens once (`removed_at is null`); the first remover and time are kept. */
  async remove(ex: Executor, accountId: string, id: string, by: string, now: number): Promise<PasskeyRow | undefined> {
    const row = await ex
      .selectFrom("passkeys")
      .selectAll()
      .where("id", "=", id)
      .where("account_id", "=", accountId)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    if (!row) return undefined;
    const r = await ex
      .updateTable("passkeys")
      .set({ removed_at: now, removed_by: by })
      .where("id", "=", id)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? row : undefined;
  },

  /** Brings back a credential removed in a compromise window (guarded: only a removed one). */
  async restore(ex: Executor, id: string): Promise<boolean> {
    const r = await ex
      .updateTable("passkeys")
      .set({ removed_at: null, removed_by: null })
      .where("id", "=", id)
      .where("removed_at", "is not", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },
};
