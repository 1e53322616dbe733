import { randomBytes } from "node:crypto";
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from "@simplewebauthn/server";
import type { Db, Executor } from "../db/database.ts";
import {
  challengeOf,
  creationOptions,
  credentialColumns,
  type RegistrationInfo,
  requestOptions,
  signCountMoves,
  verifyAuthentication,
  verifyRegistration,
} from "../identity/factors/passkey/ceremony.ts";
import { PasskeyErrors } from "../identity/factors/passkey/errors.ts";
import type { Clock } from "../shared/clock.ts";
import { newId } from "../shared/crypto.ts";
import type { StaffPasskeyChallengesTable, StaffPasskeysTable } from "./tables.ts";

/**
 * Staff passkeys for the support console (issue 17 item 3, "staff can sign in to the console with one"). Their own
 * tables (staff_passkeys, staff_passkey_challenges; migration 0032), not the owners' passkeys: a staff member is no
 * account — no account events, no lockdown roll-back — and the relying party is Mamori's own host (MAMORI_PUBLIC_URL),
 * where the console is, not the store's domain the owners' passkeys may be bound to. The refusals are the owners'
 * passkey codes (one code, one meaning), and the ceremonies the owners' (identity/factors/passkey/ceremony.ts).
 * service.ts adds the sessions and the staff audit log.
 */
export interface StaffPasskeyConfig {
  rpId: string;
  rpName: string;
  origins: string[];
  challengeTtlMs: number;
}

export type StaffPasskeyRow = StaffPasskeysTable;
export const MAX_STAFF_PASSKEYS = 10;

