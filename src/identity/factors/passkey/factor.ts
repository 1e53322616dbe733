import { randomBytes } from "node:crypto";
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from "@simplewebauthn/server";
import type { Db, Executor } from "../../../db/database.ts";
import type { EventLog } from "../../../events/store.ts";
import type { Clock } from "../../../shared/clock.ts";
import { newId } from "../../../shared/crypto.ts";
import type {
  Factor,
  FactorChallengeInput,
  FactorChange,
  FactorEnrolledSql,
  FactorItem,
  FactorPurpose,
} from "../types.ts";
import {
  challengeOf,
  creationOptions,
  credentialColumns,
  type RegistrationInfo,
  requestOptions,
  verifyAuthentication,
  verifyRegistration,
} from "./ceremony.ts";
import { PasskeyErrors } from "./errors.ts";
import { passkeyFace } from "./face.ts";
import { type PasskeyRow, passkeyStore as store } from "./store.ts";

/** The accounts with this factor enrolled, as SQL (Factor.enrolledSql: what risk reads with an account's facts). */
export const PASSKEY_ENROLLED_SQL: FactorEnrolledSql = {
  select: "select account_id from passkeys where removed_at is null",
  tables: [{ table: "passkeys", account: "account_id" }],
};

/** The relying party: MAMORI_PASSKEY_RP_ID and MAMORI_PASSKEY_ORIGINS (config.ts), the store's name. */
export interface PasskeyConfig {
  rpId: string;
  rpName: string;
  origins: string[];
  /** how long a challenge may be answered */
  challengeTtlMs: number;
}

export interface PasskeyFactorDeps {
  db: Db;
  clock: Clock;
  events: EventLog;
  config: PasskeyConfig;
  /** base64url challenge; tests with recorded fixtures give the recorded ones */
  newChallenge?: () => string;
  /** base64url WebAuthn user handle for an account's first passkey; tests with recorded fixtures give the recorded one */
  newUserHandle?: () => string;
}

export const MAX_PASSKEYS = 20;

const randomChallenge = () => randomBytes(32).toString("base64url");

const item = (r: PasskeyRow): FactorItem => ({
  kind: "passkey",
  id: r.id,
  name: r.name,
  createdAt: r.created_at,
  lastUsedAt: r.last_used_at,
});

/**
 * The passkey factor (WebAuthn, @simplewebauthn/server): discoverable credentials with user verification, attestation
 * `none`. Signing in usernameless or as a second factor goes through `challenge`/`verify`; registration, which needs
 * an account's fresh session, through `registrationOptions`/`verifyRegistration` (service.ts adds the event and the
 * notice). A passkey proves possession and, with user verification, a PIN or biometric: strength 2, like an
 * authenticator app — and unlike one, it cannot be typed into a phishing page (the origin is signed).
 */
