import type { RequestContext } from "../shared/context.ts";
import type { IdentityDeps } from "./deps.ts";
import { IdentityErrors } from "./errors.ts";
import type { IdentityKit } from "./kit.ts";

/** "This wasn't me": from a notice's link or the owner's security center, both start the response module's lockdown. */
export type NotMeDeps = Pick<IdentityDeps, "clock" | "events" | "actionTokens" | "startLockdown">;

export function createNotMe(deps: NotMeDeps, kit: Pick<IdentityKit, "tx" | "account">) {
  const { clock, events } = deps;
  const { tx, account } = kit;
  return {
    /**
     * "This wasn't me": records the report and starts the lockdown (freeze, end every session, roll back the window,
     * cancel what the attacker bought, tell the owner). The window opens no later than the reported event.
     */
    async reportNotMe(input: {
      token: string;
      context?: RequestContext;
    }): Promise<{ accountId: string; caseId: string }> {
      const ip = input.context?.ip ?? null;
      const { accountId, reportedAt } = await tx(async (t) => {
        const now = clock.now();
        const used = await deps.actionTokens.consume(t, input.token, "not_me", now);
        if (!used) throw IdentityErrors.link_invalid();
        const a = await account(t, used.accountId);
        const reported = used.data.eventId
          ? await t
              .selectFrom("events")
              .select(["type", "at"])
              .where("id", "=", String(used.data.eventId))
              .where("account_id", "=", a.id)
              .executeTakeFirst()
          : undefined;
        await events.append(t, {
          accountId: a.id,
          type: "not_me.reported",
          data: { reportedEventId: used.data.eventId ?? null, notice: used.data.template ?? null },
          actor: "token:not_me",
          ip,
        });
        return { accountId: a.id, reportedAt: reported?.at ?? now };
      });
      const { caseId } = await deps.startLockdown({
        accountId,
        reason: "not_me",
        openedBy: "token:not_me",
        reportedAt,
        ip,
      });
      return { accountId, caseId };
    },

    /**
     * "This wasn't me" from the owner's own security center (a live session of the account, opened by the store):
     * the same lockdown as the mailed link, in one click. The window opens no later than the reported sign-in.
     */
    async reportNotMeFromPortal(input: {
      accountId: string;
      sessionId: string;
      reportedAt: number | null;
      what: string;
      ip: string | null;
    }): Promise<{ caseId: string }> {
      const now = clock.now();
      await tx(async (t) => {
        await account(t, input.accountId);
        await events.append(t, {
          accountId: input.accountId,
          type: "not_me.reported",
          data: { via: "security_center", reported: input.what.slice(0, 200), sessionId: input.sessionId },
          actor: `session:${input.sessionId}`,
          ip: input.ip,
        });
      });
      const reportedAt = input.reportedAt !== null && input.reportedAt <= now ? input.reportedAt : now;
      return deps.startLockdown({
        accountId: input.accountId,
        reason: "not_me",
        openedBy: `session:${input.sessionId}`,
        reportedAt,
        ip: input.ip,
      });
    },
  };
}