/** SQL of staff passkeys; each method takes the executor so the caller picks the transaction. */
export const staffPasskeyStore = {
  async issueChallenge(ex: Executor, row: StaffPasskeyChallengesTable): Promise<void> {
    await ex.insertInto("staff_passkey_challenges").values(row).execute();
  },

  /**
   * Spends a challenge once: `used_at is null and expires_at > now` in the UPDATE, so of two answers one wins. A
   * registration's is spent only by its owner's answer (`owner`: the staff member and session): the spend commits on
   * its own, so another session's answer carrying it must not burn it.
   */
  async consumeStaffPasskeyChallenge(
    ex: Executor,
    input: { challenge: string; purpose: string; owner?: { adminId: string; sessionId: string }; now: number },
  ): Promise<StaffPasskeyChallengesTable | undefined> {
    const row = await ex
      .selectFrom("staff_passkey_challenges")
      .selectAll()
      .where("challenge", "=", input.challenge)
      .executeTakeFirst();
    if (!row || row.purpose !== input.purpose) return undefined;
    if (input.owner && (row.admin_id !== input.owner.adminId || row.bound_to !== input.owner.sessionId))
      return undefined;
    const r = await ex
      .updateTable("staff_passkey_challenges")
      .set({ used_at: input.now })
      .where("id", "=", row.id)
      .where("used_at", "is", null)
      .where("expires_at", ">", input.now)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? row : undefined;
  },

  async deleteExpiredChallenges(ex: Executor, now: number): Promise<void> {
    await ex.deleteFrom("staff_passkey_challenges").where("expires_at", "<", now).execute();
  },

  live(ex: Executor, adminId: string): Promise<StaffPasskeyRow[]> {
    return ex
      .selectFrom("staff_passkeys")
      .selectAll()
      .where("admin_id", "=", adminId)
      .where("removed_at", "is", null)
      .orderBy("created_at")
      .orderBy("id")
      .execute();
  },

  /**
   * Records a verified use. Atomic: `sign_count < n` (or both zero: an authenticator without a counter) in the
   * UPDATE, so a counter at or below the stored one — a copied key, or two racing uses — matches nothing.
   */
  async advanceStaffPasskeyCount(ex: Executor, id: string, n: number, now: number): Promise<boolean> {
    const r = await ex
      .updateTable("staff_passkeys")
      .set({ sign_count: n, last_used_at: now })
      .where("id", "=", id)
      .where("removed_at", "is", null)
      .where(...signCountMoves(n))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  },

  /** Removal happens once (`removed_at is null`), and only by its own staff member. */
  async remove(ex: Executor, adminId: string, id: string, by: string, now: number) {
    const row = await ex
      .selectFrom("staff_passkeys")
      .selectAll()
      .where("id", "=", id)
      .where("admin_id", "=", adminId)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    if (!row) return undefined;
    const r = await ex
      .updateTable("staff_passkeys")
      .set({ removed_at: now, removed_by: by })
      .where("id", "=", id)
      .where("removed_at", "is", null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1 ? row : undefined;
  },
};
const store = staffPasskeyStore;

export function createStaffPasskeys(deps: { db: Db; clock: Clock; config: StaffPasskeyConfig }) {
  const { db, clock, config } = deps;

  async function issue(
    purpose: "register" | "signin",
    adminId: string | null,
    boundTo: string | null,
    handle = null as string | null,
  ) {
    const now = clock.now();
    await store.deleteExpiredChallenges(db, now);
    const challenge = randomBytes(32).toString("base64url");
    await store.issueChallenge(db, {
      id: newId(),
      challenge,
      purpose,
      admin_id: adminId,
      bound_to: boundTo,
      user_handle: handle,
      created_at: now,
      expires_at: now + config.challengeTtlMs,
      used_at: null,
    });
    return challenge;
  }

  return {
    /** Options for navigator.credentials.create(): a resident key, user verification, attestation none. */
    async registrationOptions(input: {
      adminId: string;
      sessionId: string;
      userName: string;
    }): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const all = await db.selectFrom("staff_passkeys").selectAll().where("admin_id", "=", input.adminId).execute();
      const live = all.filter((p) => p.removed_at === null);
      if (live.length >= MAX_STAFF_PASSKEYS) throw PasskeyErrors.passkey_limit();
      const handle = all[0]?.user_handle ?? randomBytes(16).toString("base64url");
      const challenge = await issue("register", input.adminId, input.sessionId, handle);
      return creationOptions(config, { userName: input.userName, userHandle: handle, challenge, exclude: live });
    },

    /**
     * Verifies a registration answer for this staff member and session. The challenge is spent first, committed on its
     * own whatever follows, so a failed answer leaves none to retry with; `addRegistered` stores it in a transaction.
     */
    async verifyRegistration(input: {
      adminId: string;
      sessionId: string;
      response: RegistrationResponseJSON;
    }): Promise<VerifiedStaffRegistration> {
      const r = input.response;
      const challenge = challengeOf(r?.response?.clientDataJSON);
      const issued = await store.consumeStaffPasskeyChallenge(db, {
        challenge,
        purpose: "register",
        owner: { adminId: input.adminId, sessionId: input.sessionId },
        now: clock.now(),
      });
      if (!issued) throw PasskeyErrors.passkey_challenge_invalid();
      const info = await verifyRegistration(config, r, challenge);
      return { ...input, info, userHandle: issued.user_handle };
    },

    /** Stores a verified registration in the caller's transaction: refused when the credential or the limit is taken. */
    async addRegistered(t: Executor, input: VerifiedStaffRegistration & { name: string }): Promise<StaffPasskeyRow> {
      const { info, response: r } = input;
      const taken = await t
        .selectFrom("staff_passkeys")
        .select("id")
        .where("credential_id", "=", info.credential.id)
        .executeTakeFirst();
      if (taken) throw PasskeyErrors.passkey_already_registered();
      if ((await store.live(t, input.adminId)).length >= MAX_STAFF_PASSKEYS) throw PasskeyErrors.passkey_limit();
      const row: StaffPasskeyRow = {
        id: newId(),
        admin_id: input.adminId,
        ...credentialColumns(info, r),
        user_handle: input.userHandle ?? "",
        name: input.name,
        created_at: clock.now(),
        created_by: `session:${input.sessionId}`,
        last_used_at: null,
        removed_at: null,
        removed_by: null,
      };
      await t.insertInto("staff_passkeys").values(row).execute();
      return row;
    },

    /** Options for navigator.credentials.get(): usernameless (no allowCredentials), user verification required. */
    async signInOptions(): Promise<PublicKeyCredentialRequestOptionsJSON> {
      return requestOptions(config, await issue("signin", null, null));
    },

    /**
     * Verifies a sign-in answer: the challenge spent first (whatever the outcome), then credential, origin, RP ID,
     * signature and user verification, then the counter. Answers the staff member, or `clone` when a verified
     * signature carried a counter that did not move forward (the caller records it and refuses).
     */
    async verifySignIn(
      response: AuthenticationResponseJSON,
    ): Promise<{ adminId: string; passkey: StaffPasskeyRow; clone: boolean; counter: number }> {
      const challenge = challengeOf(response?.response?.clientDataJSON);
      const issued = await store.consumeStaffPasskeyChallenge(db, { challenge, purpose: "signin", now: clock.now() });
      if (!issued) throw PasskeyErrors.passkey_challenge_invalid();
      const row =
        typeof response.id === "string"
          ? await db
              .selectFrom("staff_passkeys")
              .selectAll()
              .where("credential_id", "=", response.id)
              .where("removed_at", "is", null)
              .executeTakeFirst()
          : undefined;
      if (!row) throw PasskeyErrors.passkey_invalid();
      // The counter is moved forward by advanceStaffPasskeyCount, atomic in the store: the clone check (ceremony.ts).
      const counter = await verifyAuthentication(config, response, challenge, row);
      const moved = await store.advanceStaffPasskeyCount(db, row.id, counter, clock.now());
      return { adminId: row.admin_id, passkey: row, clone: !moved, counter };
    },
  };
}

export type StaffPasskeys = ReturnType<typeof createStaffPasskeys>;

/** A staff registration answer that verified, its challenge spent: `addRegistered` stores it. */
export interface VerifiedStaffRegistration {
  adminId: string;
  sessionId: string;
  response: RegistrationResponseJSON;
  info: RegistrationInfo;
  userHandle: string | null;
}
