import type { RequestContext } from "../shared/context.ts";
import { createAccounts } from "./accounts.ts";
import { createAppPasswords } from "./app-passwords.ts";
import { createAuthenticator } from "./authenticator.ts";
import { createContacts } from "./contacts.ts";
import { createCredentials } from "./credentials.ts";
import type { IdentityDeps } from "./deps.ts";
import { createPasskeyService } from "./factors/passkey/service.ts";
import { createHistory } from "./history.ts";
import { createIdentityKit } from "./kit.ts";
import { createNotMe } from "./not-me.ts";
import { createSignIn } from "./signin.ts";
import { identityStore as store } from "./store.ts";

export type { IdentityConfig, IdentityDeps } from "./deps.ts";
export type { Language, LoginRisk, SecondFactor, SignInResult } from "./signin.ts";

/**
 * The identity service: a facade over its concerns, each a small factory taking the slice of deps it uses and the
 * shared pieces of kit.ts — sign-in (signin.ts), sign-up and the account view (accounts.ts), the password
 * (credentials.ts), contact points and the email change (contacts.ts), the authenticator app (authenticator.ts),
 * passkeys (factors/passkey/service.ts), app passwords (app-passwords.ts), history and support lookup (history.ts),
 * "This wasn't me" (not-me.ts). Callers see one object.
 */
export function createIdentityService(deps: IdentityDeps) {
  const { db, clock, config, events, notifier, sessions, hasher, limiter } = deps;
  const kit = createIdentityKit(deps);
  const { account, lang, verifiedEmails, sensitive, removeTotp } = kit;

  const signIn = createSignIn(
    {
      db,
      clock,
      config,
      events,
      notifier,
      sessions,
      hasher,
      enricher: deps.enricher,
      limiter,
      actionTokens: deps.actionTokens,
      secrets: deps.secrets,
      hashGate: deps.hashGate,
      loginRisk: deps.loginRisk,
    },
    {
      account,
      lang,
      verifiedEmails,
      removeTotp,
      factors: deps.factors,
      passkey: deps.passkey,
      totp: deps.totp,
      recoveryCodes: deps.recoveryCodes,
      emailCode: deps.emailCode,
    },
  );
  const passkeys = createPasskeyService({
    db,
    clock,
    events,
    notifier,
    factor: deps.passkey,
    sensitive,
    userName: async (accountId) =>
      (await store.liveContacts(db, accountId)).find((c) => c.kind === "email" && c.is_primary === 1)?.value ??
      (await verifiedEmails(db, accountId))[0] ??
      accountId,
  });

  const accounts = createAccounts(deps, kit, signIn);

  return {
    ...signIn,
    /** register, list, rename and remove the account's passkeys (factors/passkey/service.ts) */
    passkeys,
    enrich: (ctx: RequestContext) => deps.enricher.enrich(ctx),
    /** Rewraps recovery-code and app-password hashes stored before 0009 (secrets.ts); at start and in `migrate`. */
    upgradeStoredSecrets: () => deps.secrets.upgrade(db),
    ...accounts,
    ...createCredentials(deps, kit),
    ...createContacts(deps, kit),
    ...createAuthenticator(deps, kit),
    ...createAppPasswords(deps, kit),
    ...createHistory({ db, getAccount: accounts.getAccount }),
    ...createNotMe(deps, kit),
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
