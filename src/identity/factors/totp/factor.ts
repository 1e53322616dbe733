import { Type } from "@sinclair/typebox";
import type { Db, Executor } from "../../../db/database.ts";
import type { Clock } from "../../../shared/clock.ts";
import { open, seal } from "../../../shared/crypto.ts";
import { IdentityErrors } from "../../errors.ts";
import { generateTotpSecret, TOTP_PERIOD_SECONDS, totpStep, totpUri, verifyTotp } from "../../totp.ts";
import type { Factor, FactorChange, FactorEnrolledSql, FactorFace, FactorItem, FactorVerifyInput } from "../types.ts";
import { totpStore as store, type TotpState } from "./store.ts";

/** The accounts with this factor enrolled, as SQL (Factor.enrolledSql: what risk reads with an account's facts). */
export const TOTP_ENROLLED_SQL: FactorEnrolledSql = {
  select: "select id as account_id from accounts where totp_enrolled_at is not null",
  tables: [{ table: "accounts", account: "id" }],
};

/** An imported secret: RFC 4648 base32, 80 to 640 bits. */
const BASE32 = /^[A-Z2-7]{16,128}=*$/;

export interface TotpFactorDeps {
  db: Db;
  clock: Clock;
  /** seals the secrets at rest (app.ts's totp-seal key) */
  key: Buffer;
}

/** A code checked against the pending secret: what `activate` makes the enrolled one (the secret that was checked). */
export interface CheckedTotp {
  readonly accountId: string;
  readonly sealed: string;
  readonly step: number;
}

const LABEL = { ja: "認証アプリ", en: "Authenticator app" };

/**
 * The authenticator app (RFC 6238, identity/totp.ts): strength 2. There is no challenge to send (the app shows its
 * own code); `verify` checks a code against the enrolled secret and spends its time step, so a code works once and
 * an older code never after a newer one. Enrolment is two steps (`start`, then a code from the new secret through
 * `checkPending` and `activate`), which identity/service.ts wraps with the session checks, events and notices.
 * Every replaced state is kept (`totp_history`) so a roll-back can give the owner's app back.
 */
