import type { Db } from "../db/database.ts";
import type { LimitRule } from "../limits/limiter.ts";
import { defaultRules } from "../limits/limiter.ts";
import type { SessionWithAccount } from "../sessions/store.ts";
import { sessionStore } from "../sessions/store.ts";
import type { RequestContext } from "../shared/context.ts";
import { newId, newToken, numericCode, sha256 } from "../shared/crypto.ts";
import { CommonErrors } from "../shared/errors.ts";
import { accountControl } from "./account-control.ts";
import { createAppPasswords } from "./app-passwords.ts";
import { createAuthenticator } from "./authenticator.ts";
import { createCredentials } from "./credentials.ts";
import type { IdentityDeps } from "./deps.ts";
import { IdentityErrors } from "./errors.ts";
import { createPasskeyService } from "./factors/passkey/service.ts";
import { createHistory } from "./history.ts";
import { actorOf, createIdentityKit, iso, MAX_CODE_ATTEMPTS } from "./kit.ts";
import { normalizeEmail, normalizePhone } from "./normalize.ts";
import { createNotMe } from "./not-me.ts";
import { newLookupSecret, SECRET_HASH_VERSION } from "./secrets.ts";
import { createSignIn, type Language } from "./signin.ts";
import { identityStore as store } from "./store.ts";

export type { IdentityConfig, IdentityDeps } from "./deps.ts";
export type { Language, LoginRisk, SecondFactor, SignInResult } from "./signin.ts";

const signupRules = {
  perIp: { name: "signupsPerIp", limit: 30, windowMs: 60 * 60_000 },
  /** mails per address: sign-up cannot be used to flood someone's mailbox */
  perAddress: { name: "signupMailsPerAddress", limit: 3, windowMs: 60 * 60_000 },
} as const satisfies Record<string, LimitRule>;

/**
 * The identity service: a facade over its concerns, each a small factory with the slice of deps it uses (kit.ts
 * holds what they share). Callers see one object, as before the split.
 */
