import type { Executor } from "../db/database.ts";
import type { AccountStatus } from "../db/schema.ts";
import { type AccountRow, type ContactRow, identityStore as store } from "./store.ts";

export type { AccountStatus };

/**
 * A contact point the roll-back changed. `contactId` is the row the change is about: for a restore, the removed row
 * it brings back (`newContactId` is the row it adds).
 */
export interface ContactRollBackChange {
  contactId: string;
  kind: string;
  value: string;
  /** not_restored: the address is now held by another account, so it stays with it */
  action: "removed" | "restored" | "not_restored";
  newContactId: string | null;
}

/** The password a roll-back puts back: the hash in force just before the window, and when each was set. */
export interface PasswordRestore {
  changedAt: number;
  restoredTo: number;
}

/**
 * The only writer of account state for the other modules (response's lockdown, roll-back and recovery; sessions'
 * credential epoch): the accounts, contact_points and password_history tables are identity's, and a module that
 * needs one of them changed asks here, inside its own transaction, the way response/ asks commerce through
 * CommerceSteps. Wired in app.ts and handed to each module in its deps; account-control.test.ts fails when a module
 * outside identity writes these tables, and lint:deps when one imports identity's store.
 */
export interface AccountControl {
  getAccount(ex: Executor, accountId: string): Promise<AccountRow | undefined>;
  liveContacts(ex: Executor, accountId: string): Promise<ContactRow[]>;
  /** every contact point the account ever had, removed ones included (the record roll-back and recovery read) */
  allContacts(ex: Executor, accountId: string): Promise<ContactRow[]>;

  /** Lockdown: nothing signs in, and the password must be replaced. The status before, or null: no such account. */
  freeze(t: Executor, i: { accountId: string; now: number }): Promise<{ before: AccountStatus } | null>;
  /** Recovery completed: the account signs in again with the password recovery set. */
  unfreeze(t: Executor, i: { accountId: string; now: number }): Promise<void>;

  /** What rollBackContacts would do now, read with the same predicates and without writing. */
  planContactRollBack(
    ex: Executor,
    i: { accountId: string; since: number },
  ): Promise<{ remove: ContactRow[]; restore: ContactRow[] }>;
  /**
   * Addresses added since `since` go; addresses removed since then come back as new rows (unless another account
   * holds them now). Run once per case, with the step's completion in the same transaction.
   */
  rollBackContacts(
    t: Executor,
    i: { accountId: string; since: number; now: number; by: string },
  ): Promise<ContactRollBackChange[]>;

  /** What restorePassword would do now: null when the password did not change since `since`. */
  planPasswordRestore(ex: Executor, i: { accountId: string; since: number }): Promise<PasswordRestore | null>;
  /** The password changed since `since` goes back to the hash in force then (the reset flag is left as it is). */
  restorePassword(t: Executor, i: { accountId: string; since: number; now: number }): Promise<PasswordRestore | null>;
  /** Recovery's new password (already checked and hashed): recorded in the history, the reset flag cleared. */
  setPasswordFromRecovery(t: Executor, i: { accountId: string; hash: string; now: number }): Promise<void>;

  /**
   * The credential epoch (sessions/store.ts bumpEpoch, which ends the sessions in the same transaction): one more,
   * returned; every app password is revoked with `reason` and every outstanding reset token spent.
   */
  bumpCredentialEpoch(t: Executor, accountId: string, i: { reason: string; now: number }): Promise<number>;
}

type ContactHistory = Pick<ContactRow, "added_at" | "removed_at">;
/** A contact point the window added and that is still there: the roll-back removes it. */
const addedSince = (ct: ContactHistory, since: number) => ct.removed_at === null && ct.added_at >= since;
/** A contact point the owner had before the window and lost in it: the roll-back brings it back. */
const removedSince = (ct: ContactHistory, since: number) =>
  ct.removed_at !== null && ct.removed_at >= since && ct.added_at < since;

/** The password hash in force just before `since`, when the password changed after it. */
async function passwordBefore(ex: Executor, a: AccountRow | undefined, since: number) {
  if (!a || a.password_changed_at === null || a.password_changed_at < since) return undefined;
  const prev = await ex
    .selectFrom("password_history")
    .select(["hash", "created_at"])
    .where("account_id", "=", a.id)
    .where("created_at", "<", since)
    .orderBy("created_at", "desc")
    .executeTakeFirst();
  return prev ? { ...prev, changedAt: a.password_changed_at } : undefined;
}

