import type { Executor } from "../../../db/database.ts";
import { newId } from "../../../shared/crypto.ts";
import { SECRET_HASH_VERSION } from "../../secrets.ts";

/**
 * The recovery codes' storage: `recovery_codes` (0001; hashes as identity/secrets.ts makes them). Only this folder
 * and secrets.ts (which spends a code and rewraps legacy hashes) touch it. Nothing is deleted: a replaced code is
 * marked used, so a roll-back can bring the owner's codes back.
 */
export const recoveryCodeStore = {
  async replace(ex: Executor, accountId: string, hashes: string[], now: number): Promise<void> {
    await ex
      .updateTable("recovery_codes")
      .set({ used_at: now })
      .where("account_id", "=", accountId)
      .where("used_at", "is", null)
      .execute();
    if (hashes.length) {
      await ex
        .insertInto("recovery_codes")
        .values(
          hashes.map((h) => ({
            id: newId(),
            account_id: accountId,
            code_hash: h,
            created_at: now,
            used_at: null,
            hash_version: SECRET_HASH_VERSION,
          })),
        )
        .execute();
    }
  },

  async unused(ex: Executor, accountId: string): Promise<number> {
    const r = await ex
      .selectFrom("recovery_codes")
      .select((eb) => eb.fn.countAll().as("n"))
      .where("account_id", "=", accountId)
      .where("used_at", "is", null)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  },

  /** The newest unused code's creation, for the pages (when this set was made). */
  async newestUnused(ex: Executor, accountId: string): Promise<number | null> {
    const r = await ex
      .selectFrom("recovery_codes")
      .select((eb) => eb.fn.max("created_at").as("at"))
      .where("account_id", "=", accountId)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return r?.at === null || r?.at === undefined ? null : Number(r.at);
  },

  /** Codes a roll-back to `since` would change: the owner's spent in the window, and the window's still unused. */
  inWindow: (ex: Executor, accountId: string, since: number) =>
    ex
      .selectFrom("recovery_codes")
      .select(["created_at", "used_at"])
      .where("account_id", "=", accountId)
      .where((eb) =>
        eb.or([
          eb.and([eb("created_at", "<", since), eb("used_at", ">=", since)]),
          eb.and([eb("created_at", ">=", since), eb("used_at", "is", null)]),
        ]),
      )
      .execute(),

  /** The owner's codes that the window spent or replaced come back unused. */
  async revive(ex: Executor, accountId: string, since: number): Promise<number> {
    const r = await ex
      .updateTable("recovery_codes")
      .set({ used_at: null })
      .where("account_id", "=", accountId)
      .where("created_at", "<", since)
      .where("used_at", ">=", since)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  },

  /** Codes made in the window and still unused are spent. */
  async voidSince(ex: Executor, accountId: string, since: number, now: number): Promise<number> {
    const r = await ex
      .updateTable("recovery_codes")
      .set({ used_at: now })
      .where("account_id", "=", accountId)
      .where("created_at", ">=", since)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows);
  },
};
