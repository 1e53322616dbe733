import type { Executor } from "../db/database.ts";
import type { EventLog } from "../events/store.ts";
import type { AccountControl } from "../identity/account-control.ts";
import { caseActionDone, recordCaseAction } from "./actions.ts";

const mask = (kind: string, v: string) => ({ kind, value: v });

/**
 * The factors' roll-back (identity's factor registry, identity/factors/registry.ts), through a port so response/
 * knows no factor: each factor puts itself back as it was before `since` (the authenticator the owner had, the
 * owner's recovery codes; a passkey added in the window goes).
 */
export interface FactorRollBack {
  planRollBack(ex: Executor, input: { accountId: string; since: number }): Promise<FactorRollBackChange[]>;
  rollBackSince(
    t: Executor,
    input: { accountId: string; since: number; now: number; by: string },
  ): Promise<FactorRollBackChange[]>;
}
export interface FactorRollBackChange {
  kind: string;
  objectId: string;
  action: "removed" | "restored";
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  note: string | null;
  /** the case action's object id when the factor names it; else `<kind>:<objectId>` */
  caseObjectId?: string;
  /** the lockdown preview's line for the change */
  summary?: { ja: string; en: string };
}

/** The first change of the allowed sign-in countries in the window. */
const countriesChangeInWindow = (t: Executor, accountId: string, since: number) =>
  t
    .selectFrom("events")
    .select(["data"])
    .where("account_id", "=", accountId)
    .where("type", "=", "sign_in_countries.changed")
    .where("at", ">=", since)
    .orderBy("seq", "asc")
    .executeTakeFirst();

/**
 * What rollbackIdentity would do now, read with the same predicates and without writing (the lockdown preview).
 */
export async function planIdentityRollback(
  t: Executor,
  c: { accountId: string; since: number; accounts: AccountControl; factors: FactorRollBack },
) {
  const { accountId, since, accounts } = c;
  const { remove, restore } = await accounts.planContactRollBack(t, { accountId, since });
  const password = await accounts.planPasswordRestore(t, { accountId, since });
  const countries = await countriesChangeInWindow(t, accountId, since);
  const factors = await c.factors.planRollBack(t, { accountId, since });
  return {
    factors: factors.map((f) => ({
      kind: f.kind,
      id: f.objectId,
      action: f.action,
      name: String((f.before ?? f.after)?.name ?? f.kind),
      ...(f.summary ? { summary: f.summary } : {}),
    })),
    contactsRemoved: remove.map((ct) => ({
      kind: ct.kind,
      value: ct.value,
      addedAt: new Date(ct.added_at).toISOString(),
    })),
    contactsRestored: restore.map((ct) => ({ kind: ct.kind, value: ct.value })),
    passwordRestored: password ? { changedAt: new Date(password.changedAt).toISOString() } : null,
    signInCountries: countries
      ? ((JSON.parse(countries.data) as { before: { countries: string[] } }).before.countries ?? [])
      : null,
  };
}

export type IdentityRollbackPlan = Awaited<ReturnType<typeof planIdentityRollback>>;

/**
 * Puts the account's identity back as it was just before `since`: addresses added in the window go, addresses removed
 * in it come back, and the password, authenticator and recovery codes return to their pre-window values. Runs in one
 * transaction with the step's completion, so a crash leaves either all of it or none. Nothing is deleted: each
 * restoration is a new row and a new event.
 */
export async function rollbackIdentity(
  t: Executor,
  c: {
    caseId: string;
    step: string;
    accountId: string;
    since: number;
    now: number;
    actor: string;
    events: EventLog;
    /** identity's account-control: contacts and password change only through it */
    accounts: AccountControl;
    factors: FactorRollBack;
  },
): Promise<number> {
  const { caseId, step, accountId, since, now, actor } = c;
  let n = 0;
  const act = async (
    objectType: string,
    objectId: string,
    action: string,
    before: Record<string, unknown> | null,
    after: Record<string, unknown> | null,
    note?: string,
  ) => {
    if (await caseActionDone(t, { caseId, objectType, objectId, action })) return false;
    await recordCaseAction(t, {
      caseId,
      step,
      objectType,
      objectId,
      action,
      before,
      after,
      note: note ?? null,
      at: now,
    });
    n++;
    return true;
  };

  // Contact points: addresses added in the window go, addresses removed in it come back (identity writes them).
  for (const ch of await c.accounts.rollBackContacts(t, { accountId, since, now, by: actor })) {
    const contact = mask(ch.kind, ch.value);
    if (ch.action === "removed") {
      await act("contact_point", ch.contactId, "removed", contact, null, "added during the window");
    } else if (ch.action === "not_restored") {
      await act("contact_point", ch.contactId, "not_restored", contact, null, "now held by another account");
    } else {
      await act(
        "contact_point",
        ch.contactId,
        "restored",
        null,
        { ...contact, id: ch.newContactId },
        "removed during the window",
      );
    }
  }

  if (!(await c.accounts.getAccount(t, accountId))) return n;

  // Password: back to the hash in force at `since`. Recovery must still set a new one (the old one was known to the
  // attacker), so the account also requires a reset.
  const password = await c.accounts.restorePassword(t, { accountId, since, now });
  if (password) {
    await act(
      "password",
      accountId,
      "restored",
      { changedAt: new Date(password.changedAt).toISOString() },
      { changedAt: new Date(password.restoredTo).toISOString() },
    );
  }

  // The factors (authenticator, recovery codes, passkeys…), in registration order: each puts itself back as it was
  // before the window. The case action is checked first, so a resumed step does not count a change twice.
  for (const f of await c.factors.rollBackSince(t, { accountId, since, now, by: actor })) {
    const objectId = f.caseObjectId ?? `${f.kind}:${f.objectId}`;
    await act("second_factor", objectId, f.action, f.before, f.after, f.note ?? undefined);
  }

  // Sign-in countries ("block sign-ins from abroad"): an attacker who opened the door has it shut again.
  const countryChange = await countriesChangeInWindow(t, accountId, since);
  if (countryChange) {
    const d = JSON.parse(countryChange.data) as {
      before: { countries: string[]; stored: boolean };
      after: { countries: string[] };
    };
    const current = await t
      .selectFrom("risk_account_settings")
      .select("allowed_countries")
      .where("account_id", "=", accountId)
      .executeTakeFirst();
    if (d.before.stored) {
      await t
        .updateTable("risk_account_settings")
        .set({ allowed_countries: JSON.stringify(d.before.countries), updated_at: now })
        .where("account_id", "=", accountId)
        .execute();
    } else {
      // Before the window the account had never set them: back to the default (its sign-up country).
      await t.deleteFrom("risk_account_settings").where("account_id", "=", accountId).execute();
    }
    await act(
      "setting",
      `${accountId}:sign_in_countries`,
      "restored",
      { countries: current ? (JSON.parse(current.allowed_countries) as string[]) : null },
      { countries: d.before.countries },
    );
  }

  if (n > 0) {
    await c.events.append(t, {
      accountId,
      type: "account.rolled_back",
      data: { caseId, since: new Date(since).toISOString(), changes: n },
      actor,
    });
  }
  return n;
}