export function createTotpFactor(deps: TotpFactorDeps) {
  const { db, clock, key } = deps;
  const enrolledIn = (s: TotpState | undefined) => s !== undefined && s.enrolled_at !== null;

  /** What a roll-back to `since` would change: the earliest state replaced in the window, if it differs from now. */
  async function plan(ex: Executor, accountId: string, since: number) {
    const now = await store.state(ex, accountId);
    const before = await store.beforeWindow(ex, accountId, since);
    if (!now || !before || (before.secret_enc === now.secret_enc && before.enrolled_at === now.enrolled_at)) {
      return null;
    }
    const change: FactorChange = {
      objectId: accountId,
      caseObjectId: `${accountId}:totp`,
      action: "restored",
      before: { totpEnabled: now.enrolled_at !== null },
      after: { totpEnabled: before.enrolled_at !== null },
      note: null,
      summary: { ja: "認証アプリを期間前の状態に戻す", en: "authenticator back to its state before" },
    };
    return { now, before, change };
  }

  const factor = {
    kind: "totp",
    strength: 2,
    label: LABEL,
    // Its code (or a recovery code, which backs it: the same field) beside the password at the pages' step-up.
    stepUp: {
      kind: "code" as const,
      label: {
        ja: "認証アプリの6桁のコード、またはリカバリーコード",
        en: "The 6-digit code from your authenticator app, or a recovery code",
      },
      what: {
        ja: "認証アプリのコード（またはリカバリーコード）",
        en: "the code from your authenticator app (or a recovery code)",
      },
    },
    // The 72-hour reset (identity/signin.ts) is the authenticator's: its request and cancellation change it too.
    changeEvents: {
      "totp.enabled": { ja: "認証アプリを設定", en: "Authenticator turned on" },
      "totp.disabled": { ja: "認証アプリを解除", en: "Authenticator turned off" },
      "factor_reset.requested": { ja: "2段階認証のリセットを依頼", en: "Factor reset requested" },
      "factor_reset.cancelled": { ja: "2段階認証のリセットを取り消し", en: "Factor reset cancelled" },
    },
    enrolledSql: TOTP_ENROLLED_SQL,
    // The import's `totpSecret`: base32, spaces and case forgiven; enrolled at the import, sealed like any other.
    importer: {
      field: "totpSecret",
      schema: Type.String({ maxLength: 160, description: "base32" }),
      refusal: "totp_secret_invalid",
      parse(raw: unknown): string | null {
        const secret = String(raw).replace(/\s+/g, "").toUpperCase();
        return BASE32.test(secret) ? secret : null;
      },
      async write(t: Executor, rows: readonly { accountId: string; value: unknown }[], now: number) {
        const sealed = rows.map((r) => ({ accountId: r.accountId, sealed: seal(key, String(r.value)) }));
        await store.importEnrolled(t, sealed, now);
      },
    },

    async enrolled(ex: Executor, accountId: string) {
      return enrolledIn(await store.state(ex, accountId));
    },

    /** Nothing to send: the app shows the code. */
    async challenge(): Promise<Record<string, never>> {
      return {};
    },

    /**
     * Checks a code against the enrolled secret and spends its step (compare-and-set on the last step): throws
     * code_invalid, or code_replayed for a code (or an older one) already used.
     */
    async verify(input: FactorVerifyInput<string>) {
      if (input.accountId === null) throw IdentityErrors.code_invalid();
      const s = await store.state(db, input.accountId);
      if (!s?.secret_enc || s.enrolled_at === null) throw IdentityErrors.code_invalid();
      const r = verifyTotp({
        secret: open(key, s.secret_enc),
        code: input.proof,
        now: clock.now(),
        lastStep: s.last_step,
      });
      if (!r.ok) throw r.reason === "replayed" ? IdentityErrors.code_replayed() : IdentityErrors.code_invalid();
      if (!(await store.advanceStep(db, input.accountId, r.step))) throw IdentityErrors.code_replayed();
      return { accountId: input.accountId, itemId: input.accountId };
    },

    /** Removes the authenticator (and a pending enrolment), keeping the replaced state for a roll-back. */
    async remove(t: Executor, input: { accountId: string; itemId?: string; by: string; now: number }) {
      const s = await store.state(t, input.accountId);
      if (!s) return false;
      await store.keep(t, input.accountId, s, input.now, input.by);
      await store.clear(t, input.accountId, input.now);
      return s.enrolled_at !== null;
    },

    async planRollBack(ex: Executor, input: { accountId: string; since: number }): Promise<FactorChange[]> {
      const p = await plan(ex, input.accountId, input.since);
      return p ? [p.change] : [];
    },

    /** Back to the earliest state replaced inside the window (the state just before it); the current one is kept. */
    async rollBackSince(
      t: Executor,
      input: { accountId: string; since: number; now: number; by: string },
    ): Promise<FactorChange[]> {
      const p = await plan(t, input.accountId, input.since);
      if (!p) return [];
      await store.keep(t, input.accountId, p.now, input.now, input.by);
      // Codes from before now were seen by nobody but the owner's app; still, none of them may be replayed.
      await store.restore(
        t,
        input.accountId,
        { secret_enc: p.before.secret_enc, enrolled_at: p.before.enrolled_at, last_step: totpStep(input.now) },
        input.now,
      );
      return [p.change];
    },

    async describe(ex: Executor, accountId: string): Promise<FactorItem[]> {
      const s = await store.state(ex, accountId);
      if (!s || s.enrolled_at === null) return [];
      const lastUsedAt = s.last_step === null ? null : s.last_step * TOTP_PERIOD_SECONDS * 1000;
      return [{ kind: "totp", id: accountId, name: LABEL.en, createdAt: s.enrolled_at, lastUsedAt }];
    },

    /** On: it can be removed (the security center's post). Off: its set-up page (portal/pages.tsx /authenticator). */
    async face(ex: Executor, accountId: string): Promise<FactorFace> {
      return enrolledIn(await store.state(ex, accountId))
        ? {
            status: {
              ja: "ログインの確認に、アプリに表示される6桁のコードを使います。",
              en: "A sign-in check asks for the 6-digit code the app shows.",
            },
            actions: [
              {
                label: { ja: "認証アプリを外す", en: "Remove the authenticator app" },
                href: "./authenticator/remove",
                method: "post",
              },
            ],
          }
        : {
            status: {
              ja: "未設定。スマートフォンのアプリに表示される6桁のコードで、ログインを守れます。",
              en: "Off. The 6-digit code an app on your phone shows can protect your sign-in.",
            },
            actions: [
              {
                label: { ja: "認証アプリを設定する", en: "Set up an authenticator app" },
                href: "./authenticator",
                method: "link",
              },
            ],
          };
    },

    /** Stores a new secret as pending (enrolment finishes when a code from it is confirmed); returns it to show once. */
    async start(accountId: string, label: string): Promise<{ secret: string; uri: string }> {
      const secret = generateTotpSecret();
      await store.setPending(db, accountId, seal(key, secret), clock.now());
      return { secret, uri: totpUri({ secret, label, issuer: "Mamori" }) };
    },

    /**
     * Checks a code against the pending secret: refuses an enrolled account or one with no enrolment started before
     * `throttle` counts the guess, then the code.
     */
    async checkPending(accountId: string, code: string, throttle: () => Promise<void>): Promise<CheckedTotp> {
      const s = await store.state(db, accountId);
      if (enrolledIn(s)) throw IdentityErrors.totp_already_enrolled();
      if (!s?.pending_secret_enc) throw IdentityErrors.totp_enrollment_not_started();
      await throttle();
      const r = verifyTotp({ secret: open(key, s.pending_secret_enc), code, now: clock.now(), lastStep: null });
      if (!r.ok) throw IdentityErrors.code_invalid();
      return { accountId, sealed: s.pending_secret_enc, step: r.step };
    },

    /** Makes the checked secret the enrolled one, keeping the replaced state; of two racing confirmations, one. */
    async activate(t: Executor, checked: CheckedTotp, by: string): Promise<void> {
      const now = clock.now();
      const s = await store.state(t, checked.accountId);
      if (s) await store.keep(t, checked.accountId, s, now, by);
      if (!(await store.activateIfNotEnrolled(t, checked.accountId, { ...checked, now }))) {
        throw IdentityErrors.totp_already_enrolled();
      }
    },
  } satisfies Factor & Record<string, unknown>;
  return factor;
}

export type TotpFactor = ReturnType<typeof createTotpFactor>;
