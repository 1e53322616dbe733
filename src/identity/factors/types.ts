import type { TSchema } from "@sinclair/typebox";
import type { Executor } from "../../db/database.ts";

/**
 * A second factor as a plug-in (issue 17 item 2). Each factor lives in its own folder (factors/<kind>/) with its
 * tables, migration, store and service, and answers this interface; the registry (registry.ts) is what sessions,
 * roll-back and the pages ask, instead of reading a factor's columns. Adding a factor: its folder, and one line in
 * app.ts's `createFactorRegistry([...])` (docs/architecture.md "Where to add a factor").
 */
export type FactorPurpose = "register" | "signin" | "second_factor" | "step_up";

/** One enrolled thing of a factor (a passkey, an authenticator app), as the pages and the timeline show it. */
export interface FactorItem {
  kind: string;
  id: string;
  name: string;
  createdAt: number;
  lastUsedAt: number | null;
}

/** One change a roll-back made (or would make): recorded as a case action on object type `second_factor`. */
export interface FactorChange {
  objectId: string;
  action: "removed" | "restored";
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  note: string | null;
  /**
   * The case action's object id when the factor names it (TOTP and recovery codes keep the `<account>:totp` and
   * `<account>:recovery_codes` ids their actions had before they were plug-ins); otherwise `<kind>:<objectId>`.
   */
  caseObjectId?: string;
  /** The lockdown preview's line for this change, when the item's name and the action do not say it well. */
  summary?: { ja: string; en: string };
}

/** Factor.enrolledSql: the accounts that have the factor enrolled, as a select of `account_id`. */
export interface FactorEnrolledSql {
  select: string;
  tables: readonly { table: string; account: string }[];
}

/**
 * Something the owner can do with a factor on the security center: open its own page (`link`), or post a change
 * (`post`: a form with the page's CSRF token, through the sensitive-change gate). `href` is relative to the security
 * center (`/portal/`): "./authenticator", "./passkeys".
 */
export interface FactorAction {
  label: { ja: string; en: string };
  href: string;
  method: "link" | "post";
}

/**
 * How a factor shows itself on the faces (the security center's factor section, the support console's factor panel):
 * one status line in plain words (for the owner and for support alike, so no "you"), and the owner's actions.
 */
export interface FactorFace {
  status: { ja: string; en: string };
  actions: readonly FactorAction[];
}

/**
 * What a factor takes from the bulk import (identity/import.ts, `mamori import` and POST /v1/accounts/import): one
 * field of the import row, checked with the row before any write (a value it cannot take refuses the row with
 * `refusal`), and written for the new accounts in the import's transaction, after their account rows.
 */
export interface FactorImport<Value = unknown> {
  /** the import row's field (JSON key), e.g. `totpSecret`; absent or null: nothing to import for this factor */
  readonly field: string;
  /** the field's schema in the API's import row (POST /v1/accounts/import; optional there) */
  readonly schema: TSchema;
  /** the row's refusal reason for a value `parse` refuses (docs/import.md lists them) */
  readonly refusal: string;
  /** the value checked and normalised; null refuses the row */
  parse(raw: unknown): Value | null;
  write(t: Executor, rows: readonly { accountId: string; value: Value }[], now: number): Promise<void>;
}

/**
 * How a factor is asked for by the pages' step-up before a sensitive change (web/step-up.tsx `StepUp`, through
 * portal/step-up.ts): a browser ceremony (a passkey), or a code typed beside the password — `label` the field's,
 * `what` the words the page's sentences name it by ("Enter your password and <what>."). The server's gate decides
 * whether the proof was enough; this only says what the page offers.
 */
export type FactorStepUp =
  | { kind: "ceremony" }
  | { kind: "code"; label: { ja: string; en: string }; what: { ja: string; en: string } };

export interface FactorChallengeInput {
  purpose: FactorPurpose;
  /** the account the challenge is for; null for a usernameless sign-in */
  accountId: string | null;
  /** the session or sign-in challenge it belongs to */
  boundTo: string | null;
}

