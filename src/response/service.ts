import type { Db, Executor } from "../db/database.ts";
import type { EventLog } from "../events/store.ts";
import type { AccountControl } from "../identity/account-control.ts";
import type { Notifier } from "../notify/notifier.ts";
import { sessionStore } from "../sessions/store.ts";
import { type Clock, pollOnce } from "../shared/clock.ts";
import { newId } from "../shared/crypto.ts";
import type { WebhookState } from "../webhooks/types.ts";
import { caseActionDone, recordCaseAction } from "./actions.ts";
import { ResponseErrors } from "./errors.ts";
import { type FactorRollBack, planIdentityRollback, rollbackIdentity } from "./rollback.ts";
import {
  type CaseRow,
  LOCKDOWN_PLAN,
  type LockdownStep,
  StepAlreadyDone,
  type StepSpec,
  responseStore as store,
} from "./store.ts";
import { computeWindow, deviceKey, type WindowBasis } from "./window.ts";

/**
 * What the report says of the store for one action: Mamori's own record, or the state of the webhook message that told
 * the store — "never_told" when the store had no endpoint to receive it.
 */
export type StoreConfirmation = Exclude<WebhookState, "not_required"> | "never_told" | "mamori_only";

/** The commerce side of a lockdown (src/commerce/response.ts). Each call is idempotent per case. */
export interface CommerceSteps {
  cancelOrdersOfSessions(i: {
    caseId: string;
    step: string;
    accountId: string;
    sessionIds: string[];
  }): Promise<unknown>;
  rollbackCommerce(i: {
    caseId: string;
    step: string;
    accountId: string;
    since: number;
    actor: string;
  }): Promise<unknown>;
  recoverGiftCards(i: {
    caseId: string;
    step: string;
    accountId: string;
    since: number;
    sessionIds: string[];
  }): Promise<unknown>;
  takeDownListings(i: { caseId: string; step: string; accountId: string; since: number }): Promise<unknown>;
  /** What the four steps above would act on now, read with the same selections they use (the lockdown preview). */
  plan(i: { accountId: string; since: number; sessionIds: string[] }): Promise<CommercePlan>;
}

/** The commerce part of a lockdown preview (src/commerce/response.ts planCommerce). */
export interface CommercePlan {
  orders: {
    id: string;
    status: string;
    total: number;
    currency: string;
    createdAt: string;
    /** void: an authorisation is dropped; refund: money taken goes back */
    payments: { status: string; amount: number; action: "void" | "refund" | "none" }[];
    /** attacker_session: placed by a session in the window; listing: bought from a listing taken down */
    why: "attacker_session" | "listing";
  }[];
  giftCards: {
    id: string;
    last4: string;
    amount: number;
    currency: string;
    /** void: bought by the attacker; lock: value redeemed by the attacker is held; recredit: value goes back */
    action: "void" | "lock" | "recredit";
    to: "this_account" | "recipient" | null;
  }[];
  rollbacks: { objectType: string; objectId: string; before: Record<string, unknown> | null }[];
  listings: { id: string; title: string; price: number; currency: string; status: string }[];
}

export interface ResponseDeps {
  db: Db;
  /** where the lockdown mail sends the owner: the store's recovery page, else Mamori's hosted one (/recover/) */
  recoveryUrl: string;
  clock: Clock;
  events: EventLog;
  notifier: Notifier;
  /**
   * identity's account-control (src/identity/account-control.ts): the freeze, the roll-back of contacts and password,
   * and every read of the account; response/ writes no identity table itself.
   */
  accounts: AccountControl;
  commerce: CommerceSteps | null;
  webhookStates?: (ids: string[]) => Promise<Map<string, WebhookState>>;
  /**
   * Probe at named points of a lockdown (`<step>:before`, `<step>:work` just before the step commits, `<step>:done`
   * after): the crash-resume test kills its process there, the benchmark timestamps the commits. Unset in production.
   */
  crashPoint?: (name: string) => void;
  /**
   * Steps added to the plan, each before the named step: DB-only work run with its completion in one transaction.
   * The crash-resume test adds one to a case planned by an older version; a new built-in step goes in LOCKDOWN_PLAN.
   */
  extraSteps?: ExtraStep[];
  /**
   * the factors' roll-back (identity's factor registry): the authenticator, recovery codes and passkeys go back to
   * their state before the window
   */
  factors: FactorRollBack;
  /**
   * This node's name in lockdown claims (config nodeId). A lockdown is run by the node that holds its case's claim,
   * renewed between steps; when the claim lapses (the node died), any node's sweep takes the case and finishes it.
   */
  node?: string;
  /** how long a claim lasts without renewal (config lockdownLeaseMs) */
  leaseMs?: number;
}

