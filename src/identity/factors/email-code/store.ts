import type { Executor } from "../../../db/database.ts";
import { hmac, numericCode } from "../../../shared/crypto.ts";
import { identityStore } from "../../store.ts";

/**
 * What the emailed code reads and writes: identity's one_time_codes (shared with the contact and email-change codes,
 * each under its own purpose; this factor's are `signin` and `step_up`) and the account's verified addresses.
 */
export const emailCodeStore = {
  async verifiedContacts(ex: Executor, accountId: string) {
    return (await identityStore.liveContacts(ex, accountId)).filter((c) => c.kind === "email" && c.verified);
  },

  async verifiedEmails(ex: Executor, accountId: string): Promise<string[]> {
    return (await this.verifiedContacts(ex, accountId)).map((c) => c.value);
  },

  async language(ex: Executor, accountId: string): Promise<"ja" | "en"> {
    return (await identityStore.getAccount(ex, accountId))?.language === "ja" ? "ja" : "en";
  },

  newCode: () => numericCode(6),
  /** The same keyed hash as identity's other one-time codes (account, purpose and code), so either can check it. */
  hash: (key: Buffer, accountId: string, purpose: string, code: string) => hmac(key, `${accountId}:${purpose}:${code}`),

  /** A new code voids the previous one of the same purpose. */
  issue(
    t: Executor,
    c: { accountId: string; purpose: string; challengeId: string | null; hash: string; now: number; ttlMs: number },
  ) {
    return identityStore.issueCode(t, { ...c, target: null });
  },
  latest: (ex: Executor, accountId: string, purpose: string) => identityStore.latestCode(ex, accountId, purpose),
  countAttempt: (ex: Executor, id: string, max: number) => identityStore.countCodeAttempt(ex, id, max),
  consume: (ex: Executor, id: string, now: number) => identityStore.consumeCode(ex, id, now),
};
