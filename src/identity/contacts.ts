import type { Db } from "../db/database.ts";
import type { SessionWithAccount } from "../sessions/store.ts";
import { sessionStore } from "../sessions/store.ts";
import type { RequestContext } from "../shared/context.ts";
import { sha256 } from "../shared/crypto.ts";
import { CommonErrors } from "../shared/errors.ts";
import { accountControl } from "./account-control.ts";
import type { IdentityDeps } from "./deps.ts";
import { IdentityErrors } from "./errors.ts";
import { actorOf, type IdentityKit, iso } from "./kit.ts";
import { normalizeEmail, normalizePhone } from "./normalize.ts";
import type { Language } from "./signin.ts";
import { identityStore as store } from "./store.ts";

/**
 * Contact points: verifying an address or number, adding and removing a phone, changing the email (the old address
 * keeps a revert link), and what an emailed link's token is now (the link pages' GET).
 */
export type ContactDeps = Pick<IdentityDeps, "db" | "clock" | "config" | "events" | "notifier" | "actionTokens">;

export function createContacts(
  deps: ContactDeps,
  kit: Pick<
    IdentityKit,
    "tx" | "account" | "lang" | "sensitive" | "sendCode" | "checkCode" | "issueResetToken" | "resetUrl"
  >,
) {
  const { db, clock, config, events, notifier } = deps;
  const { tx, account, lang, sensitive, sendCode, checkCode, issueResetToken, resetUrl } = kit;

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
  return {
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
}