export interface ExtraStep extends StepSpec {
  before: LockdownStep;
  work(t: Executor, c: CaseRow): Promise<unknown>;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function createResponseService(deps: ResponseDeps) {
  const { db, clock, events, notifier, accounts } = deps;
  const crash = deps.crashPoint ?? (() => {});
  const tx = <T>(fn: (t: Db) => Promise<T>) => db.transaction().execute(fn);
  // One runner per case in this process; across processes the guarded step completion settles races.
  const running = new Map<string, Promise<void>>();
  const node = deps.node ?? "local";
  const leaseMs = deps.leaseMs ?? 15_000;
  let sweeper: NodeJS.Timeout | null = null;
  const plan: readonly StepSpec[] = (deps.extraSteps ?? []).reduce<StepSpec[]>(
    (p, x) => {
      const at = p.findIndex((s) => s.name === x.before);
      p.splice(at < 0 ? p.length : at, 0, x);
      return p;
    },
    [...LOCKDOWN_PLAN],
  );
  const stepNames = plan.map((s) => s.name);
  const windowSteps = plan.filter((s) => s.window).map((s) => s.name);

  async function caseOrThrow(ex: Executor, id: string): Promise<CaseRow> {
    const c = await store.getCase(ex, id);
    if (!c) throw ResponseErrors.case_not_found();
    return c;
  }

  /** The account's sessions as window facts. */
  async function sessionFacts(ex: Executor, accountId: string) {
    const rows = await ex
      .selectFrom("sessions")
      .select(["id", "created_at", "ip", "country", "device_id", "browser", "os", "device_type", "channel"])
      .where("account_id", "=", accountId)
      .execute();
    return rows.map((r) => ({ id: r.id, createdAt: r.created_at, ip: r.ip, country: r.country, device: deviceKey(r) }));
  }

  /**
   * Known good until: the last completed recovery of an earlier case, else the account's creation; and the sign-up
   * session (the account's first, opened by createAccount itself) is the owner's whenever it was created.
   */
  async function knownGood(ex: Executor, accountId: string, caseId: string) {
    const prev = await ex
      .selectFrom("cases")
      .select("recovered_at")
      .where("account_id", "=", accountId)
      .where("id", "!=", caseId)
      .where("recovered_at", "is not", null)
      .orderBy("recovered_at", "desc")
      .executeTakeFirst();
    const a = await ex.selectFrom("accounts").select("created_at").where("id", "=", accountId).executeTakeFirst();
    const first = await ex
      .selectFrom("sessions")
      .select("id")
      .where("account_id", "=", accountId)
      .orderBy("created_at", "asc")
      .orderBy("id")
      .executeTakeFirst();
    const earlier = await ex
      .selectFrom("case_sessions")
      .innerJoin("cases", "cases.id", "case_sessions.case_id")
      .select(["case_sessions.session_id", "case_sessions.role"])
      .where("cases.account_id", "=", accountId)
      .where("cases.id", "!=", caseId)
      .execute();
    return {
      until: prev?.recovered_at ?? a?.created_at ?? 0,
      createdAt: a?.created_at ?? 0,
      owner: new Set([
        ...(first ? [first.id] : []),
        ...earlier.filter((e) => e.role === "owner").map((e) => e.session_id),
      ]),
      attacker: new Set(earlier.filter((e) => e.role === "attacker").map((e) => e.session_id)),
    };
  }

  const actor = (c: CaseRow) => `case:${c.id}`;

  /** Sessions a lockdown ends: every one still live. */
  const liveSessions = (ex: Executor, accountId: string, now: number) =>
    ex
      .selectFrom("sessions")
      .select(["id", "channel", "ip", "country", "created_at", "browser", "os", "asn"])
      .where("account_id", "=", accountId)
      .where("revoked_at", "is", null)
      .where("expires_at", ">", now)
      .execute();

  /** Sessions a lockdown counts as the attacker's: every one opened since the window's start. */
  const sessionsSince = (ex: Executor, accountId: string, since: number) =>
    ex
      .selectFrom("sessions")
      .select(["id", "created_at", "ip", "country", "browser", "os", "asn", "channel"])
      .where("account_id", "=", accountId)
      .where("created_at", ">=", since)
      .execute();

  /**
   * Where the compromise window starts: the start support gave (never before the account existed), else the window
   * rule over the account's sessions (and the owner's report, when there is one). `caseId` is the case being locked
   * down (its own marks do not count as earlier knowledge); null for a preview.
   */
  async function planWindow(
    ex: Executor,
    accountId: string,
    caseId: string | null,
    input: { since: number | null; sinceSource: string | null; reportedAt: number | null },
  ): Promise<WindowBasis> {
    const good = await knownGood(ex, accountId, caseId ?? "");
    if (input.sinceSource === "support" && input.since !== null) {
      return {
        // The account's own creation (its sign-up address and password) is never inside the window: a window
        // reaching before it would roll back the owner's only address and leave no way to recover.
        since: Math.max(input.since, good.createdAt + 1),
        source: "support",
        firstUnfamiliarSessionId: null,
        reason: "set by support",
        knownGoodUntil: input.since,
      };
    }
    return computeWindow(await sessionFacts(ex, accountId), good.until, input.reportedAt, {
      owner: good.owner,
      attacker: good.attacker,
    });
  }

  /** Runs one DB-only step and its completion in one transaction: exactly once, or not at all. */
  async function dbStep(c: CaseRow, step: string, work: (t: Db) => Promise<unknown>): Promise<void> {
    try {
      await tx(async (t) => {
        const result = await work(t);
        crash(`${step}:work`);
        await store.finishStep(t, c.id, step, clock.now(), result);
      });
    } catch (e) {
      if (!(e instanceof StepAlreadyDone)) throw e;
    }
  }

  /** A step whose work is idempotent on its own (gateway keys, case actions): run it, then mark it done. */
  async function idempotentStep(c: CaseRow, step: string, work: () => Promise<unknown>): Promise<void> {
    const result = await work();
    crash(`${step}:work`);
    try {
      await tx((t) => store.finishStep(t, c.id, step, clock.now(), result ?? null));
    } catch (e) {
      if (!(e instanceof StepAlreadyDone)) throw e;
    }
  }

  const BUILT_IN: Record<LockdownStep, (c: CaseRow) => Promise<void>> = {
    freeze: (c) =>
      dbStep(c, "freeze", async (t) => {
        const now = clock.now();
        const frozen = await accounts.freeze(t, { accountId: c.account_id, now });
        if (!frozen) throw ResponseErrors.case_not_found();
        const objectId = c.account_id;
        if (!(await caseActionDone(t, { caseId: c.id, objectType: "account", objectId, action: "frozen" }))) {
          await recordCaseAction(t, {
            caseId: c.id,
            step: "freeze",
            objectType: "account",
            objectId,
            action: "frozen",
            before: { status: frozen.before },
            after: { status: "frozen" },
            at: now,
          });
        }
        await events.append(t, {
          accountId: c.account_id,
          type: "account.frozen",
          data: { caseId: c.id, reason: c.reason },
          actor: actor(c),
        });
        return { previousStatus: frozen.before };
      }),

    end_sessions: (c) =>
      dbStep(c, "end_sessions", async (t) => {
        const now = clock.now();
        const live = await liveSessions(t, c.account_id, now);
        await sessionStore.bumpEpoch(t, c.account_id, {
          epochs: accounts,
          keepSessionId: null,
          reason: "lockdown",
          now,
        });
        for (const s of live) {
          await recordCaseAction(t, {
            caseId: c.id,
            step: "end_sessions",
            objectType: "session",
            objectId: s.id,
            action: "ended",
            before: { active: true, channel: s.channel, ip: s.ip, country: s.country, createdAt: iso(s.created_at) },
            after: { active: false },
            at: now,
          });
        }
        await events.append(t, {
          accountId: c.account_id,
          type: "sessions.ended_all",
          data: { caseId: c.id, sessions: live.length, reason: "lockdown" },
          actor: actor(c),
        });
        return { sessionsEnded: live.length };
      }),

    window: (c) =>
      dbStep(c, "window", async (t) => {
        const now = clock.now();
        const fresh = await caseOrThrow(t, c.id);
        const basis = await planWindow(t, c.account_id, c.id, {
          since: fresh.since,
          sinceSource: fresh.since_source,
          reportedAt: fresh.window_basis ? (JSON.parse(fresh.window_basis).reportedAt ?? null) : null,
        });
        const since = basis.since ?? now;
        await t
          .updateTable("cases")
          .set({
            since,
            since_source: basis.source,
            window_basis: JSON.stringify({ ...basis, reportedAt: basis.source === "reported_event" ? since : null }),
            updated_at: now,
          })
          .where("id", "=", c.id)
          .execute();
        const inWindow = await sessionsSince(t, c.account_id, since);
        for (const s of inWindow) await store.markSession(t, c.id, s.id, "attacker", now);
        await events.append(t, {
          accountId: c.account_id,
          type: "case.window_fixed",
          data: { caseId: c.id, since: iso(since), source: basis.source, reason: basis.reason },
          actor: actor(c),
        });
        return { since: iso(since), source: basis.source, attackerSessions: inWindow.length };
      }),

    cancel_orders: async (c) => {
      const commerce = deps.commerce;
      const sessionIds = await store.attackerSessionIds(db, c.id);
      await idempotentStep(c, "cancel_orders", async () =>
        commerce && sessionIds.length
          ? commerce.cancelOrdersOfSessions({
              caseId: c.id,
              step: "cancel_orders",
              accountId: c.account_id,
              sessionIds,
            })
          : { skipped: commerce ? "no attacker sessions" : "no commerce record" },
      );
    },

    rollback: async (c) => {
      const since = (await caseOrThrow(db, c.id)).since ?? clock.now();
      const commerce = deps.commerce;
      // Commerce objects first (idempotent per object), then identity with the step's completion in one transaction.
      if (commerce) {
        await commerce.rollbackCommerce({
          caseId: c.id,
          step: "rollback",
          accountId: c.account_id,
          since,
          actor: actor(c),
        });
      }
      await dbStep(c, "rollback", async (t) => ({
        identityChanges: await rollbackIdentity(t, {
          caseId: c.id,
          step: "rollback",
          accountId: c.account_id,
          since,
          now: clock.now(),
          actor: actor(c),
          events,
          accounts,
          factors: deps.factors,
        }),
      }));
    },

    gift_cards: async (c) => {
      const since = (await caseOrThrow(db, c.id)).since ?? clock.now();
      const sessionIds = await store.attackerSessionIds(db, c.id);
      const commerce = deps.commerce;
      await idempotentStep(c, "gift_cards", async () =>
        commerce
          ? commerce.recoverGiftCards({ caseId: c.id, step: "gift_cards", accountId: c.account_id, since, sessionIds })
          : { skipped: "no commerce record" },
      );
    },

    listings: async (c) => {
      const since = (await caseOrThrow(db, c.id)).since ?? clock.now();
      const commerce = deps.commerce;
      await idempotentStep(c, "listings", async () =>
        commerce
          ? commerce.takeDownListings({ caseId: c.id, step: "listings", accountId: c.account_id, since })
          : { skipped: "no commerce record" },
      );
    },

    notify_owner: (c) =>
      dbStep(c, "notify_owner", async (t) => {
        const now = clock.now();
        const fresh = await caseOrThrow(t, c.id);
        const since = fresh.since ?? now;
        const a = await accounts.getAccount(t, c.account_id);
        const language = a?.language === "ja" ? "ja" : "en";
        // Every verified address the owner had before the window: live ones (restored by the roll-back), and any
        // removed during the window that could not be restored. Never an address added in the window.
        const contacts = (await accounts.allContacts(t, c.account_id)).filter((ct) => ownersBefore(ct, since));
        const restoredNow = (await accounts.liveContacts(t, c.account_id)).filter(
          (ct) => ct.verified === 1 && ct.added_by === actor(c),
        );
        const recipients = new Map<string, "email" | "sms">();
        for (const ct of [...contacts, ...restoredNow]) recipients.set(ct.value, ct.kind === "phone" ? "sms" : "email");
        const actions = await t
          .selectFrom("case_actions")
          .select(["object_type", "action"])
          .where("case_id", "=", c.id)
          .execute();
        const count = (types: readonly string[]) => actions.filter((x) => types.includes(x.object_type)).length;
        // What was done, in the owner's words, from the step table; a kind of action with nothing done is left out.
        const done = plan.flatMap((st) =>
          st.summary ? [[count(st.summary.objects), st.summary.ja, st.summary.en] as const] : [],
        );
        const items = done
          .filter(([n]) => n > 0)
          .map(([n, ja, en]) => (language === "ja" ? ja : en).replace("{n}", String(n)));
        const summary =
          items.length === 0
            ? ""
            : language === "ja"
              ? `対応内容: ${items.join("、")}`
              : `What we did: ${items.join(", ")}.`;
        const ev = await events.append(t, {
          accountId: c.account_id,
          type: "case.locked_down",
          data: { caseId: c.id, since: iso(since), notified: recipients.size },
          actor: actor(c),
        });
        for (const [recipient, channel] of recipients) {
          await notifier.direct(t, {
            accountId: c.account_id,
            channel,
            recipient,
            language,
            template: "account_locked_down",
            vars: { since: iso(since) ?? "", summary, recoveryUrl: deps.recoveryUrl },
            eventId: ev.id,
          });
        }
        await t
          .updateTable("cases")
          .set({ status: "locked_down", locked_down_at: now, updated_at: now })
          .where("id", "=", c.id)
          .execute();
        return { notified: [...recipients.keys()].length };
      }),
  };

  const STEPS: Record<string, (c: CaseRow) => Promise<void>> = { ...BUILT_IN };
  for (const x of deps.extraSteps ?? []) STEPS[x.name] = (c) => dbStep(c, x.name, (t) => x.work(t, c));

  /**
   * Waits until this node holds the case's claim (true) or the case is no longer locking (false). Another node's live
   * claim means it is running the lockdown: this one waits for it to finish, or for its claim to lapse and take over.
   */
  async function claim(caseId: string): Promise<boolean> {
    for (;;) {
      const r = await store.claimLockdown(db, caseId, node, clock.now(), leaseMs);
      if (r !== "held") return r === "claimed";
      await new Promise((res) => setTimeout(res, Math.min(250, leaseMs / 4)));
    }
  }

  async function runLockdown(caseId: string): Promise<void> {
    if (!(await claim(caseId))) return;
    // Re-planned on every run: a case planned by an older version gets rows for the steps added since.
    await store.planSteps(db, caseId, stepNames);
    for (const step of stepNames) {
      // Steps are short; renewing between them keeps the claim while this node works. A node that lost it (stalled
      // past the lease) waits for the node that took over; a duplicate step would roll back anyway (finishStep).
      if (!(await store.renewLockdownClaim(db, caseId, node, clock.now(), leaseMs)) && !(await claim(caseId))) return;
      const c = await caseOrThrow(db, caseId);
      const st = (await store.steps(db, caseId)).find((s) => s.step === step);
      if (st?.status === "done") continue;
      await store.startAttempt(db, caseId, step, clock.now());
      crash(`${step}:before`);
      await STEPS[step]!(c);
      crash(`${step}:done`);
      // SQLite calls are synchronous: without a turn of the event loop, requests queued on this node would wait for
      // the whole lockdown. Yielding here lets an attacker's pending request see the ended sessions right away.
      await pollOnce();
      // From the freeze on, every session of the account is refused. Requests already on their way to this node
      // (the attacker's next one) get 2 ms to arrive and be answered before the next step holds the node again.
      if (step === "freeze") await new Promise((r) => setTimeout(r, 2));
    }
    await store.releaseLockdownClaim(db, caseId, node);
  }

  /** Runs (or joins) the lockdown of a case; the promise settles when every step is done. */
  function lockdown(caseId: string): Promise<void> {
    let p = running.get(caseId);
    if (!p) {
      p = runLockdown(caseId).finally(() => running.delete(caseId));
      running.set(caseId, p);
    }
    return p;
  }

  const service_ = {
    lockdown,

    /**
     * What a lockdown of this account would do if started now, step by step, without doing any of it: the sessions
     * it ends, the window it fixes (the same rule and inputs as the window step), the changes it rolls back, the
     * orders it cancels with their money voided or refunded, the gift card value it voids, holds or re-credits, the
     * listings it takes down and who it tells. `since` is a start support would give (as in lockdownAccount).
     */
    async previewLockdown(accountId: string, input: { since?: number | null } = {}) {
      const now = clock.now();
      if (input.since !== undefined && input.since !== null && input.since > now) throw ResponseErrors.window_invalid();
      const a = await accounts.getAccount(db, accountId);
      if (!a) throw ResponseErrors.case_not_found({ accountId }, "No such account.");
      const active = await store.activeCase(db, accountId);
      const support = input.since !== undefined && input.since !== null;
      const basis = await planWindow(db, accountId, null, {
        since: support ? (input.since as number) : null,
        sinceSource: support ? "support" : null,
        reportedAt: null,
      });
      const since = basis.since ?? now;
      const [live, attacker, identity, contacts] = await Promise.all([
        liveSessions(db, accountId, now),
        sessionsSince(db, accountId, since),
        planIdentityRollback(db, { accountId, since, accounts, factors: deps.factors }),
        accounts.allContacts(db, accountId),
      ]);
      const commerce = deps.commerce
        ? await deps.commerce.plan({ accountId, since, sessionIds: attacker.map((x) => x.id) })
        : null;
      const session = (x: (typeof live)[number]) => ({
        id: x.id,
        createdAt: iso(x.created_at) as string,
        ip: x.ip,
        country: x.country,
        asn: x.asn,
        browser: x.browser,
        os: x.os,
        channel: x.channel,
      });
      return {
        accountId,
        accountStatus: a.status,
        activeCase: active ? { id: active.id, status: active.status } : null,
        window: { ...basis, since: iso(since) as string, knownGoodUntil: iso(basis.knownGoodUntil) },
        endSessions: live.map(session),
        attackerSessions: attacker.map(session),
        identity,
        commerce,
        notify: [...new Set(contacts.filter((ct) => ownersBefore(ct, since)).map((ct) => ct.value))],
      };
    },

    /**
     * Opens a case and records its lockdown plan in one transaction (recorded first), then runs it.
     * A second lockdown of an account with one already running joins it instead of starting another.
     */
    async lockdownAccount(input: {
      accountId: string;
      reason: string;
      openedBy: string;
      since?: number | null;
      reportedAt?: number | null;
      ip?: string | null;
      /** false: return once recorded; the runner continues in the background */
      wait?: boolean;
    }): Promise<{ caseId: string }> {
      const now = clock.now();
      if (input.since !== undefined && input.since !== null && input.since > now) throw ResponseErrors.window_invalid();
      const caseId = await tx(async (t) => {
        const a = await accounts.getAccount(t, input.accountId);
        if (!a) throw ResponseErrors.case_not_found({ accountId: input.accountId }, "No such account.");
        const active = await store.activeCase(t, input.accountId);
        if (active && (active.status === "locking" || active.status === "open")) {
          await store.planSteps(t, active.id, stepNames);
          await t
            .updateTable("cases")
            .set({ status: "locking", updated_at: now })
            .where("id", "=", active.id)
            .execute();
          return active.id;
        }
        const id = newId();
        await t
          .insertInto("cases")
          .values({
            id,
            account_id: input.accountId,
            status: "locking",
            reason: input.reason.slice(0, 500),
            opened_by: input.openedBy,
            since: input.since ?? null,
            since_source: input.since ? "support" : null,
            window_basis: input.reportedAt ? JSON.stringify({ reportedAt: input.reportedAt }) : null,
            created_at: now,
            updated_at: now,
            locked_down_at: null,
            recovered_at: null,
            // Claimed by this node from the start, so no other node's sweep takes it before this one begins.
            runner: node,
            runner_until: now + leaseMs,
          })
          .execute();
        await store.planSteps(t, id, stepNames);
        await events.append(t, {
          accountId: input.accountId,
          type: "case.opened",
          data: { caseId: id, reason: input.reason.slice(0, 500), lockdown: true },
          actor: input.openedBy,
          ip: input.ip ?? null,
        });
        return id;
      });
      const run = lockdown(caseId);
      if (input.wait === false) run.catch(() => {});
      else await run;
      return { caseId };
    },

    /** Support opens a case without acting yet (notes, then perhaps a lockdown, which joins this case). */
    async openCase(input: { accountId: string; reason: string; openedBy: string }): Promise<{ caseId: string }> {
      return tx(async (t) => {
        const a = await accounts.getAccount(t, input.accountId);
        if (!a) throw ResponseErrors.case_not_found({ accountId: input.accountId }, "No such account.");
        const active = await store.activeCase(t, input.accountId);
        if (active) return { caseId: active.id };
        const id = newId();
        const now = clock.now();
        await t
          .insertInto("cases")
          .values({
            id,
            account_id: input.accountId,
            status: "open",
            reason: input.reason.slice(0, 500),
            opened_by: input.openedBy,
            since: null,
            since_source: null,
            window_basis: null,
            created_at: now,
            updated_at: now,
            locked_down_at: null,
            recovered_at: null,
          })
          .execute();
        await events.append(t, {
          accountId: input.accountId,
          type: "case.opened",
          data: { caseId: id, reason: input.reason.slice(0, 500), lockdown: false },
          actor: input.openedBy,
        });
        return { caseId: id };
      });
    },

    /**
     * Finishes the lockdowns a crash interrupted (called on start): this node's own (same node name) and those whose
     * runner's claim lapsed. A case another live node is running is left to it.
     */
    async resumeAll(): Promise<string[]> {
      const open = await store.unclaimedLockdowns(db, clock.now(), node);
      for (const id of open) await lockdown(id);
      return open;
    },

    /**
     * Takes and finishes every locking case nobody holds (its node died mid-lockdown). Run by each node's timer
     * (startSweep); returns the cases it started on.
     */
    async sweepLockdowns(): Promise<string[]> {
      const ids = (await store.unclaimedLockdowns(db, clock.now())).filter((id) => !running.has(id));
      for (const id of ids) lockdown(id).catch(() => {});
      return ids;
    },

    /** Sweeps every `intervalMs` (unref'd timer): a dead node's lockdown is finished within a lease and a sweep. */
    startSweep(intervalMs: number, onError: (e: unknown) => void = () => {}): void {
      if (sweeper) return;
      sweeper = setInterval(() => {
        service_.sweepLockdowns().catch(onError);
      }, intervalMs);
      sweeper.unref();
    },

    stopSweep(): void {
      if (sweeper) clearInterval(sweeper);
      sweeper = null;
    },

    /** Support moves the window start; the window-dependent steps run again (already-done actions are not redone). */
    async adjustWindow(caseId: string, since: number, by: string): Promise<void> {
      if (since > clock.now()) throw ResponseErrors.window_invalid();
      await tx(async (t) => {
        const c = await caseOrThrow(t, caseId);
        if (c.status === "recovered" || c.status === "closed") throw ResponseErrors.case_closed();
        const now = clock.now();
        await t
          .updateTable("cases")
          .set({ since, since_source: "support", status: "locking", updated_at: now })
          .where("id", "=", caseId)
          .execute();
        await store.reopenWindowSteps(t, caseId, windowSteps);
        await events.append(t, {
          accountId: c.account_id,
          type: "case.window_adjusted",
          data: { caseId, from: iso(c.since), to: iso(since) },
          actor: by,
        });
      });
      await lockdown(caseId);
    },

    async addNote(caseId: string, body: string, by: string): Promise<{ id: string }> {
      return tx(async (t) => {
        const c = await caseOrThrow(t, caseId);
        const id = newId();
        await t
          .insertInto("case_notes")
          .values({ id, case_id: caseId, author: by, body: body.slice(0, 4000), at: clock.now() })
          .execute();
        await events.append(t, {
          accountId: c.account_id,
          type: "case.note_added",
          data: { caseId, noteId: id },
          actor: by,
        });
        return { id };
      });
    },

    async listCases(filter: { accountId?: string; status?: string; limit?: number }) {
      let q = db
        .selectFrom("cases")
        .selectAll()
        .orderBy("created_at", "desc")
        .limit(filter.limit ?? 50);
      if (filter.accountId) q = q.where("account_id", "=", filter.accountId);
      if (filter.status) q = q.where("status", "=", filter.status);
      return (await q.execute()).map(caseView);
    },

    /**
     * The verification report: every object the case touched, its state before, the action, its state after, and
     * whether the store confirmed it. Actions on store objects that the store has not confirmed are flagged.
     */
    async getCase(caseId: string) {
      const c = await caseOrThrow(db, caseId);
      const [steps, actions, sessions, notes] = await Promise.all([
        store.steps(db, caseId),
        db.selectFrom("case_actions").selectAll().where("case_id", "=", caseId).orderBy("at").orderBy("id").execute(),
        db.selectFrom("case_sessions").selectAll().where("case_id", "=", caseId).execute(),
        db.selectFrom("case_notes").selectAll().where("case_id", "=", caseId).orderBy("at").execute(),
      ]);
      const hookIds = actions.map((a) => a.webhook_id).filter((x): x is string => x !== null);
      const states = deps.webhookStates && hookIds.length ? await deps.webhookStates(hookIds) : new Map();
      const objects = actions.map((a) => {
        // An action with a webhook message is one the store must apply to its own record. With no endpoint to send
        // it to (the message's state "not_required"), the store was never told: that is the 000 failure again, not
        // a clean line.
        const state: WebhookState | "mamori_only" =
          a.webhook_id === null ? "mamori_only" : (states.get(a.webhook_id) ?? "pending");
        const store_: StoreConfirmation = state === "not_required" ? "never_told" : state;
        return {
          objectType: a.object_type,
          objectId: a.object_id,
          step: a.step,
          action: a.action,
          before: a.before === null ? null : (JSON.parse(a.before) as unknown),
          after: a.after === null ? null : (JSON.parse(a.after) as unknown),
          note: a.note,
          at: iso(a.at),
          webhookId: a.webhook_id,
          storeConfirmation: store_,
          // Confirmed, or Mamori's own record needs no store: anything else is the 000 failure and must be seen.
          flagged: store_ !== "mamori_only" && store_ !== "confirmed",
        };
      });
      const order = new Map(stepNames.map((s, i) => [s, i]));
      return {
        ...caseView(c),
        steps: steps
          .sort((a, b) => (order.get(a.step) ?? 0) - (order.get(b.step) ?? 0))
          .map((s) => ({
            step: s.step,
            status: s.status,
            attempts: s.attempts,
            doneAt: iso(s.done_at),
            result: s.result ? (JSON.parse(s.result) as unknown) : null,
          })),
        sessions: sessions.map((s) => ({ sessionId: s.session_id, role: s.role })),
        objects,
        flagged: objects.filter((o) => o.flagged).length,
        notes: notes.map((n) => ({ id: n.id, author: n.author, body: n.body, at: iso(n.at) })),
      };
    },
  };
  return service_;
}

/** A verified address the owner had before the window (and did not lose before it): the lockdown tells it. */
function ownersBefore(ct: { verified: number; added_at: number; removed_at: number | null }, since: number): boolean {
  return ct.verified === 1 && ct.added_at < since && (ct.removed_at === null || ct.removed_at >= since);
}

export type LockdownPreview = Awaited<ReturnType<ResponseService["previewLockdown"]>>;

function caseView(c: CaseRow) {
  return {
    id: c.id,
    accountId: c.account_id,
    status: c.status,
    reason: c.reason,
    openedBy: c.opened_by,
    since: iso(c.since),
    sinceSource: c.since_source,
    windowBasis: c.window_basis ? (JSON.parse(c.window_basis) as Record<string, unknown>) : null,
    createdAt: iso(c.created_at) as string,
    lockedDownAt: iso(c.locked_down_at),
    recoveredAt: iso(c.recovered_at),
  };
}

export type ResponseService = ReturnType<typeof createResponseService>;