export function createIdentityService(deps: IdentityDeps) {
  const { db, clock, config, events, notifier, sessions, hasher, limiter } = deps;
  const kit = createIdentityKit(deps);
  const {
    tx,
    limit,
    account,
    lang,
    codeHash,
    checkNewPassword,
    sendCode,
    checkCode,
    issueResetToken,
    resetUrl,
    verifiedEmails,
    sensitive,
    credentialChanged,
    startTotp,
    pendingTotp,
    activateTotp,
    removeTotp,
  } = kit;

  /**
   * Undoes an email change: puts the old address back, removes every other address (the attacker's, and any chained
   * change), ends every session and locks the account until a password reset through the restored address.
   */
  async function restoreEmail(t: Db, accountId: string, oldEmail: string, actor: string, ip: string | null) {
    const now = clock.now();
    const a = await account(t, accountId);
    const removed: string[] = [];
    for (const c of await store.liveContacts(t, a.id)) {
      if (c.kind === "email" && c.value !== oldEmail) {
        await store.removeContact(t, c.id, actor, now, null);
        removed.push(c.value);
      }
    }
    // The old address was held for this account during its recovery period, so no other account can own it.
    const owner = await store.emailHolder(t, oldEmail, now);
    if (owner && owner !== a.id) throw CommonErrors.conflict({ reason: "old address now belongs to another account" });
    if (!(await store.accountIdByEmail(t, oldEmail))) {
      await store.insertContact(t, {
        account_id: a.id,
        kind: "email",
        value: oldEmail,
        verified: 1,
        verified_at: now,
        is_primary: 1,
        added_at: now,
        added_by: actor,
      });
    }
    await sessionStore.bumpEpoch(t, a.id, {
      epochs: accountControl,
      keepSessionId: null,
      reason: "email_change_reverted",
      now,
    });
    await t
      .updateTable("accounts")
      .set({ status: "locked", password_reset_required: 1, updated_at: now })
      .where("id", "=", a.id)
      .execute();
    const ev = await events.append(t, {
      accountId: a.id,
      type: "email.change_reverted",
      data: { restoredEmail: oldEmail, removedEmails: removed, locked: true },
      actor,
      ip,
    });
    const token = await issueResetToken(t, a.id, oldEmail);
    await notifier.direct(t, {
      accountId: a.id,
      channel: "email",
      recipient: oldEmail,
      language: lang(a),
      template: "account_locked",
      vars: { reason: "email_change_reverted", resetUrl: resetUrl(token) },
      eventId: ev.id,
    });
  }

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

  const facade = {
    ...signIn,
    /** register, list, rename and remove the account's passkeys (factors/passkey/service.ts) */
    passkeys,
    enrich: (ctx: RequestContext) => deps.enricher.enrich(ctx),

    /** Rewraps recovery-code and app-password hashes stored before 0009 (secrets.ts); at start and in `migrate`. */
    upgradeStoredSecrets: () => deps.secrets.upgrade(db),

    /**
     * Sign-up, step 1: checks the password, hashes it, and mails a code to the address — or, when the address already
     * has an account, a note saying so. Answers the same either way (status, body, and the same work: a hash, one
     * transaction with a pending row and a mail), so sign-up tells nobody which addresses have accounts.
     */
    async createAccount(input: {
      email: string;
      password: string;
      language?: Language;
      context: RequestContext;
    }): Promise<{ signupId: string; expiresAt: string }> {
      const ctx = deps.enricher.enrich(input.context);
      await limit(signupRules.perIp, ctx.ip);
      const email = normalizeEmail(input.email);
      await checkNewPassword(null, input.password, [email]);
      const hash = await hasher.hash(input.password);
      const now = clock.now();
      const id = newId();
      const language = input.language ?? "en";
      const mail = (await limiter.consume(signupRules.perAddress, sha256(`signup:${email}`))).allowed;
      await tx(async (t) => {
        const taken = (await store.emailHolder(t, email, now)) !== undefined;
        const code = numericCode(6);
        await t
          .insertInto("pending_signups")
          .values({
            id,
            email,
            password_hash: hash,
            language,
            // A taken address's row gets a code nobody is sent: it can never be confirmed.
            code_hash: taken ? sha256(newToken("none")) : codeHash(id, "signup", code),
            taken: taken ? 1 : 0,
            attempts: 0,
            created_at: now,
            expires_at: now + config.codeTtlMs,
            completed_at: null,
            account_id: null,
          })
          .execute();
        if (!mail) return;
        await notifier.direct(t, {
          accountId: null,
          channel: "email",
          recipient: email,
          language,
          template: taken ? "signup_address_taken" : "signup_code",
          vars: taken ? { at: iso(now) } : { code, expiresMinutes: String(Math.round(config.codeTtlMs / 60_000)) },
        });
      });
      return { signupId: id, expiresAt: iso(now + config.codeTtlMs) };
    },

    /**
     * Sign-up, step 2: the emailed code creates the account, its address verified, and signs it in. At most five
     * guesses per sign-up (counted before the comparison); a taken address's sign-up can never be confirmed.
     */
    async confirmSignUp(input: {
      signupId: string;
      code: string;
      context: RequestContext;
    }): Promise<{ accountId: string; session: { id: string; token: string; expiresAt: string } }> {
      const ctx = deps.enricher.enrich(input.context);
      await limit(defaultRules.codeChecksPerIp, ctx.ip);
      const row = await db
        .selectFrom("pending_signups")
        .selectAll()
        .where("id", "=", String(input.signupId))
        .executeTakeFirst();
      const now = clock.now();
      if (!row || row.completed_at !== null) throw IdentityErrors.code_invalid();
      if (row.expires_at <= now) throw IdentityErrors.code_expired();
      // Guarded: the guess is counted before the comparison, so parallel guesses cannot exceed five.
      const counted = await db
        .updateTable("pending_signups")
        .set((eb) => ({ attempts: eb("attempts", "+", 1) }))
        .where("id", "=", row.id)
        .where("attempts", "<", MAX_CODE_ATTEMPTS)
        .where("completed_at", "is", null)
        .executeTakeFirst();
      if (Number(counted.numUpdatedRows) !== 1) throw IdentityErrors.code_invalid();
      if (row.taken || row.code_hash !== codeHash(row.id, "signup", String(input.code).trim())) {
        throw IdentityErrors.code_invalid();
      }
      const id = newId();
      const a = await tx(async (t) => {
        // Guarded on completed_at is null: one code creates one account.
        const done = await t
          .updateTable("pending_signups")
          .set({ completed_at: now, account_id: id })
          .where("id", "=", row.id)
          .where("completed_at", "is", null)
          .executeTakeFirst();
        if (Number(done.numUpdatedRows) !== 1) throw IdentityErrors.code_invalid();
        // The code proves the mailbox; an address taken since step 1 can be said to be taken.
        if (await store.emailHolder(t, row.email, now)) throw IdentityErrors.email_taken();
        await t
          .insertInto("accounts")
          .values({
            id,
            status: "active",
            language: row.language,
            credential_epoch: 1,
            password_hash: null,
            password_changed_at: null,
            password_reset_required: 0,
            created_at: now,
            updated_at: now,
          })
          .execute();
        await store.setPassword(t, id, row.password_hash, now);
        await store.insertContact(t, {
          account_id: id,
          kind: "email",
          value: row.email,
          verified: 1,
          verified_at: now,
          is_primary: 1,
          added_at: now,
          added_by: "system",
        });
        await events.append(t, {
          accountId: id,
          type: "account.created",
          data: { email: row.email, language: row.language, verified: true },
          actor: "system",
          ip: ctx.ip,
        });
        return account(t, id);
      });
      const r = await signIn.openSession(a, ctx, row.email);
      return { accountId: id, session: r.session };
    },

    async getAccount(accountId: string) {
      const a = await account(db, accountId);
      const contacts = await store.liveContacts(db, accountId);
      const view = (k: string) =>
        contacts
          .filter((c) => c.kind === k)
          .map((c) => ({
            value: c.value,
            verified: c.verified === 1,
            primary: c.is_primary === 1,
            addedAt: iso(c.added_at),
          }));
      return {
        id: a.id,
        status: a.status,
        language: lang(a),
        createdAt: iso(a.created_at),
        passwordChangedAt: a.password_changed_at === null ? null : iso(a.password_changed_at),
        passwordResetRequired: a.password_reset_required === 1,
        emails: view("email"),
        phones: view("phone"),
        totpEnabled: await deps.totp.enrolled(db, a.id),
        recoveryCodesLeft: await deps.recoveryCodes.left(db, a.id),
      };
    },

    async requestContactVerification(s: SessionWithAccount, input: { kind: "email" | "phone"; value: string }) {
      const value = input.kind === "email" ? normalizeEmail(input.value) : normalizePhone(input.value);
      const a = await account(db, s.account_id);
      await tx(async (t) => {
        const c = (await store.liveContacts(t, a.id)).find((x) => x.kind === input.kind && x.value === value);
        if (!c) throw IdentityErrors.contact_not_found();
        if (c.verified) throw IdentityErrors.contact_already_verified();
        await sendCode(t, a, {
          purpose: `verify:${input.kind}`,
          target: value,
          channel: input.kind === "email" ? "email" : "sms",
          template: input.kind === "email" ? "email_verify_code" : "phone_verify_code",
        });
      });
    },

    async confirmContactVerification(
      s: SessionWithAccount,
      input: { kind: "email" | "phone"; code: string },
      ip: string | null,
    ) {
      const target = await checkCode(s.account_id, `verify:${input.kind}`, input.code, ip);
      await tx(async (t) => {
        const c = (await store.liveContacts(t, s.account_id)).find((x) => x.kind === input.kind && x.value === target);
        if (!c) throw IdentityErrors.contact_not_found();
        const now = clock.now();
        await t.updateTable("contact_points").set({ verified: 1, verified_at: now }).where("id", "=", c.id).execute();
        const ev = await events.append(t, {
          accountId: s.account_id,
          type: "contact.verified",
          data: { kind: c.kind, value: c.value },
          actor: actorOf(s),
          ip,
        });
        if (c.kind === "phone") {
          await notifier.securityNotice(t, {
            accountId: s.account_id,
            eventId: ev.id,
            template: "phone_added",
            vars: { phone: c.value },
          });
        }
      });
    },

    async requestEmailChange(s: SessionWithAccount, input: { newEmail: string }) {
      const a = await sensitive(s);
      const email = normalizeEmail(input.newEmail);
      await tx(async (t) => {
        if (await store.accountIdByEmail(t, email)) throw IdentityErrors.email_taken();
        await sendCode(t, a, {
          purpose: "email_change",
          target: email,
          channel: "email",
          template: "email_change_code",
          vars: { newEmail: email },
        });
        await events.append(t, {
          accountId: a.id,
          type: "email.change_requested",
          data: { newEmail: email },
          actor: actorOf(s),
        });
      });
    },

    async confirmEmailChange(s: SessionWithAccount, input: { code: string }, ip: string | null) {
      const a = await sensitive(s);
      const newEmail = await checkCode(a.id, "email_change", input.code, ip);
      if (!newEmail) throw IdentityErrors.no_pending_email_change();
      await tx(async (t) => {
        const now = clock.now();
        const holder = await store.emailHolder(t, newEmail, now);
        if (holder && (holder !== a.id || (await store.accountIdByEmail(t, newEmail))))
          throw IdentityErrors.email_taken();
        const live = await store.liveContacts(t, a.id);
        const old = live.find((c) => c.kind === "email" && c.is_primary) ?? live.find((c) => c.kind === "email");
        // The old address stays a recovery contact for the revert period.
        if (old) {
          await store.removeContact(t, old.id, actorOf(s), now, old.verified ? now + config.emailRevertTtlMs : null);
        }
        const newId_ = await store.insertContact(t, {
          account_id: a.id,
          kind: "email",
          value: newEmail,
          verified: 1,
          verified_at: now,
          is_primary: 1,
          added_at: now,
          added_by: actorOf(s),
        });
        await sessionStore.bumpEpoch(t, a.id, {
          epochs: accountControl,
          keepSessionId: s.id,
          reason: "email_changed",
          now,
        });
        const ev = await events.append(t, {
          accountId: a.id,
          type: "email.changed",
          data: { oldEmail: old?.value ?? null, newEmail, oldContactId: old?.id ?? null, newContactId: newId_ },
          actor: actorOf(s),
          ip,
        });
        let revertToken = "";
        if (old) {
          revertToken = await deps.actionTokens.issue(t, {
            accountId: a.id,
            purpose: "email_revert",
            data: { oldEmail: old.value, newEmail, oldContactId: old.id, newContactId: newId_, eventId: ev.id },
            now,
            ttlMs: config.emailRevertTtlMs,
          });
        }
        const revertUrl = `${config.publicUrl}/links/email-revert?t=${encodeURIComponent(revertToken)}`;
        await notifier.securityNotice(t, {
          accountId: a.id,
          eventId: ev.id,
          template: "email_changed",
          vars: { oldEmail: old?.value ?? "", newEmail, at: iso(now) },
          extraEmails: old?.verified ? [old.value] : [],
          templateFor: (r) => (r === old?.value ? "email_changed_old_address" : "email_changed"),
          varsFor: (r): Record<string, string> => (r === old?.value ? { revertUrl } : {}),
        });
      });
    },

    /**
     * The old address's link: puts the old email back, removes the new one, ends every session (the changer's too)
     * and locks the account until a password reset through the restored address.
     */
    async revertEmailChange(input: { token: string; context?: RequestContext }): Promise<{ restoredEmail: string }> {
      const ip = input.context?.ip ?? null;
      return tx(async (t) => {
        const used = await deps.actionTokens.consume(t, input.token, "email_revert", clock.now());
        if (!used) throw IdentityErrors.link_invalid();
        const oldEmail = (used.data as { oldEmail: string }).oldEmail;
        await restoreEmail(t, used.accountId, oldEmail, "token:email_revert", ip);
        return { restoredEmail: oldEmail };
      });
    },

    /**
     * Read-only: what an emailed link's token is now, and the account's language and status, for the page behind the
     * link (GET). Nothing is used or changed: mail scanners open links too.
     */
    async peekLink(
      kind: "not_me" | "email_revert" | "reset_password" | "factor_reset_cancel",
      token: string,
    ): Promise<
      | { state: "invalid" }
      | {
          state: "active" | "used" | "expired";
          language: Language;
          accountStatus: string;
          /** email_revert: the address restored and the one removed; reset_password: the address it was sent to */
          emails: { old?: string; new?: string; sentTo?: string };
        }
    > {
      if (typeof token !== "string" || token.length === 0 || token.length > 200) return { state: "invalid" };
      const now = clock.now();
      let peek: { state: "active" | "used" | "expired"; accountId: string; emails: Record<string, string> } | null;
      if (kind === "reset_password") {
        const r = await store.peekResetToken(db, sha256(token), now);
        peek = r && { state: r.state, accountId: r.accountId, emails: { sentTo: r.sentTo } };
      } else {
        const r = await deps.actionTokens.peek(db, token, kind, now);
        const d = r.state === "invalid" ? {} : (r.data as { oldEmail?: unknown; newEmail?: unknown });
        peek =
          r.state === "invalid"
            ? null
            : {
                state: r.state,
                accountId: r.accountId,
                emails: {
                  ...(typeof d.oldEmail === "string" ? { old: d.oldEmail } : {}),
                  ...(typeof d.newEmail === "string" ? { new: d.newEmail } : {}),
                },
              };
      }
      if (!peek) return { state: "invalid" };
      const a = await store.getAccount(db, peek.accountId);
      if (!a) return { state: "invalid" };
      return { state: peek.state, language: lang(a), accountStatus: a.status, emails: peek.emails };
    },

    async addPhone(s: SessionWithAccount, input: { phone: string }) {
      const a = await sensitive(s);
      const phone = normalizePhone(input.phone);
      await tx(async (t) => {
        if (await store.liveOwner(t, "phone", phone)) throw IdentityErrors.phone_taken();
        const now = clock.now();
        await store.insertContact(t, {
          account_id: a.id,
          kind: "phone",
          value: phone,
          verified: 0,
          verified_at: null,
          is_primary: 0,
          added_at: now,
          added_by: actorOf(s),
        });
        await sessionStore.bumpEpoch(t, a.id, {
          epochs: accountControl,
          keepSessionId: s.id,
          reason: "phone_changed",
          now,
        });
        const ev = await events.append(t, { accountId: a.id, type: "phone.added", data: { phone }, actor: actorOf(s) });
        await notifier.securityNotice(t, { accountId: a.id, eventId: ev.id, template: "phone_added", vars: { phone } });
        await sendCode(t, a, { purpose: "verify:phone", target: phone, channel: "sms", template: "phone_verify_code" });
      });
    },

    async removePhone(s: SessionWithAccount, input: { phone: string }) {
      const a = await sensitive(s);
      const phone = normalizePhone(input.phone);
      await tx(async (t) => {
        const c = (await store.liveContacts(t, a.id)).find((x) => x.kind === "phone" && x.value === phone);
        if (!c) throw IdentityErrors.contact_not_found();
        const now = clock.now();
        // Tell the number itself too: it is about to stop being an address of the account.
        const ev = await events.append(t, {
          accountId: a.id,
          type: "phone.removed",
          data: { phone },
          actor: actorOf(s),
        });
        await notifier.securityNotice(t, {
          accountId: a.id,
          eventId: ev.id,
          template: "phone_removed",
          vars: { phone },
        });
        await store.removeContact(t, c.id, actorOf(s), now, null);
        await sessionStore.bumpEpoch(t, a.id, {
          epochs: accountControl,
          keepSessionId: s.id,
          reason: "phone_changed",
          now,
        });
      });
    },
  };
  return {
    ...facade,
    ...createHistory({ db, getAccount: facade.getAccount }),
    ...createAuthenticator(deps, kit),
    ...createCredentials(deps, kit),
    ...createNotMe(deps, kit),
    ...createAppPasswords(deps, kit),
  };
}

export type IdentityService = ReturnType<typeof createIdentityService>;
