import type { Executor } from "../db/database.ts";
import { IdentityErrors } from "./errors.ts";
import type { PasswordPolicy } from "./password-policy.ts";
import type { PasswordHasher } from "./passwords.ts";
import { identityStore as store } from "./store.ts";

/** A new password may be none of the account's last this many. */
export const PASSWORD_HISTORY = 5;

/**
 * The one check of a new password for an account, used by sign-up, change, reset and recovery: the password policy
 * (password-policy.ts: length, leaked lists, context words, strength) with every address of the account as context,
 * then the account's history (none of the last 5; for recovery, none in force at any time since the compromise
 * began, which the attacker knew). Throws the refusal's catalogued error.
 */
export interface NewPasswordRules {
  assertAcceptable(
    ex: Executor,
    input: {
      /** null for sign-up: no account yet, so no history */
      accountId: string | null;
      password: string;
      /** the owner's addresses (or their local parts) beyond the account's live ones: sign-up's, recovery's proven one */
      emails?: readonly string[];
      /** recovery: also refuse every password in force since then, and the one in force when it began */
      inForceSince?: number;
    },
  ): Promise<void>;
}

export function createNewPasswordRules(deps: { hasher: PasswordHasher; policy: PasswordPolicy }): NewPasswordRules {
  const { hasher, policy } = deps;
  return {
    async assertAcceptable(ex, input) {
      const { accountId, password } = input;
      // Every address on the account, verified or not: the one typed at sign-up is the owner's words either way.
      const own = accountId
        ? (await store.liveContacts(ex, accountId)).filter((c) => c.kind === "email").map((c) => c.value)
        : [];
      await policy.assertAcceptable(password, { emails: [...(input.emails ?? []), ...own] });
      if (!accountId) return;
      if (input.inForceSince !== undefined) {
        const since = input.inForceSince;
        const all = await ex
          .selectFrom("password_history")
          .select(["hash", "created_at"])
          .where("account_id", "=", accountId)
          .orderBy("created_at", "desc")
          .execute();
        const lastBefore = all.find((p) => p.created_at < since);
        const inWindow = all.filter((p) => p.created_at >= since);
        for (const p of [...inWindow, ...(lastBefore ? [lastBefore] : [])]) {
          if (await hasher.verify(p.hash, password)) throw IdentityErrors.password_used_in_window();
        }
      }
      for (const h of await store.recentPasswordHashes(ex, accountId, PASSWORD_HISTORY)) {
        if (await hasher.verify(h, password)) throw IdentityErrors.password_reused();
      }
    },
  };
}
