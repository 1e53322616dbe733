import type { Executor } from "../db/database.ts";
import type { Clock } from "../shared/clock.ts";
import type { OutboxStore } from "./store.ts";
import type { NoticeTemplate } from "./templates.ts";

/** Issues the single-use "This wasn't me" token a security notice carries (identity's action tokens). */
export interface NotMeTokens {
  issue(
    ex: Executor,
    input: { accountId: string; purpose: "not_me"; data: Record<string, unknown>; now: number; ttlMs: number },
  ): Promise<string>;
}

export interface NotifierDeps {
  outbox: OutboxStore;
  actionTokens: NotMeTokens;
  clock: Clock;
  publicUrl: string;
  notMeTtlMs: number;
  /** wakes the dispatcher; rows are also picked up by its poll */
  kick: () => void;
}

export interface Notifier {
  /**
   * Tells every verified, live address of the account (plus `extraEmails`, e.g. the previous address on an email
   * change) about a security change, each notice carrying a single-use "This wasn't me" link. Runs inside the
   * change's transaction: no change without its notice, no notice without its change.
   */
  securityNotice(
    tx: Executor,
    n: {
      accountId: string;
      eventId: string | null;
      template: NoticeTemplate;
      vars: Record<string, string>;
      extraEmails?: string[];
      /** per-recipient extra vars, e.g. the revert link only for the old address */
      varsFor?: (recipient: string) => Record<string, string>;
      templateFor?: (recipient: string) => NoticeTemplate;
    },
  ): Promise<number>;
  /** A message to one address (codes, reset links). */
  direct(
    tx: Executor,
    n: {
      accountId: string | null;
      channel: "email" | "sms";
      recipient: string;
      language: "ja" | "en";
      template: NoticeTemplate;
      vars: Record<string, string>;
      eventId?: string | null;
    },
  ): Promise<void>;
  notMeUrl(token: string): string;
}

export function createNotifier(deps: NotifierDeps): Notifier {
  const notMeUrl = (token: string) => `${deps.publicUrl}/links/not-me?t=${encodeURIComponent(token)}`;
  return {
    notMeUrl,
    async securityNotice(tx, n) {
      const account = await tx
        .selectFrom("accounts")
        .select(["language"])
        .where("id", "=", n.accountId)
        .executeTakeFirstOrThrow();
      const live = await tx
        .selectFrom("contact_points")
        .select(["kind", "value", "verified"])
        .where("account_id", "=", n.accountId)
        .where("removed_at", "is", null)
        .execute();
      // Verified addresses only; an account with none yet still hears at its (unverified) sign-up email, the only
      // channel it has, rather than nothing.
      let contacts = live.filter((c) => c.verified === 1);
      if (contacts.length === 0) contacts = live.filter((c) => c.kind === "email");
      const now = deps.clock.now();
      // An address removed by an email change stays in the loop for its recovery period: if the change was the
      // attacker's, the owner's old address still hears of everything that follows.
      const recovering = await tx
        .selectFrom("contact_points")
        .select(["kind", "value", "verified"])
        .where("account_id", "=", n.accountId)
        .where("kind", "=", "email")
        .where("removed_at", "is not", null)
        .where("recovery_until", ">", now)
        .execute();
      contacts = [...contacts, ...recovering];
      const token = await deps.actionTokens.issue(tx, {
        accountId: n.accountId,
        purpose: "not_me",
        data: { eventId: n.eventId, template: n.template },
        now,
        ttlMs: deps.notMeTtlMs,
      });
      const language = account.language === "ja" ? "ja" : "en";
      const recipients = new Map<string, "email" | "sms">();
      for (const c of contacts) recipients.set(c.value, c.kind === "phone" ? "sms" : "email");
      for (const e of n.extraEmails ?? []) recipients.set(e, "email");
      for (const [recipient, channel] of recipients) {
        await deps.outbox.enqueue(tx, {
          accountId: n.accountId,
          eventId: n.eventId,
          channel,
          recipient,
          template: n.templateFor?.(recipient) ?? n.template,
          language,
          vars: { ...n.vars, ...(n.varsFor?.(recipient) ?? {}), notMeUrl: notMeUrl(token) },
        });
      }
      setImmediate(deps.kick);
      return recipients.size;
    },
    async direct(tx, n) {
      await deps.outbox.enqueue(tx, {
        accountId: n.accountId,
        eventId: n.eventId ?? null,
        channel: n.channel,
        recipient: n.recipient,
        template: n.template,
        language: n.language,
        vars: n.vars,
      });
      setImmediate(deps.kick);
    },
  };
}
