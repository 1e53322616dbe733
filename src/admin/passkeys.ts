import { randomBytes } from "node:crypto";
import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import type { Db, Executor } from "../db/database.ts";
import { PasskeyErrors } from "../identity/factors/passkey/errors.ts";
import type { Clock } from "../shared/clock.ts";
import { newId } from "../shared/crypto.ts";
import type { StaffPasskeyChallengesTable, StaffPasskeysTable } from "./tables.ts";

/**
 * Staff passkeys for the support console (issue 17 item 3, "staff can sign in to the console with one"). Their own
 * tables (staff_passkeys, staff_passkey_challenges; migration 0032), not the owners' passkeys: a staff member is no
 * account — no account events, no lockdown roll-back — and the relying party is Mamori's own host (MAMORI_PUBLIC_URL),
 * where the console is, not the store's domain the owners' passkeys may be bound to. The refusals are the owners'
 * passkey codes (one code, one meaning). service.ts adds the sessions and the staff audit log.
 */
export interface StaffPasskeyConfig {
  rpId: string;
  rpName: string;
  origins: string[];
  challengeTtlMs: number;
}

export type StaffPasskeyRow = StaffPasskeysTable;
export const MAX_STAFF_PASSKEYS = 10;
const TIMEOUT_MS = 5 * 60_000;

/** SQL of staff passkeys; each method takes the executor so the caller picks the transaction. */
export const staffPasskeyStore = {
  async issueChallenge(ex: Executor, row: StaffPasskeyChallengesTable): Promise<void> {
    await ex.insertInto("staff_passkey_challenges").values(row).execute();
  },

  /** Spends a challenge once: `used_at is null and expires_at > now` in the UPDATE, so of two answers one wins. */
  async consumeStaffPasskeyChallenge(
    ex: Executor,
    input: { challenge: string; purpose: string; now: number },
  ): Promise<StaffPasskeyChallengesTable | undefined> {
    const row = await ex
      .selectFrom("staff_passkey_challenges")
      .selectAll()
      .where("challenge", "=", input.challenge)
      .executeTakeFirst();
    if (!row || row.purpose !== input.purpose) return undefined;
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
      .where("sign_count", n === 0 ? "=" : "<", n)
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

/** The challenge an answer carries, read from its clientDataJSON (the signature is checked after). */
function challengeOf(clientDataJSON: unknown): string {
  try {
    const cd = JSON.parse(Buffer.from(String(clientDataJSON), "base64url").toString("utf8")) as { challenge?: unknown };
    if (typeof cd.challenge === "string" && cd.challenge.length > 0 && cd.challenge.length <= 200) return cd.challenge;
  } catch {
    // falls through to the refusal
  }
  throw PasskeyErrors.passkey_challenge_invalid();
}

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
      const o = await generateRegistrationOptions({
        rpName: config.rpName,
        rpID: config.rpId,
        userName: input.userName,
        userID: isoBase64URL.toBuffer(handle),
        challenge: isoBase64URL.toBuffer(challenge),
        attestationType: "none",
        timeout: TIMEOUT_MS,
        excludeCredentials: live.map((p) => ({ id: p.credential_id, transports: JSON.parse(p.transports) })),
        authenticatorSelection: { residentKey: "required", userVerification: "required" },
        supportedAlgorithmIDs: [-7, -257],
      });
      return { ...o, challenge };
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
      const issued = await store.consumeStaffPasskeyChallenge(db, { challenge, purpose: "register", now: clock.now() });
      if (!issued || issued.admin_id !== input.adminId || issued.bound_to !== input.sessionId) {
        throw PasskeyErrors.passkey_challenge_invalid();
      }
      let v: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
      try {
        v = await verifyRegistrationResponse({
          response: r,
          expectedChallenge: challenge,
          expectedOrigin: config.origins,
          expectedRPID: config.rpId,
          requireUserVerification: true,
        });
      } catch {
        throw PasskeyErrors.passkey_invalid();
      }
      if (!v.verified || !v.registrationInfo) throw PasskeyErrors.passkey_invalid();
      return { ...input, info: v.registrationInfo, userHandle: issued.user_handle };
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
        credential_id: info.credential.id,
        public_key: isoBase64URL.fromBuffer(info.credential.publicKey),
        sign_count: info.credential.counter,
        transports: JSON.stringify(info.credential.transports ?? r.response.transports ?? []),
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
      const challenge = await issue("signin", null, null);
      const o = await generateAuthenticationOptions({
        rpID: config.rpId,
        challenge: isoBase64URL.toBuffer(challenge),
        userVerification: "required",
        timeout: TIMEOUT_MS,
      });
      return { ...o, challenge };
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
      if (response.response.userHandle && response.response.userHandle !== row.user_handle) {
        throw PasskeyErrors.passkey_invalid();
      }
      let counter: number;
      try {
        const v = await verifyAuthenticationResponse({
          response,
          expectedChallenge: challenge,
          expectedOrigin: config.origins,
          expectedRPID: config.rpId,
          // The library's counter check is replaced by advanceStaffPasskeyCount, atomic in the store.
          credential: {
            id: row.credential_id,
            publicKey: isoBase64URL.toBuffer(row.public_key),
            counter: 0,
            transports: JSON.parse(row.transports),
          },
          requireUserVerification: true,
        });
        if (!v.verified) throw PasskeyErrors.passkey_invalid();
        counter = v.authenticationInfo.newCounter;
      } catch {
        throw PasskeyErrors.passkey_invalid();
      }
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
  info: NonNullable<Awaited<ReturnType<typeof verifyRegistrationResponse>>["registrationInfo"]>;
  userHandle: string | null;
}
