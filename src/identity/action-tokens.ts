import { randomBytes } from "node:crypto";
import type { Executor } from "../db/database.ts";
import { hmac, newId, safeEqual, sha256 } from "../shared/crypto.ts";

export type ActionPurpose = "not_me" | "email_revert" | "factor_reset_cancel";

/** What a link's token is now: forged or unknown, or the account's token and whether it can still act. */
export type TokenPeek =
  | { state: "invalid" }
  | { state: "active" | "used" | "expired"; accountId: string; data: Record<string, unknown> };

/**
 * Single-use signed link tokens ("This wasn't me", email-change revert): 256 random bits plus an HMAC under the
 * instance key, so forged links are refused before any lookup; stored only as a hash; consumed by a guarded update.
 */
export function createActionTokens(key: Buffer) {
  function sign(raw: string): string {
    return `${raw}.${hmac(key, raw).slice(0, 22)}`;
  }
  function checkSignature(token: string): boolean {
    const dot = token.lastIndexOf(".");
    if (dot <= 0 || token.length > 200) return false;
    const raw = token.slice(0, dot);
    return safeEqual(sign(raw), token);
  }
  return {
    async issue(
      ex: Executor,
      input: { accountId: string; purpose: ActionPurpose; data: Record<string, unknown>; now: number; ttlMs: number },
    ): Promise<string> {
      const token = sign(randomBytes(32).toString("base64url"));
      await ex
        .insertInto("action_tokens")
        .values({
          id: newId(),
          token_hash: sha256(token),
          account_id: input.accountId,
          purpose: input.purpose,
          data: JSON.stringify(input.data),
          created_at: input.now,
          expires_at: input.now + input.ttlMs,
          used_at: null,
        })
        .execute();
      return token;
    },

    /**
     * Read-only: the token's state without using it, so the page behind a link can say "already used" before anyone
     * clicks (mail scanners prefetch GETs: nothing here may change). The signature is checked before any lookup.
     */
    async peek(ex: Executor, token: string, purpose: ActionPurpose, now: number): Promise<TokenPeek> {
      if (typeof token !== "string" || !checkSignature(token)) return { state: "invalid" };
      const row = await ex
        .selectFrom("action_tokens")
        .select(["account_id", "data", "used_at", "expires_at"])
        .where("token_hash", "=", sha256(token))
        .where("purpose", "=", purpose)
        .executeTakeFirst();
      if (!row) return { state: "invalid" };
      const state = row.used_at !== null ? "used" : row.expires_at <= now ? "expired" : "active";
      return { state, accountId: row.account_id, data: JSON.parse(row.data) as Record<string, unknown> };
    },

    /** Guarded update on used_at is null: of two clicks racing, exactly one gets the token. */
    async consume(
      ex: Executor,
      token: string,
      purpose: ActionPurpose,
      now: number,
    ): Promise<{ accountId: string; data: Record<string, unknown> } | null> {
      if (typeof token !== "string" || !checkSignature(token)) return null;
      const hash = sha256(token);
      const row = await ex
        .selectFrom("action_tokens")
        .select(["id", "account_id", "data"])
        .where("token_hash", "=", hash)
        .where("purpose", "=", purpose)
        .executeTakeFirst();
      if (!row) return null;
      const r = await ex
        .updateTable("action_tokens")
        .set({ used_at: now })
        .where("id", "=", row.id)
        .where("used_at", "is", null)
        .where("expires_at", ">", now)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) !== 1) return null;
      return { accountId: row.account_id, data: JSON.parse(row.data) as Record<string, unknown> };
    },
  };
}

export type ActionTokens = ReturnType<typeof createActionTokens>;
