import type { Executor } from "../db/database.ts";
import type { EventLog } from "../events/store.ts";
import { identityStore as store } from "../identity/store.ts";
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

type ContactRow = { kind: string; value: string; added_at: number; removed_at: number | null };
/** A contact point the window added and that is still there: the roll-back removes it. */
const addedInWindow = (ct: ContactRow, since: number) => ct.removed_at === null && ct.added_at >= since;
/** A contact point the owner had before the window and lost in it: the roll-back brings it back. */
const removedInWindow = (ct: ContactRow, since: number) =>
  ct.removed_at !== null && ct.removed_at >= since && ct.added_at < since;

/** The password hash in force just before `since`, when the password changed in the window. */
async function passwordBefore(t: Executor, accountId: string, changedAt: number | null, since: number) {
  if (changedAt === null || changedAt < since) return undefined;
  return t
    .selectFrom("password_history")
    .select(["hash", "created_at"])
    .where("account_id", "=", accountId)
    .where("created_at", "<", since)
    .orderBy("created_at", "desc")
    .executeTakeFirst();
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
  c: { accountId: string; since: number; factors: FactorRollBack },
) {
  const { accountId, since } = c;
  const all = await store.allContacts(t, accountId);
  const remove = all.filter((ct) => addedInWindow(ct, since));
  const liveAfter = all.filter((ct) => ct.removed_at === null && !addedInWindow(ct, since));
  const seen = new Set<string>();
  const restore = all.filter((ct) => {
    const key = `${ct.kind}:${ct.value}`;
    if (!removedInWindow(ct, since) || seen.has(key)) return false;
    seen.add(key);
    return !liveAfter.some((l) => l.kind === ct.kind && l.value === ct.value);
  });
  const a = await store.getAccount(t, accountId);
  const password = a ? await passwordBefore(t, accountId, a.password_changed_at, since) : undefined;
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
    passwordRestored: password ? { changedAt: new Date(a!.password_changed_at!).toISOString() } : null,
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

  // Contact points: their history rows are the record of what the account had.
  const all = await store.allContacts(t, accountId);
  for (const ct of all) {
    if (addedInWindow(ct, since)) {
      await store.removeContact(t, ct.id, actor, now, null);
      await act("contact_point", ct.id, "removed", mask(ct.kind, ct.value), null, "added during the window");
    }
  }
  const live = await store.liveContacts(t, accountId);
  const restored = new Set<string>();
  for (const ct of all) {
    const key = `${ct.kind}:${ct.value}`;
    if (!removedInWindow(ct, since) || restored.has(key)) continue;
    restored.add(key);
    if (live.some((l) => l.kind === ct.kind && l.value === ct.value)) continue;
    const owner = await store.liveOwner(t, ct.kind as "email" | "phone", ct.value);
    if (owner && owner !== accountId) {
      await act("contact_point", ct.id, "not_restored", mask(ct.kind, ct.value), null, "now held by another account");
      continue;
    }
    const hasPrimary = (await store.liveContacts(t, accountId)).some((l) => l.kind === ct.kind && l.is_primary === 1);
    const id = await store.insertContact(t, {
      account_id: accountId,
      kind: ct.kind,
      value: ct.value,
      verified: ct.verified,
      verified_at: ct.verified_at,
      is_primary: hasPrimary ? 0 : 1,
      added_at: now,
      added_by: actor,
    });
    await act(
      "contact_point",
      ct.id,
      "restored",
      null,
      { ...mask(ct.kind, ct.value), id },
      "removed during the window",
    );
  }

  const a = await store.getAccount(t, accountId);
  if (!a) return n;

  // Password: back to the hash in force at `since`. Recovery must still set a new one (the old one was known to the
  // attacker), so the account also requires a reset.
  if (a.password_changed_at !== null && a.password_changed_at >= since) {
    const prev = await passwordBefore(t, accountId, a.password_changed_at, since);
    if (prev) {
      await t
        .updateTable("accounts")
        .set({ password_hash: prev.hash, password_changed_at: prev.created_at, updated_at: now })
        .where("id", "=", accountId)
        .execute();
      await act(
        "password",
        accountId,
        "restored",
        { changedAt: new Date(a.password_changed_at).toISOString() },
        { changedAt: new Date(prev.created_at).toISOString() },
      );
    }
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
