import type { SessionWithAccount } from "../sessions/store.ts";
import { sessionStore } from "../sessions/store.ts";
import type { IdentityDeps } from "./deps.ts";
import { IdentityErrors } from "./errors.ts";
import { actorOf, type IdentityKit } from "./kit.ts";

/**
 * The authenticator app and its recovery codes, as the owner's changes: enrol (also offered by recovery, before the
 * account is unfrozen), remove, regenerate. The factors themselves are factors/totp/ and factors/recovery-codes/.
 */
export type AuthenticatorDeps = Pick<IdentityDeps, "db" | "clock" | "events" | "notifier" | "totp" | "recoveryCodes">;

export function createAuthenticator(
  deps: AuthenticatorDeps,
  kit: Pick<
    IdentityKit,
    "tx" | "account" | "sensitive" | "startTotp" | "pendingTotp" | "activateTotp" | "removeTotp" | "credentialChanged"
  >,
) {
  const { db, clock, events, notifier } = deps;
  const { tx, account, sensitive, startTotp, pendingTotp, activateTotp, removeTotp, credentialChanged } = kit;
  return {
    /**
     * Recovery offers an authenticator before the account is unfrozen (no session exists then: the caller has proven
     * control of a pre-window address). Same secret handling as enrollTotp.
     */
    async offerTotpForRecovery(accountId: string): Promise<{ secret: string; uri: string } | null> {
      const a = await account(db, accountId);
      if (await deps.totp.enrolled(db, a.id)) return null;
      return startTotp(a);
    },

    async confirmTotpForRecovery(accountId: string, code: string, ip: string | null) {
      const a = await account(db, accountId);
      const checked = await pendingTotp(a, code);
      return tx(async (t) => {
        const codes = await activateTotp(t, checked, "recovery");
        const ev = await events.append(t, {
          accountId: a.id,
          type: "totp.enabled",
          data: { via: "recovery" },
          actor: "recovery",
          ip,
        });
        await notifier.securityNotice(t, { accountId: a.id, eventId: ev.id, template: "totp_enabled", vars: {} });
        return { recoveryCodes: codes };
      });
    },

    async enrollTotp(s: SessionWithAccount): Promise<{ secret: string; uri: string }> {
      const a = await sensitive(s);
      if (await deps.totp.enrolled(db, a.id)) throw IdentityErrors.totp_already_enrolled();
      return startTotp(a);
    },

    async confirmTotp(
      s: SessionWithAccount,
      input: { code: string },
      ip: string | null,
    ): Promise<{ recoveryCodes: string[]; session: { id: string; token: string; expiresAt: string } }> {
      const a = await sensitive(s);
      const checked = await pendingTotp(a, input.code);
      return tx(async (t) => {
        const codes = await activateTotp(t, checked, actorOf(s));
        await sessionStore.markStepUp(t, s.id, clock.now(), "totp");
        const session = await credentialChanged(t, s, {
          reason: "second_factor_changed",
          type: "totp.enabled",
          data: {},
          template: "totp_enabled",
          vars: {},
          ip,
          rotate: true,
        });
        return { recoveryCodes: codes, session: session! };
      });
    },

    /** Removing the authenticator needs it (or a recovery code) freshly: `sensitive` asks strength 2 while enrolled. */
    async disableTotp(
      s: SessionWithAccount,
      ip: string | null,
    ): Promise<{ session: { id: string; token: string; expiresAt: string } }> {
      const a = await sensitive(s);
      if (!(await deps.totp.enrolled(db, a.id))) throw IdentityErrors.totp_not_enrolled();
      return tx(async (t) => {
        await removeTotp(t, a, actorOf(s));
        const session = await credentialChanged(t, s, {
          reason: "second_factor_changed",
          type: "totp.disabled",
          data: {},
          template: "totp_disabled",
          vars: {},
          ip,
          rotate: true,
        });
        return { session: session! };
      });
    },

    async regenerateRecoveryCodes(
      s: SessionWithAccount,
      ip: string | null,
    ): Promise<{ recoveryCodes: string[]; session: { id: string; token: string; expiresAt: string } }> {
      const a = await sensitive(s);
      if (!(await deps.totp.enrolled(db, a.id))) throw IdentityErrors.totp_not_enrolled();
      return tx(async (t) => {
        const codes = await deps.recoveryCodes.issue(t, a.id);
        const session = await credentialChanged(t, s, {
          reason: "second_factor_changed",
          type: "recovery_codes.regenerated",
          data: {},
          template: "recovery_codes_regenerated",
          vars: {},
          ip,
          rotate: true,
        });
        return { recoveryCodes: codes, session: session! };
      });
    },
  };
}