export interface FactorVerifyInput<Proof> extends FactorChallengeInput {
  proof: Proof;
  ip: string | null;
}

export interface Factor<Options = unknown, Proof = unknown> {
  readonly kind: string;
  /**
   * How strong it is, against the attackers the threat model names (docs/threat-model.md "Factors"): 1 a code sent
   * to a mailbox or phone (stops a password list, not someone who reads the mailbox); 2 an authenticator app, its
   * recovery codes or a passkey (stops a mailbox reader too). A weaker factor never stands in for a stronger one the
   * account has enrolled: sign-in, step-up and the sessions' checks compare these numbers (registry.get(kind)).
   */
  readonly strength: number;
  readonly label: { ja: string; en: string };
  /**
   * A stand-in for another factor (recovery codes for the authenticator): offered, counted and accepted only while
   * that factor is enrolled, and removed with it by a factor reset.
   */
  readonly backs?: string;
  /** Bound to the site, so a look-alike page cannot relay it (a passkey): offered first among equally strong ones. */
  readonly phishingResistant?: boolean;
  /**
   * The event types this factor appends when it is enrolled, removed or replaced, with the support timeline's words
   * for each. The store hears of each as the webhook `security.factor.changed`, and the risk engine counts each as a
   * credential change (`signals.sinceCredentialChangeS`): a factor added by an attacker is what a lockdown looks for.
   */
  readonly changeEvents: Readonly<Record<string, { ja: string; en: string }>>;
  /** Its other events (a rename, a warning), with the timeline's words: shown, not counted as a change. */
  readonly otherEvents?: Readonly<Record<string, { ja: string; en: string }>>;
  /**
   * How the pages' step-up asks for it (FactorStepUp). Absent: not offered there (a stand-in such as recovery codes
   * is typed in the field of the factor it backs, whose `label` says so; the emailed code is not strong enough).
   */
  readonly stepUp?: FactorStepUp;
  /** Does the account have this factor now? */
  enrolled(ex: Executor, accountId: string): Promise<boolean>;
  /**
   * The accounts `enrolled` answers true for, as SQL, for readers that ask in one statement or for every account at
   * once (risk's snapshot and its in-memory facts): `select` answers one column `account_id`, takes no parameters and
   * reads the same on SQLite and PostgreSQL; `tables` are the tables it reads, each with its column naming the account,
   * so the in-memory facts hear of a write to them (risk/migration.ts `feedFactTables`).
   */
  readonly enrolledSql: FactorEnrolledSql;
  /** What it takes from the bulk import of a store's existing users, if anything (an authenticator's secret). */
  readonly importer?: FactorImport;
  /** What the client needs to prove the factor (options, a code sent…), stored so it can be answered once. */
  challenge(input: FactorChallengeInput): Promise<Options>;
  /** Checks a proof against a challenge this factor issued; answers the account it proves, or throws. */
  verify(input: FactorVerifyInput<Proof>): Promise<{ accountId: string; itemId: string }>;
  /** Removes one enrolled item (in the caller's transaction); false when there was none. */
  remove(t: Executor, input: { accountId: string; itemId: string; by: string; now: number }): Promise<boolean>;
  /** What rollBackSince would change, without writing (the lockdown preview). */
  planRollBack(ex: Executor, input: { accountId: string; since: number }): Promise<FactorChange[]>;
  /** Puts the factor back as it was before `since`: items added since go, items removed since come back. */
  rollBackSince(
    t: Executor,
    input: { accountId: string; since: number; now: number; by: string },
  ): Promise<FactorChange[]>;
  /** The enrolled items, for the security center and the account's timeline. */
  describe(ex: Executor, accountId: string): Promise<FactorItem[]>;
  /**
   * Its status line and actions on the security center and the console (registry.faces). Null: not shown on its own
   * (recovery codes while no authenticator is on). Without it the faces show its label and whether it is enrolled.
   */
  face?(ex: Executor, accountId: string): Promise<FactorFace | null>;
}
