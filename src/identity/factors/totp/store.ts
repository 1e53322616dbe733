import type { Executor } from "../../../db/database.ts";
import { newId } from "../../../shared/crypto.ts";

/**
 * The authenticator's storage: four columns on `accounts` (0001) and the replaced states in `totp_history` (response's
 * 0005, kept so a roll-back can give the owner's app back). Only this folder reads or writes them (issue 17 item 2).
 */
export interface TotpState {
  secret_enc: string | null;
  pending_secret_enc: string | null;
  enrolled_at: number | null;
  last_step: number | null;
}

export const totpStore = {
  async state(ex: Executor, accountId: string): Promise<TotpState | undefined> {
    return ex
      .selectFrom("accounts")
      .select([
        "totp_secret_enc as secret_enc",
        "totp_pending_secret_enc as pending_secret_enc",
        "totp_enrolled_at as enrolled_at",
        "totp_last_step as last_step",
      ])
      .where("id", "=", accountId)
      .executeTakeFirst();
  },

  async setPending(ex: Executor, accountId: string, sealed: string, now: number): Promise<void> {
    await ex
      .updateTable("accounts")
      .set({ totp_pending_secret_enc: sealed, updated_at: now })
      .where("id", "=", accountId)
      .execute();
  },

  /** Guarded on totp_enrolled_at is null: of two racing confirmations, one enrols. */
  async activateIfNotEnrolled(
    ex: Executor,
    accountId: string,
    c: { sealed: string; step: number; now: number },
  ): Promise<boolean> {
    const u = await ex
      .updateTable("accounts")
      .set({
        totp_secret_enc: c.sealed,
        totp_pending_secret_enc: null,
        totp_enrolled_at: c.now,
        totp_last_step: c.step,
        updated_at: c.now,
      })
      .where("id", "=", accountId)
      .where("totp_enrolled_at", "is", null)
      .executeTakeFirst();
    return Number(u.numUpdatedRows) === 1;
  },

  async clear(ex: Executor, accountId: string, now: number): Promise<void> {
    await ex
      .updateTable("accounts")
      .set({ totp_secret_enc: null, totp_pending_secret_enc: null, totp_enrolled_at: null, updated_at: now })
      .where("id", "=", accountId)
      .execute();
  },

  /** Guarded on totp_last_step: two requests with the same code cannot both advance it. */
  async advanceStep(ex: Executor, accountId: string, step: number): Promise<boolean> {
    const r = await ex
      .updateTable("accounts")
      .set({ totp_last_step: step })
      .where("id", "=", accountId)
      .where((eb) => eb.or([eb("totp_last_step", "is", null), eb("totp_last_step", "<", step)]))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /** Keeps the state being replaced, so a roll-back can give the owner's app back. */
  async keep(ex: Executor, accountId: string, s: TotpState, now: number, by: string): Promise<void> {
    await ex
      .insertInto("totp_history")
      .values({
        id: newId(),
        account_id: accountId,
        secret_enc: s.secret_enc,
        enrolled_at: s.enrolled_at,
        replaced_at: now,
        replaced_by: by,
      })
      .execute();
  },

  /** The state just before the window: the earliest one replaced inside it. */
  beforeWindow: (ex: Executor, accountId: string, since: number) =>
    ex
      .selectFrom("totp_history")
      .selectAll()
      .where("account_id", "=", accountId)
      .where("replaced_at", ">=", since)
      .orderBy("replaced_at", "asc")
      .orderBy("id")
      .executeTakeFirst(),

  /**
   * Enrols imported secrets on accounts the import has just inserted (identity/import.ts), set-based: one UPDATE per
   * chunk of accounts, the secret chosen per id by a CASE, so a million-row import stays a few statements per batch.
   */
  async importEnrolled(ex: Executor, rows: readonly { accountId: string; sealed: string }[], now: number) {
    for (let i = 0; i < rows.length; i += 400) {
      const chunk = rows.slice(i, i + 400);
      await ex
        .updateTable("accounts")
        .set((eb) => {
          let c = eb.case("id").when(chunk[0]!.accountId).then(chunk[0]!.sealed);
          for (const r of chunk.slice(1)) c = c.when(r.accountId).then(r.sealed);
          return { totp_secret_enc: c.end(), totp_enrolled_at: now };
        })
        .where(
          "id",
          "in",
          chunk.map((r) => r.accountId),
        )
        .execute();
    }
  },

  async restore(
    ex: Executor,
    accountId: string,
    s: { secret_enc: string | null; enrolled_at: number | null; last_step: number },
    now: number,
  ): Promise<void> {
    await ex
      .updateTable("accounts")
      .set({
        totp_secret_enc: s.secret_enc,
        totp_enrolled_at: s.enrolled_at,
        totp_pending_secret_enc: null,
        totp_last_step: s.last_step,
        updated_at: now,
      })
      .where("id", "=", accountId)
      .execute();
  },
};
