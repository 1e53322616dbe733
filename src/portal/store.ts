import type { Kysely, Transaction } from "kysely";
import type { Database } from "../db/schema.ts";

type Executor = Kysely<Database> | Transaction<Database>;

export const portalStore = {
  async insertLink(
    ex: Executor,
    row: { id: string; tokenHash: string; sessionId: string; accountId: string; now: number; expiresAt: number },
  ): Promise<void> {
    await ex
      .insertInto("portal_links")
      .values({
        id: row.id,
        token_hash: row.tokenHash,
        session_id: row.sessionId,
        account_id: row.accountId,
        created_at: row.now,
        expires_at: row.expiresAt,
        used_at: null,
      })
      .execute();
  },

  /**
   * Uses a one-time link: a single conditional UPDATE (unused and unexpired), so of two browsers opening the same
   * URL at once exactly one gets the row back.
   */
  async consumePortalLink(
    ex: Executor,
    tokenHash: string,
    now: number,
  ): Promise<{ sessionId: string; accountId: string } | "used" | "expired" | "invalid"> {
    const row = await ex
      .updateTable("portal_links")
      .set({ used_at: now })
      .where("token_hash", "=", tokenHash)
      .where("used_at", "is", null)
      .where("expires_at", ">", now)
      .returning(["session_id", "account_id"])
      .executeTakeFirst();
    if (row) return { sessionId: row.session_id, accountId: row.account_id };
    const seen = await ex
      .selectFrom("portal_links")
      .select(["used_at"])
      .where("token_hash", "=", tokenHash)
      .executeTakeFirst();
    if (!seen) return "invalid";
    return seen.used_at !== null ? "used" : "expired";
  },

  async insertSession(
    ex: Executor,
    row: { id: string; tokenHash: string; sessionId: string; accountId: string; now: number; expiresAt: number },
  ): Promise<void> {
    await ex
      .insertInto("portal_sessions")
      .values({
        id: row.id,
        token_hash: row.tokenHash,
        session_id: row.sessionId,
        account_id: row.accountId,
        created_at: row.now,
        expires_at: row.expiresAt,
        ended_at: null,
      })
      .execute();
  },

  async findSession(ex: Executor, tokenHash: string, now: number) {
    return ex
      .selectFrom("portal_sessions")
      .select(["id", "session_id", "account_id", "expires_at"])
      .where("token_hash", "=", tokenHash)
      .where("ended_at", "is", null)
      .where("expires_at", ">", now)
      .executeTakeFirst();
  },

  async endSession(ex: Executor, id: string, now: number): Promise<void> {
    await ex.updateTable("portal_sessions").set({ ended_at: now }).where("id", "=", id).execute();
  },
};