export function createPasskeyFactor(deps: PasskeyFactorDeps) {
  const { db, clock, events, config } = deps;
  const newChallenge = deps.newChallenge ?? randomChallenge;

  async function issue(
    purpose: FactorPurpose,
    accountId: string | null,
    boundTo: string | null,
    userHandle: string | null = null,
  ): Promise<string> {
    const now = clock.now();
    await store.deleteExpiredChallenges(db, now);
    const challenge = newChallenge();
    await store.issueChallenge(db, {
      id: newId(),
      challenge,
      purpose,
      account_id: accountId,
      bound_to: boundTo,
      user_handle: userHandle,
      created_at: now,
      expires_at: now + config.challengeTtlMs,
      used_at: null,
    });
    return challenge;
  }

  /** Spends the response's challenge, checking it was issued for this purpose, account and session/challenge. */
  async function spend(ex: Executor, clientDataJSON: unknown, input: FactorChallengeInput) {
    const challenge = challengeOf(clientDataJSON);
    const row = await store.consumePasskeyChallenge(ex, {
      challenge,
      purposes: [input.purpose],
      owner: { accountId: input.accountId, boundTo: input.boundTo },
      now: clock.now(),
    });
    if (!row) throw PasskeyErrors.passkey_challenge_invalid();
    return { challenge, row };
  }

  const factor = {
    kind: "passkey",
    strength: 2,
    phishingResistant: true,
    label: { ja: "パスキー", en: "Passkey" },
    // Another passkey's ceremony at the pages' step-up (#passkey-stepup).
    stepUp: { kind: "ceremony" as const },
    changeEvents: {
      "passkey.added": { ja: "パスキーを追加", en: "Passkey added" },
      "passkey.removed": { ja: "パスキーを削除", en: "Passkey removed" },
    },
    otherEvents: {
      "passkey.renamed": { ja: "パスキーの名前を変更", en: "Passkey renamed" },
      "passkey.clone_warning": {
        ja: "パスキーの複製の疑い（署名カウンタの後退）",
        en: "Passkey clone suspected (counter went back)",
      },
    },
    enrolledSql: PASSKEY_ENROLLED_SQL,

    async enrolled(ex: Executor, accountId: string) {
      return (await store.count(ex, accountId)) > 0;
    },

    face: passkeyFace,

    /** Options for navigator.credentials.get(): no allowCredentials (discoverable), user verification required. */
    async challenge(input: FactorChallengeInput): Promise<PublicKeyCredentialRequestOptionsJSON> {
      return requestOptions(config, await issue(input.purpose, input.accountId, input.boundTo));
    },

    /**
     * Verifies an assertion: the challenge is spent first (single use, whatever the outcome), then the credential,
     * origin, RP ID, signature and user verification, then the counter. A signed counter at or below the stored one
     * is a clone warning (an event on the account) and a refusal. Only a verified signature can raise the warning, so
     * a forged response cannot make an owner's passkey look cloned.
     */
    async verify(input: FactorChallengeInput & { proof: AuthenticationResponseJSON; ip: string | null }) {
      const r = input.proof;
      const { challenge } = await spend(db, r?.response?.clientDataJSON, input);
      const row = typeof r.id === "string" ? await store.byCredentialId(db, r.id) : undefined;
      if (!row) throw PasskeyErrors.passkey_invalid();
      if (input.accountId !== null && row.account_id !== input.accountId) throw PasskeyErrors.passkey_invalid();
      // The counter is moved forward by advanceSignCount, atomic in the store: the clone check (ceremony.ts).
      const counter = await verifyAuthentication(config, r, challenge, row);
      const now = clock.now();
      if (!(await store.advanceSignCount(db, row.id, counter, now))) {
        await events.append(db, {
          accountId: row.account_id,
          type: "passkey.clone_warning",
          data: { passkeyId: row.id, name: row.name, storedCount: row.sign_count, presentedCount: counter },
          actor: "passkey",
          ip: input.ip,
        });
        throw PasskeyErrors.passkey_clone_suspected();
      }
      return { accountId: row.account_id, itemId: row.id };
    },

    async remove(t: Executor, input: { accountId: string; itemId: string; by: string; now: number }) {
      return (await store.remove(t, input.accountId, input.itemId, input.by, input.now)) !== undefined;
    },

    async planRollBack(ex: Executor, input: { accountId: string; since: number }): Promise<FactorChange[]> {
      return changesSince(await store.all(ex, input.accountId), input.since);
    },

    async rollBackSince(
      t: Executor,
      input: { accountId: string; since: number; now: number; by: string },
    ): Promise<FactorChange[]> {
      const changes = changesSince(await store.all(t, input.accountId), input.since);
      for (const c of changes) {
        if (c.action === "removed") await store.remove(t, input.accountId, c.objectId, input.by, input.now);
        else await store.restore(t, c.objectId);
      }
      return changes;
    },

    async describe(ex: Executor, accountId: string) {
      return (await store.live(ex, accountId)).map(item);
    },

    /** Options for navigator.credentials.create(): a resident key, user verification, attestation none. */
    async registrationOptions(input: {
      accountId: string;
      sessionId: string;
      userName: string;
    }): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const all = await store.all(db, input.accountId);
      const live = all.filter((p) => p.removed_at === null);
      if (live.length >= MAX_PASSKEYS) throw PasskeyErrors.passkey_limit();
      // Random, never the account id: the authenticator stores it, and it should tell nobody which account it is.
      const handle = all[0]?.user_handle ?? (deps.newUserHandle ?? (() => randomBytes(16).toString("base64url")))();
      const challenge = await issue("register", input.accountId, input.sessionId, handle);
      return creationOptions(config, { userName: input.userName, userHandle: handle, challenge, exclude: live });
    },

    /**
     * Verifies a registration response. Its challenge is spent first, on its own and committed whatever follows: a
     * response that fails (or a transaction that rolls back after) leaves no challenge to try again with
     * (test/attacks/passkey-challenge-replayed-after-failure). `addRegistered` then stores it in the caller's
     * transaction.
     */
    async verifyRegistration(input: {
      accountId: string;
      sessionId: string;
      response: RegistrationResponseJSON;
    }): Promise<VerifiedRegistration> {
      const r = input.response;
      const { challenge, row: issued } = await spend(db, r?.response?.clientDataJSON, {
        purpose: "register",
        accountId: input.accountId,
        boundTo: input.sessionId,
      });
      const info = await verifyRegistration(config, r, challenge);
      return { accountId: input.accountId, info, response: r, userHandle: issued.user_handle };
    },

    /** Stores a verified registration in the caller's transaction: refused when the credential or the limit is taken. */
    async addRegistered(
      t: Executor,
      v: VerifiedRegistration,
      input: { name: string; by: string },
    ): Promise<PasskeyRow> {
      const { info, response: r } = v;
      if (
        await t.selectFrom("passkeys").select("id").where("credential_id", "=", info.credential.id).executeTakeFirst()
      ) {
        throw PasskeyErrors.passkey_already_registered();
      }
      const all = await store.all(t, v.accountId);
      if (all.filter((p) => p.removed_at === null).length >= MAX_PASSKEYS) throw PasskeyErrors.passkey_limit();
      const row: PasskeyRow = {
        id: newId(),
        account_id: v.accountId,
        ...credentialColumns(info, r),
        // The handle the options carried (kept from the account's first passkey, so every one has the same).
        user_handle: v.userHandle ?? "",
        aaguid: info.aaguid,
        device_type: info.credentialDeviceType,
        backed_up: info.credentialBackedUp ? 1 : 0,
        name: input.name,
        created_at: clock.now(),
        created_by: input.by,
        last_used_at: null,
        removed_at: null,
        removed_by: null,
      };
      await store.insertPasskey(t, row);
      return row;
    },
  } satisfies Factor & Record<string, unknown>;
  return factor;
}

export type PasskeyFactor = ReturnType<typeof createPasskeyFactor>;

/** A registration response that verified, its challenge spent: `addRegistered` stores it. */
export interface VerifiedRegistration {
  accountId: string;
  info: RegistrationInfo;
  response: RegistrationResponseJSON;
  userHandle: string | null;
}

/** Window rule for passkeys: added in the window and still there → removed; removed in it and older → restored. */
function changesSince(rows: PasskeyRow[], since: number): FactorChange[] {
  const out: FactorChange[] = [];
  for (const p of rows) {
    const view = { name: p.name, createdAt: new Date(p.created_at).toISOString() };
    if (p.created_at >= since && p.removed_at === null) {
      out.push({
        objectId: p.id,
        action: "removed",
        before: view,
        after: null,
        note: "passkey added during the window",
      });
    } else if (p.created_at < since && p.removed_at !== null && p.removed_at >= since) {
      out.push({
        objectId: p.id,
        action: "restored",
        before: null,
        after: view,
        note: "passkey removed during the window",
      });
    }
  }
  return out;
}