export const accountControl: AccountControl = {
  getAccount: (ex, accountId) => store.getAccount(ex, accountId),
  liveContacts: (ex, accountId) => store.liveContacts(ex, accountId),
  allContacts: (ex, accountId) => store.allContacts(ex, accountId),

  async freeze(t, { accountId, now }) {
    const a = await store.getAccount(t, accountId);
    if (!a) return null;
    await t
      .updateTable("accounts")
      .set({ status: "frozen", password_reset_required: 1, updated_at: now })
      .where("id", "=", accountId)
      .execute();
    return { before: a.status };
  },

  async unfreeze(t, { accountId, now }) {
    await t
      .updateTable("accounts")
      .set({ status: "active", password_reset_required: 0, updated_at: now })
      .where("id", "=", accountId)
      .execute();
  },

  async planContactRollBack(ex, { accountId, since }) {
    const all = await store.allContacts(ex, accountId);
    const remove = all.filter((ct) => addedSince(ct, since));
    const liveAfter = all.filter((ct) => ct.removed_at === null && !addedSince(ct, since));
    const seen = new Set<string>();
    const restore = all.filter((ct) => {
      const key = `${ct.kind}:${ct.value}`;
      if (!removedSince(ct, since) || seen.has(key)) return false;
      seen.add(key);
      return !liveAfter.some((l) => l.kind === ct.kind && l.value === ct.value);
    });
    return { remove, restore };
  },

  async rollBackContacts(t, { accountId, since, now, by }) {
    const changes: ContactRollBackChange[] = [];
    const change = (ct: ContactRow, action: ContactRollBackChange["action"], newContactId: string | null = null) =>
      changes.push({ contactId: ct.id, kind: ct.kind, value: ct.value, action, newContactId });
    // The contact points' rows are the record of what the account had: nothing is deleted, a restore is a new row.
    const all = await store.allContacts(t, accountId);
    for (const ct of all) {
      if (addedSince(ct, since)) {
        await store.removeContact(t, ct.id, by, now, null);
        change(ct, "removed");
      }
    }
    const live = await store.liveContacts(t, accountId);
    const restored = new Set<string>();
    for (const ct of all) {
      const key = `${ct.kind}:${ct.value}`;
      if (!removedSince(ct, since) || restored.has(key)) continue;
      restored.add(key);
      if (live.some((l) => l.kind === ct.kind && l.value === ct.value)) continue;
      const owner = await store.liveOwner(t, ct.kind as "email" | "phone", ct.value);
      if (owner && owner !== accountId) {
        change(ct, "not_restored");
        continue;
      }
      const hasPrimary = (await store.liveContacts(t, accountId)).some((l) => l.kind === ct.kind && l.is_primary === 1);
      const id = await store.insertContact(t, {
        account_id: accountId,
        kind: ct.kind,
        value: ct.value,
        verified: ct.verified,
        verified_at: ct.verified_at,
        is_primary: hasPrimary ? 0 : 1,
        added_at: now,
        added_by: by,
      });
      change(ct, "restored", id);
    }
    return changes;
  },

  async planPasswordRestore(ex, { accountId, since }) {
    const prev = await passwordBefore(ex, await store.getAccount(ex, accountId), since);
    return prev ? { changedAt: prev.changedAt, restoredTo: prev.created_at } : null;
  },

  async restorePassword(t, { accountId, since, now }) {
    const prev = await passwordBefore(t, await store.getAccount(t, accountId), since);
    if (!prev) return null;
    await t
      .updateTable("accounts")
      .set({ password_hash: prev.hash, password_changed_at: prev.created_at, updated_at: now })
      .where("id", "=", accountId)
      .execute();
    return { changedAt: prev.changedAt, restoredTo: prev.created_at };
  },

  setPasswordFromRecovery: (t, { accountId, hash, now }) => store.setPassword(t, accountId, hash, now),

  async bumpCredentialEpoch(t, accountId, { reason, now }) {
    const row = await t
      .updateTable("accounts")
      .set((eb) => ({ credential_epoch: eb("credential_epoch", "+", 1), updated_at: now }))
      .where("id", "=", accountId)
      .returning("credential_epoch")
      .executeTakeFirstOrThrow();
    await t
      .updateTable("app_passwords")
      .set({ revoked_at: now, revoked_reason: reason })
      .where("account_id", "=", accountId)
      .where("revoked_at", "is", null)
      .execute();
    await t
      .updateTable("reset_tokens")
      .set({ used_at: now })
      .where("account_id", "=", accountId)
      .where("used_at", "is", null)
      .execute();
    return row.credential_epoch;
  },
};
