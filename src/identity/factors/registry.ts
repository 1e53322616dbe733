import type { Executor } from "../../db/database.ts";
import type {
  Factor,
  FactorAction,
  FactorChange,
  FactorEnrolledSql,
  FactorImport,
  FactorItem,
  FactorStepUp,
} from "./types.ts";

/** One factor as the faces list it (the security center's section, the console's panel), in registration order. */
export interface FactorPanel {
  kind: string;
  label: { ja: string; en: string };
  enrolled: boolean;
  status: { ja: string; en: string };
  actions: readonly FactorAction[];
  items: FactorItem[];
}

/** A factor without a face of its own: its label and whether it is on. */
const ON = { ja: "設定済み", en: "On" };
const OFF = { ja: "未設定", en: "Off" };

/** Every factor of the instance, asked by kind or all together (roll-back, the pages, the required strength). */
export interface FactorRegistry {
  readonly kinds: readonly string[];
  /** Every factor's change events (enrolled, removed, replaced) with their timeline words: types.ts `changeEvents`. */
  readonly changeEvents: Readonly<Record<string, { ja: string; en: string }>>;
  /** The timeline's words for every factor event, changes and others (types.ts `otherEvents`). */
  readonly eventLabels: Readonly<Record<string, { ja: string; en: string }>>;
  /** Every factor's `enrolledSql` with its kind, in registration order: risk's snapshot and in-memory facts. */
  readonly enrolledSql: readonly ({ kind: string } & FactorEnrolledSql)[];
  /** The factors that take something from the bulk import (Factor.importer), with their kinds, in registration order. */
  readonly importers: readonly (FactorImport & { kind: string })[];
  get(kind: string): Factor | undefined;
  /** The kinds the account has enrolled, in registration order. */
  enrolledKinds(ex: Executor, accountId: string): Promise<string[]>;
  /** The strongest enrolled factor's strength (0: none). */
  strongest(ex: Executor, accountId: string): Promise<number>;
  describe(ex: Executor, accountId: string): Promise<FactorItem[]>;
  /** How each enrolled factor with a `stepUp` is asked for at the pages' step-up, in registration order. */
  stepUps(ex: Executor, accountId: string): Promise<{ kind: string; stepUp: FactorStepUp }[]>;
  /** Every factor the faces show for the account (a factor's `face` null: left out), in registration order. */
  faces(ex: Executor, accountId: string): Promise<FactorPanel[]>;
  planRollBack(ex: Executor, input: { accountId: string; since: number }): Promise<(FactorChange & { kind: string })[]>;
  rollBackSince(
    t: Executor,
    input: { accountId: string; since: number; now: number; by: string },
  ): Promise<(FactorChange & { kind: string })[]>;
}

export function createFactorRegistry(factors: readonly Factor[]): FactorRegistry {
  const byKind = new Map(factors.map((f) => [f.kind, f]));
  if (byKind.size !== factors.length) throw new Error("two factors share a kind");
  return {
    kinds: factors.map((f) => f.kind),
    changeEvents: Object.assign({}, ...factors.map((f) => f.changeEvents)),
    eventLabels: Object.assign({}, ...factors.map((f) => ({ ...f.otherEvents, ...f.changeEvents }))),
    enrolledSql: factors.map((f) => ({ kind: f.kind, ...f.enrolledSql })),
    importers: factors.flatMap((f) => (f.importer ? [{ ...f.importer, kind: f.kind }] : [])),
    get: (kind) => byKind.get(kind),
    async enrolledKinds(ex, accountId) {
      const out: string[] = [];
      for (const f of factors) if (await f.enrolled(ex, accountId)) out.push(f.kind);
      return out;
    },
    async strongest(ex, accountId) {
      let s = 0;
      for (const f of factors) if (f.strength > s && (await f.enrolled(ex, accountId))) s = f.strength;
      return s;
    },
    async describe(ex, accountId) {
      return (await Promise.all(factors.map((f) => f.describe(ex, accountId)))).flat();
    },
    async stepUps(ex, accountId) {
      const out: { kind: string; stepUp: FactorStepUp }[] = [];
      for (const f of factors)
        if (f.stepUp && (await f.enrolled(ex, accountId))) out.push({ kind: f.kind, stepUp: f.stepUp });
      return out;
    },
    async faces(ex, accountId) {
      const out: FactorPanel[] = [];
      for (const f of factors) {
        const enrolled = await f.enrolled(ex, accountId);
        const face = f.face ? await f.face(ex, accountId) : { status: enrolled ? ON : OFF, actions: [] };
        if (face === null) continue;
        out.push({ kind: f.kind, label: f.label, enrolled, ...face, items: await f.describe(ex, accountId) });
      }
      return out;
    },
    async planRollBack(ex, input) {
      const out: (FactorChange & { kind: string })[] = [];
      for (const f of factors) for (const c of await f.planRollBack(ex, input)) out.push({ ...c, kind: f.kind });
      return out;
    },
    async rollBackSince(t, input) {
      // One after the other in the caller's transaction: the roll-back step commits all of them or none.
      const out: (FactorChange & { kind: string })[] = [];
      for (const f of factors) for (const c of await f.rollBackSince(t, input)) out.push({ ...c, kind: f.kind });
      return out;
    },
  };
}
