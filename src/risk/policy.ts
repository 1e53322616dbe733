/**
 * Risk policies: a versioned set of rules, each a CEL expression (@bufbuild/cel) over one event's features, with the
 * action to take when it matches. Pure: compiling parses and plans every expression once; evaluating runs the plans
 * over an activation built once per decision. No I/O, no clock — the service gathers the features and the velocity
 * counters the set names, then calls `evaluatePolicy`.
 *
 * Activation (every value a map, list, number (double), string, bool or null; times are ms numbers, ages seconds):
 *   event    { type, at, ip, country, asn, deviceId, channel, userAgent, browser, os, deviceType, data: {…} }
 *   account  { id, exists, status, ageDays, totpEnabled, verifiedEmail, allowedCountries: [..], dormantDays, … }
 *   session  { id, ageS, factor, secondFactor } (empty map without one)
 *   scores   { rba, rbaKnownUser, … }
 *   velocity { <name>: number } — only the counters the set declares, events *before* this one
 *   signals  { newDevice, newCountry, attackIp, impossibleTravel, sinceCredentialChangeS, unfinishedSecondFactor, … }
 */
import { createHash } from "node:crypto";
import { type CelValue, celEnv, celList, celMap, isCelError, parse, plan } from "@bufbuild/cel";

export const RISK_EVENT_TYPES = [
  "login",
  "password_reset_request",
  "credential_change",
  "address_added",
  "payment_instrument_added",
  "order",
  "gift_card_purchase",
  "gift_card_redemption",
  "listing_created",
  "listing_updated",
] as const;
export type RiskEventType = (typeof RISK_EVENT_TYPES)[number];

/** Weakest first: a decision is the strictest action among the matching rules. */
export const RISK_ACTIONS = ["allow", "challenge", "review", "deny"] as const;
export type RiskAction = (typeof RISK_ACTIONS)[number];
/** What a challenge rule asks for: "any", or a registered factor's kind (that factor, or one at least as strong). */
export type RiskFactor = string;
/**
 * The factors a rule may name, with their strengths: identity's factor registry's, given by app.ts
 * (createRiskService's `factors`). Without a registry (the offline CLI and backtests), the built-in factors'.
 */
export type FactorStrengths = Readonly<Record<string, number>>;
export const BUILT_IN_FACTORS: FactorStrengths = { totp: 2, recovery_code: 2, passkey: 2, email_code: 1 };
/** The account facts derived from the factor registry (asked only when a rule of the set reads one of them). */
export const FACTOR_FACTS = ["factors", "strongestFactor", "totpEnabled"] as const;

export const VELOCITY_KEYS = ["account", "ip", "device", "card", "giftcard", "seller"] as const;
export type VelocityKeyKind = (typeof VELOCITY_KEYS)[number];
export const VELOCITY_AGGS = ["count", "sum", "distinct"] as const;
export type VelocityAgg = (typeof VELOCITY_AGGS)[number];

/** A counter a policy set reads as `velocity.<name>`. */
export interface VelocitySpec {
  name: string;
  /** The events counted (recorded when an event of this type is assessed). */
  event: RiskEventType;
  key: VelocityKeyKind;
  /** "1m" … "30d" (s, m, h, d). */
  window: string;
  agg: VelocityAgg;
  /** For sum: the numeric `event.data` field added; for distinct: the event field counted (`ip`, `data.x`, …). */
  field?: string;
  /** Optional CEL filter over the recorded event's activation: only matching events are counted. */
  where?: string;
}

export interface PolicyRule {
  id: string;
  description?: string;
  /** Event types the rule applies to. */
  events: RiskEventType[];
  when: string;
  action: RiskAction;
  /** For challenge: the factor asked for (default any). */
  factor?: RiskFactor;
  /** Hold the object (order, gift card, listing) for review. */
  hold?: boolean;
  /** Start the account lockdown (response module) when this rule decides review or deny. */
  lockdown?: boolean;
  /**
   * What an evaluation error means. Default by action: deny → "skip" (fail open: a broken rule must not lock every
   * user out), challenge and review → "match" (fail closed: a broken rule costs friction, never a silent allow).
   */
  onError?: "match" | "skip";
}

export interface PolicySetSource {
  name?: string;
  description?: string;
  velocity?: VelocitySpec[];
  rules: PolicyRule[];
}

export interface CompiledRule {
  rule: PolicyRule;
  index: number;
  run: (activation: Record<string, CelValue>) => unknown;
  /** Activation paths the expression reads (e.g. "signals.newDevice"), reported as the inputs it saw. */
  paths: string[][];
  /** The same paths dotted, the reasons' input names (joined once here, not per match). */
  pathNames: string[];
  onError: "match" | "skip";
}

export interface CompiledVelocity extends VelocitySpec {
  windowMs: number;
  /** Velocity-store key prefix; the series is shared by specs that count the same thing. */
  series: string;
  filter?: (activation: Record<string, CelValue>) => unknown;
}

export interface CompiledPolicySet {
  version: number;
  source: PolicySetSource;
  rulesByEvent: Map<RiskEventType, CompiledRule[]>;
  /**
   * Per event type, the fast plans of its rules (in `rulesByEvent` order) as one function (`compileFastSet`): the
   * same expressions over the plain features, for the common shapes (field reads, literals, comparisons, &&, ||, !,
   * in, size, has, double arithmetic), a bool where CEL gives that bool, or BAIL wherever CEL might give anything
   * else, where the rule's `run` decides; null when every answer is false. Without it every rule runs through CEL.
   * The answers array is reused by the next call.
   */
  fastByEvent?: Map<RiskEventType, (f: Features) => unknown[] | null>;
  /** Counters read by the rules of each event type. */
  readsByEvent: Map<RiskEventType, CompiledVelocity[]>;
  /** Counters fed by each event type. */
  recordsByEvent: Map<RiskEventType, CompiledVelocity[]>;
  /** The factors its rules may name and their strengths (FACTOR_RANK of old, now the registry's). */
  factors: FactorStrengths;
  /** Does a rule read a fact derived from the factor registry (FACTOR_FACTS)? Only then are they asked. */
  readsFactors: boolean;
}

export class PolicyError extends Error {
  constructor(
    message: string,
    readonly problems: { path: string; message: string }[],
  ) {
    super(message);
    this.name = "PolicyError";
  }
}

const ROOTS = ["event", "account", "session", "scores", "velocity", "signals"] as const;
const ID = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const FIELD = /^(ip|country|asn|deviceId|channel|browser|os|deviceType|data\.[A-Za-z_][A-Za-z0-9_]{0,63})$/;
const MAX_RULES = 500;
const MAX_EXPR = 4000;

const env = celEnv();
const EMPTY_ACTIVATION: Record<string, CelValue> = Object.fromEntries(ROOTS.map((r) => [r, celMap(new Map())]));

/** "10m" → 600000. Windows from 1 minute to 30 days. */
export function parseWindow(w: string): number | null {
  const m = /^(\d{1,6})(s|m|h|d)$/.exec(w);
  if (!m) return null;
  const n = Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as "s" | "m" | "h" | "d"];
  return n >= 60_000 && n <= 30 * 86_400_000 ? n : null;
}

/** What a fast plan returns when it cannot answer exactly as CEL would: CEL then evaluates the rule. */
export const BAIL: unique symbol = Symbol("bail");

// Static kinds: an int (int literal, size()) may be compared but never enters arithmetic (CEL's int and double
// arithmetic differ; comparisons across int and double are numeric in CEL and exact here for safe integers).
interface FastNode {
  /** The variable holding the node's value once `lines` ran. */
  v: string;
  int: boolean;
  /** For a root or a field of one: its path, the key under which `Gen.hoist` shares it. */
  path?: string;
}
// biome-ignore lint/suspicious/noExplicitAny: the parsed CEL AST (protobuf messages)
type AstExpr = any;

const isMap = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
const scalar = (v: unknown) =>
  v === null || typeof v === "string" || typeof v === "boolean" || (typeof v === "number" && Number.isFinite(v));
const isStringList = (v: unknown) => Array.isArray(v) && v.every((i) => typeof i === "string");

/**
 * A fast plan is generated JavaScript (one function for all the rules of an event type), which V8 compiles like any
 * other function. The earlier tree of closures, one call per AST node, took about twice as long on the benchmark's
 * 100 rules (25–28 against 13–16 µs per evaluation, one function per rule then). The generated text holds only names made here (`v1`, `K[0]`, the helpers) and operators
 * from fixed tables. Every value from the policy (literals, field and variable names) is read from the constants
 * array `K`, so no policy text ever becomes code.
 */
interface Gen {
  k: unknown[];
  vars: number;
  /**
   * Set when one function evaluates every rule of a set (`compileFastSet`): each field path read as a value (a root,
   * or a select on such a path) is computed once, at the top of the function, and shared by every rule that reads it.
   * Such a read is pure and cannot throw, so computing it whether or not a rule's short-circuit would reach it changes
   * nothing but the cost.
   */
  hoist?: { head: string[]; paths: Map<string, FastNode> };
}
const constant = (g: Gen, value: unknown) => `K[${g.k.push(value) - 1}]`;
const fresh = (g: Gen) => `v${++g.vars}`;
const CMP: Record<string, string> = { "_<_": "<", "_<=_": "<=", "_>_": ">", "_>=_": ">=" };
const ARITH: Record<string, string> = { "_*_": "*", "_+_": "+", "_-_": "-", "_/_": "/" };

/**
 * Appends to `out` the statements that compute the expression, or returns null when it has a shape the fast path
 * does not cover. Semantics per node: the value CEL would give, or BAIL wherever CEL might give anything else.
 */
function fastOf(e: AstExpr, g: Gen, out: string[]): FastNode | null {
  const k = e?.exprKind?.case;
  const v = e?.exprKind?.value;
  if (k === "constExpr") {
    const c = v.constantKind;
    const r = fresh(g);
    switch (c.case) {
      case "doubleValue":
        if (!Number.isFinite(c.value)) return null;
        out.push(`${r} = ${constant(g, c.value)};`);
        return { v: r, int: false };
      case "int64Value": {
        const n = Number(c.value);
        if (!Number.isSafeInteger(n)) return null;
        out.push(`${r} = ${constant(g, n)};`);
        return { v: r, int: true };
      }
      case "stringValue":
      case "boolValue":
        out.push(`${r} = ${constant(g, c.value)};`);
        return { v: r, int: false };
      case "nullValue":
        out.push(`${r} = null;`);
        return { v: r, int: false };
      default:
        return null;
    }
  }
  if (k === "identExpr") {
    const name = v.name as string;
    if (!(ROOTS as readonly string[]).includes(name)) return null;
    const known = g.hoist?.paths.get(name);
    if (known) return known;
    const r = fresh(g);
    const node: FastNode = { v: r, int: false, path: name };
    (g.hoist?.head ?? out).push(`${r} = f[${constant(g, name)}] ?? BAIL;`);
    g.hoist?.paths.set(name, node);
    return node;
  }
  if (k === "selectExpr") {
    const m = fastOf(v.operand, g, out);
    if (!m) return null;
    // A field of a shared path is itself shared (computed once at the top); `has(…)` tests stay in the rule.
    const path = g.hoist && m.path !== undefined && !v.testOnly ? `${m.path}\u0000${v.field as string}` : undefined;
    const known = path === undefined ? undefined : g.hoist?.paths.get(path);
    if (known) return known;
    const field = constant(g, v.field as string);
    const r = fresh(g);
    if (path !== undefined && g.hoist) {
      g.hoist.head.push(
        `if (!isMap(${m.v}) || !hasOwn(${m.v}, ${field})) ${r} = BAIL;`,
        `else { const x = ${m.v}[${field}]; ${r} = scalar(x) || isMap(x) || isStringList(x) ? x : BAIL; }`,
      );
      const node: FastNode = { v: r, int: false, path };
      g.hoist.paths.set(path, node);
      return node;
    }
    if (v.testOnly) {
      // has(m.f): an absent key is false, a present value true; a key holding undefined or null is left to CEL.
      out.push(
        `if (!isMap(${m.v})) ${r} = BAIL; else if (!hasOwn(${m.v}, ${field})) ${r} = false;`,
        `else { const x = ${m.v}[${field}]; ${r} = x === undefined || x === null ? BAIL : true; }`,
      );
    } else {
      out.push(
        `if (!isMap(${m.v}) || !hasOwn(${m.v}, ${field})) ${r} = BAIL;`,
        `else { const x = ${m.v}[${field}]; ${r} = scalar(x) || isMap(x) || isStringList(x) ? x : BAIL; }`,
      );
    }
    return { v: r, int: false };
  }
  if (k !== "callExpr" || v.target) return null;
  const fn = v.function as string;
  const argv = v.args as AstExpr[];
  const r = fresh(g);
  // Operands are computed in order; the right side of && || ?: only when CEL's short-circuit would need it.
  const sub = (e2: AstExpr) => {
    const lines: string[] = [];
    const n = fastOf(e2, g, lines);
    return n ? { n, code: lines.join("\n") } : null;
  };
  if (fn === "_&&_" || fn === "_||_") {
    const a = fastOf(argv[0], g, out);
    const b = a && sub(argv[1]);
    if (!a || !b) return null;
    const decided = fn === "_&&_" ? `!${a.v}` : a.v;
    out.push(
      `if (typeof ${a.v} !== "boolean") ${r} = BAIL; else if (${decided}) ${r} = ${fn === "_||_"};`,
      `else { ${b.code}\n${r} = typeof ${b.n.v} === "boolean" ? ${b.n.v} : BAIL; }`,
    );
    return { v: r, int: false };
  }
  if (fn === "_?_:_") {
    const a = fastOf(argv[0], g, out);
    const b = a && sub(argv[1]);
    const c = b && sub(argv[2]);
    if (!a || !b || !c) return null;
    out.push(
      `if (typeof ${a.v} !== "boolean") ${r} = BAIL;`,
      `else if (${a.v}) { ${b.code}\n${r} = ${b.n.v}; } else { ${c.code}\n${r} = ${c.n.v}; }`,
    );
    return { v: r, int: b.n.int || c.n.int };
  }
  const args: FastNode[] = [];
  for (const a of argv) {
    const n = fastOf(a, g, out);
    if (!n) return null;
    args.push(n);
  }
  const [a, b] = args as [FastNode, FastNode | undefined];
  if (Object.hasOwn(CMP, fn) && b) {
    out.push(`${r} = typeof ${a.v} === "number" && typeof ${b.v} === "number" ? ${a.v} ${CMP[fn]} ${b.v} : BAIL;`);
    return { v: r, int: false };
  }
  if ((fn === "_==_" || fn === "_!=_") && b) {
    // Same kinds only (CEL's cross-type equality is left to CEL); null == null.
    out.push(
      `if (${a.v} === BAIL || ${b.v} === BAIL || !scalar(${a.v}) || !scalar(${b.v}) || typeof ${a.v} !== typeof ${b.v}) ${r} = BAIL;`,
      `else ${r} = ${a.v} ${fn === "_==_" ? "===" : "!=="} ${b.v};`,
    );
    return { v: r, int: false };
  }
  if (fn === "@in" && b) {
    out.push(`${r} = typeof ${a.v} === "string" && Array.isArray(${b.v}) ? ${b.v}.includes(${a.v}) : BAIL;`);
    return { v: r, int: false };
  }
  if (fn === "size" && args.length === 1) {
    out.push(`${r} = Array.isArray(${a.v}) ? ${a.v}.length : BAIL;`);
    return { v: r, int: true };
  }
  if (Object.hasOwn(ARITH, fn) && b) {
    if (a.int || b.int) return null;
    out.push(
      `if (typeof ${a.v} !== "number" || typeof ${b.v} !== "number") ${r} = BAIL;`,
      `else { ${r} = ${a.v} ${ARITH[fn]} ${b.v}; if (!Number.isFinite(${r})) ${r} = BAIL; }`,
    );
    return { v: r, int: false };
  }
  if (fn === "!_" && args.length === 1) {
    out.push(`${r} = typeof ${a.v} === "boolean" ? !${a.v} : BAIL;`);
    return { v: r, int: false };
  }
  if (fn === "-_" && args.length === 1) {
    if (a.int) return null;
    out.push(`${r} = typeof ${a.v} === "number" ? -${a.v} : BAIL;`);
    return { v: r, int: false };
  }
  return null;
}

/**
 * The fast plan of one rule expression: a bool, or BAIL (also for any non-bool result, which CEL reports). Policy
 * sets use `compileFastSet`; this per-rule form is what the tests hold it to.
 */
export function compileFast(expr: string): ((f: Features) => unknown) | undefined {
  const g: Gen = { k: [], vars: 0 };
  const body: string[] = [];
  const node = fastOf(parse(expr).expr, g, body);
  if (!node) return undefined;
  return instantiate(
    g,
    `return function fastRule(f) {\n${declare(g)}\n${body.join("\n")}\nreturn typeof ${node.v} === "boolean" ? ${node.v} : BAIL;\n};`,
  );
}

/** `let v1, …, vN;` for the variables `fastOf` made (nothing when it made none). */
const declare = (g: Gen) => (g.vars ? `let ${Array.from({ length: g.vars }, (_, i) => `v${i + 1}`).join(", ")};` : "");

/** The generated function of `source`, given the constants and the helpers its text refers to. */
function instantiate<F>(g: Gen, source: string): F {
  return new Function("K", "BAIL", "isMap", "scalar", "isStringList", "hasOwn", source)(
    g.k,
    BAIL,
    isMap,
    scalar,
    isStringList,
    Object.hasOwn,
  ) as F;
}

/**
 * Every rule's fast plan in one generated function, for one event type's rules in order: answers per rule what
 * `compileFast` answers (BAIL where a rule has no fast plan), with each field read once for all rules. One call per
 * decision instead of one per rule, and no rule re-reads what another read (policy-fast.test.ts compares the two).
 */
export function compileFastSet(exprs: readonly string[]): (f: Features) => unknown[] {
  const { g, source } = fastSetSource(exprs, false);
  return instantiate(g, source);
}

/**
 * `compileFastSet` for `evaluatePolicy`: null when every rule answered false (most decisions: nothing matched and
 * nothing is left to CEL), so the caller skips its walk over the rules; otherwise the answers, in one array reused by
 * every call (read it before the next call). A fresh array of one slot per rule per decision was garbage each time.
 */
function compileFastSetShared(exprs: readonly string[]): (f: Features) => unknown[] | null {
  const { g, source } = fastSetSource(exprs, true);
  return instantiate(g, source);
}

function fastSetSource(exprs: readonly string[], shared: boolean): { g: Gen; source: string } {
  const g: Gen = { k: [], vars: 0, hoist: { head: [], paths: new Map() } };
  const rules: string[] = [];
  // Shared: `open` counts the answers that are not false (a match, or BAIL: left to CEL).
  const tally = (i: number) => (shared ? `\nif (r[${i}] !== false) open++;` : "");
  exprs.forEach((expr, i) => {
    const body: string[] = [];
    const node = fastOf(parse(expr).expr, g, body);
    rules.push(
      node
        ? `{\n${body.join("\n")}\nr[${i}] = typeof ${node.v} === "boolean" ? ${node.v} : BAIL;${tally(i)}\n}`
        : `r[${i}] = BAIL;${tally(i)}`,
    );
  });
  const head = g.hoist!.head.join("\n");
  const source = shared
    ? `const r = new Array(${exprs.length});\nreturn function fastRules(f) {\n${declare(g)}\nlet open = 0;\n${head}\n${rules.join("\n")}\nreturn open === 0 ? null : r;\n};`
    : `return function fastRules(f) {\n${declare(g)}\nconst r = new Array(${exprs.length});\n${head}\n${rules.join("\n")}\nreturn r;\n};`;
  return { g, source };
}

function compileExpr(expr: string): (activation: Record<string, CelValue>) => unknown {
  const planned = plan(env, parse(expr));
  return (a) => planned(a as never);
}

/** The dotted activation paths an expression reads, for the reasons (a textual scan: cheap and good enough). */
function pathsOf(expr: string): string[][] {
  const found = new Set<string>();
  const re = /\b(event|account|session|scores|velocity|signals)((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g;
  for (const m of expr.matchAll(re)) {
    const parts = `${m[1]}${m[2]}`.split(".");
    // `account.countries.exists(…)`: the last segment is a method, not a field.
    if (/^\s*\(/.test(expr.slice((m.index ?? 0) + m[0].length))) parts.pop();
    if (parts.length > 1) found.add(parts.join("."));
  }
  return [...found].sort().map((p) => p.split("."));
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

/**
 * Validates and compiles a policy set. Throws PolicyError listing every problem (unknown action, event type or
 * factor, an expression that does not parse, a counter named twice or read but not declared).
 */
export function compilePolicySet(
  source: unknown,
  version: number,
  factors: FactorStrengths = BUILT_IN_FACTORS,
): CompiledPolicySet {
  let readsFactors = false;
  const problems: { path: string; message: string }[] = [];
  const bad = (path: string, message: string) => problems.push({ path, message });
  if (typeof source !== "object" || source === null || Array.isArray(source)) {
    throw new PolicyError("a policy set is an object", [{ path: "", message: "expected an object" }]);
  }
  const src = source as Record<string, unknown>;
  for (const k of Object.keys(src)) {
    if (!["name", "description", "velocity", "rules"].includes(k)) bad(k, "unknown property");
  }
  if (src.name !== undefined && typeof src.name !== "string") bad("name", "must be a string");
  if (src.description !== undefined && typeof src.description !== "string") bad("description", "must be a string");
  const rawRules = src.rules;
  const rawVel = src.velocity ?? [];
  if (!Array.isArray(rawRules)) bad("rules", "must be a list");
  if (!Array.isArray(rawVel)) bad("velocity", "must be a list");
  if (problems.length) throw new PolicyError("invalid policy set", problems);
  if ((rawRules as unknown[]).length > MAX_RULES) bad("rules", `at most ${MAX_RULES} rules`);

  const velocity = new Map<string, CompiledVelocity>();
  for (const [i, v] of (rawVel as unknown[]).entries()) {
    const p = `velocity[${i}]`;
    if (typeof v !== "object" || v === null) {
      bad(p, "must be an object");
      continue;
    }
    const s = v as Record<string, unknown>;
    for (const k of Object.keys(s)) {
      if (!["name", "event", "key", "window", "agg", "field", "where"].includes(k))
        bad(`${p}.${k}`, "unknown property");
    }
    if (typeof s.name !== "string" || !NAME.test(s.name)) {
      bad(`${p}.name`, "must be an identifier");
      continue;
    }
    if (velocity.has(s.name)) {
      bad(`${p}.name`, `counter ${s.name} declared twice`);
      continue;
    }
    if (!RISK_EVENT_TYPES.includes(s.event as RiskEventType)) {
      bad(`${p}.event`, "unknown event type");
      continue;
    }
    if (!VELOCITY_KEYS.includes(s.key as VelocityKeyKind)) {
      bad(`${p}.key`, "unknown key");
      continue;
    }
    if (!VELOCITY_AGGS.includes(s.agg as VelocityAgg)) {
      bad(`${p}.agg`, "must be count, sum or distinct");
      continue;
    }
    const windowMs = typeof s.window === "string" ? parseWindow(s.window) : null;
    if (windowMs === null) {
      bad(`${p}.window`, "a window from 1m to 30d, like 10m, 24h or 7d");
      continue;
    }
    if (s.agg !== "count" && (typeof s.field !== "string" || !FIELD.test(s.field))) {
      bad(`${p}.field`, "sum and distinct need a field: ip, country, deviceId, … or data.<name>");
      continue;
    }
    if (s.agg === "count" && s.field !== undefined) {
      bad(`${p}.field`, "count takes no field");
      continue;
    }
    let filter: CompiledVelocity["filter"];
    if (s.where !== undefined) {
      if (typeof s.where !== "string" || s.where.length > MAX_EXPR) {
        bad(`${p}.where`, "must be a CEL expression");
        continue;
      }
      try {
        filter = compileExpr(s.where);
      } catch (e) {
        bad(`${p}.where`, `does not compile: ${(e as Error).message}`);
        continue;
      }
    }
    const spec = s as unknown as VelocitySpec;
    velocity.set(spec.name, {
      ...spec,
      windowMs,
      // Specs counting the same thing share a series; a filtered one gets its own.
      series: [
        spec.event,
        spec.key,
        spec.agg === "count" ? "" : `${spec.agg}:${spec.field}`,
        filter ? createHash("sha256").update(String(s.where)).digest("base64url").slice(0, 12) : "",
      ]
        .join("|")
        .replace(/\|+$/, ""),
      ...(filter ? { filter } : {}),
    });
  }

  const rulesByEvent = new Map<RiskEventType, CompiledRule[]>();
  const readsByEvent = new Map<RiskEventType, Set<CompiledVelocity>>();
  const ids = new Set<string>();
  for (const [i, r] of (rawRules as unknown[]).entries()) {
    const p = `rules[${i}]`;
    if (typeof r !== "object" || r === null) {
      bad(p, "must be an object");
      continue;
    }
    const rule = r as Record<string, unknown>;
    for (const k of Object.keys(rule)) {
      if (!["id", "description", "events", "when", "action", "factor", "hold", "lockdown", "onError"].includes(k)) {
        bad(`${p}.${k}`, "unknown property");
      }
    }
    if (typeof rule.id !== "string" || !ID.test(rule.id)) {
      bad(`${p}.id`, "must be a short identifier");
      continue;
    }
    if (ids.has(rule.id)) {
      bad(`${p}.id`, `rule ${rule.id} defined twice`);
      continue;
    }
    ids.add(rule.id);
    if (rule.description !== undefined && typeof rule.description !== "string") bad(`${p}.description`, "string");
    if (!isStringArray(rule.events) || rule.events.length === 0) {
      bad(`${p}.events`, "a non-empty list");
      continue;
    }
    for (const e of rule.events)
      if (!RISK_EVENT_TYPES.includes(e as RiskEventType)) bad(`${p}.events`, `unknown event type ${e}`);
    if (!RISK_ACTIONS.includes(rule.action as RiskAction)) {
      bad(`${p}.action`, "allow, challenge, review or deny");
      continue;
    }
    if (rule.factor !== undefined && (rule.factor === "any" ? false : !Object.hasOwn(factors, String(rule.factor)))) {
      bad(`${p}.factor`, `any, or a registered factor: ${Object.keys(factors).join(", ")}`);
    }
    if (rule.factor !== undefined && rule.action !== "challenge") bad(`${p}.factor`, "only a challenge names a factor");
    for (const k of ["hold", "lockdown"] as const) {
      if (rule[k] !== undefined && typeof rule[k] !== "boolean") bad(`${p}.${k}`, "must be a boolean");
    }
    if (rule.onError !== undefined && rule.onError !== "match" && rule.onError !== "skip") {
      bad(`${p}.onError`, "match or skip");
    }
    if (typeof rule.when !== "string" || rule.when.trim() === "" || rule.when.length > MAX_EXPR) {
      bad(`${p}.when`, "must be a CEL expression");
      continue;
    }
    let run: CompiledRule["run"];
    try {
      run = compileExpr(rule.when);
    } catch (e) {
      bad(`${p}.when`, `does not compile: ${(e as Error).message}`);
      continue;
    }
    const paths = pathsOf(rule.when);
    for (const path of paths) {
      if (path[0] !== "velocity") continue;
      const v = velocity.get(path[1] ?? "");
      if (!v) bad(`${p}.when`, `velocity.${path[1]} is not declared in the set's velocity list`);
    }
    // A variable that is not one of the roots would only fail at evaluation time: reject it now (a dry run over
    // empty roots answers "field not found" for our roots' fields and "unresolved attribute" for anything else).
    const dry = run(EMPTY_ACTIVATION);
    if ((isCelError(dry) || dry instanceof Error) && /unresolved attribute/.test((dry as Error).message)) {
      bad(`${p}.when`, `reads an unknown variable (use ${ROOTS.join(", ")})`);
    }
    const action = rule.action as RiskAction;
    if (paths.some((x) => x[0] === "account" && (FACTOR_FACTS as readonly string[]).includes(x[1] ?? ""))) {
      readsFactors = true;
    }
    const compiled: CompiledRule = {
      rule: rule as unknown as PolicyRule,
      index: i,
      run,
      paths,
      pathNames: paths.map((x) => x.join(".")),
      onError:
        (rule.onError as "match" | "skip" | undefined) ?? (action === "deny" || action === "allow" ? "skip" : "match"),
    };
    for (const e of new Set(rule.events as RiskEventType[])) {
      if (!RISK_EVENT_TYPES.includes(e)) continue;
      const list = rulesByEvent.get(e) ?? [];
      rulesByEvent.set(e, list);
      list.push(compiled);
      const reads = readsByEvent.get(e) ?? new Set<CompiledVelocity>();
      readsByEvent.set(e, reads);
      for (const path of paths) {
        const v = path[0] === "velocity" ? velocity.get(path[1] ?? "") : undefined;
        if (v) reads.add(v);
      }
    }
  }
  if (problems.length) throw new PolicyError("invalid policy set", problems);

  const recordsByEvent = new Map<RiskEventType, CompiledVelocity[]>();
  for (const v of velocity.values()) {
    const list = recordsByEvent.get(v.event) ?? [];
    list.push(v);
    recordsByEvent.set(v.event, list);
  }
  return {
    version,
    source: source as PolicySetSource,
    rulesByEvent,
    fastByEvent: new Map([...rulesByEvent].map(([e, list]) => [e, compileFastSetShared(list.map((c) => c.rule.when))])),
    readsByEvent: new Map([...readsByEvent].map(([k, s]) => [k, [...s]])),
    recordsByEvent,
    factors,
    readsFactors,
  };
}

/** Plain features, as the service gathers them (JSON-like). */
export type Features = Record<(typeof ROOTS)[number], Record<string, unknown>>;

/** Converts plain JSON-like values to CEL values once per decision (maps stay maps, numbers are doubles). */
export function toCelValue(v: unknown): CelValue {
  if (v === null || v === undefined) return null;
  switch (typeof v) {
    case "number":
    case "string":
    case "boolean":
      return v;
    case "bigint":
      return Number(v);
    case "object":
      if (Array.isArray(v)) return celList(v.map(toCelValue));
      return celMap(new Map(Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, toCelValue(x)])));
    default:
      return null;
  }
}

export function toActivation(f: Features): Record<string, CelValue> {
  const out: Record<string, CelValue> = {};
  for (const r of ROOTS) out[r] = toCelValue(f[r] ?? {});
  return out;
}

export interface MatchReason {
  ruleId: string;
  description?: string;
  action: RiskAction;
  policyVersion: number;
  /** The inputs the rule's expression read, as they were. */
  inputs: Record<string, unknown>;
  factor?: RiskFactor;
  hold?: boolean;
  lockdown?: boolean;
  /** Set when the expression failed: the rule counted as matched (onError match) or was skipped. */
  error?: string;
  applied?: boolean;
}

export interface PolicyDecision {
  decision: RiskAction;
  factor?: RiskFactor;
  hold: boolean;
  lockdown: boolean;
  policyVersion: number;
  /** Matching rules (and failing ones, with `error`), in rule order. */
  reasons: MatchReason[];
  rulesEvaluated: number;
}

const RANK: Record<RiskAction, number> = { allow: 0, challenge: 1, review: 2, deny: 3 };

function read(f: Features, path: string[]): unknown {
  let v: unknown = f;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<string, unknown>)[k];
  }
  return v;
}

function inputsOf(f: Features, paths: string[][], names: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < paths.length; i++) {
    const v = read(f, paths[i]!);
    out[names[i]!] = v === undefined ? null : typeof v === "number" && !Number.isFinite(v) ? String(v) : v;
  }
  return out;
}

/** A challenge factor's strength in the set, for the strongest-asked rule ("any" is the weakest). */
function factorRank(set: CompiledPolicySet, x: RiskFactor): number {
  return x === "any" ? 0 : (set.factors[x] ?? 0);
}

/**
 * Runs the set's rules for the event type. The decision is the strictest matching action (deny > review >
 * challenge > allow; allow when nothing matches); a challenge's factor is the strongest any matching challenge asks
 * for; hold and lockdown are set when any deciding rule (review or deny for lockdown) sets them.
 */
export function evaluatePolicy(
  set: CompiledPolicySet,
  type: RiskEventType,
  features: Features,
  /** The CEL activation of `features` (or how to build it): only built when a rule needs CEL itself. */
  activation?: Record<string, CelValue> | (() => Record<string, CelValue>),
): PolicyDecision {
  // Built on the first rule that needs CEL itself (no closure here: this runs for every decision).
  let act: Record<string, CelValue> | null = typeof activation === "object" ? activation : null;
  const rules = set.rulesByEvent.get(type) ?? [];
  const reasons: MatchReason[] = [];
  let decision: RiskAction = "allow";
  let factor: RiskFactor | undefined;
  let hold = false;
  let lockdown = false;
  const fastAll = set.fastByEvent?.get(type);
  const answers = fastAll ? fastAll(features) : undefined;
  // Every rule answered false: the walk below would skip each one, so its result is known.
  if (answers === null) {
    return { decision, hold, lockdown, policyVersion: set.version, reasons, rulesEvaluated: rules.length };
  }
  for (let i = 0; i < rules.length; i++) {
    const c = rules[i]!;
    let out: unknown = answers ? answers[i] : BAIL;
    if (out === false) continue; // most rules, most of the time: no match and nothing to report
    if (out === BAIL) {
      try {
        act ??= typeof activation === "function" ? activation() : toActivation(features);
        out = c.run(act);
      } catch (e) {
        out = e instanceof Error ? e : new Error(String(e));
      }
    }
    let error: string | undefined;
    if (isCelError(out) || out instanceof Error) error = (out as Error).message;
    else if (typeof out !== "boolean") error = `the expression gave ${typeof out}, not a bool`;
    const matched = error === undefined ? out === true : c.onError === "match";
    if (!matched && error === undefined) continue;
    const r = c.rule;
    // Built by assignment in the order the spreads gave (the reasons' JSON is stored and compared as text): spreads
    // of conditional literals allocated an object each.
    const reason = { ruleId: r.id } as MatchReason;
    if (r.description) reason.description = r.description;
    reason.action = r.action;
    reason.policyVersion = set.version;
    reason.inputs = inputsOf(features, c.paths, c.pathNames);
    if (r.action === "challenge") reason.factor = r.factor ?? "any";
    if (r.hold) reason.hold = true;
    if (r.lockdown) reason.lockdown = true;
    if (error !== undefined) {
      reason.error = error;
      reason.applied = matched;
    }
    reasons.push(reason);
    if (!matched) continue;
    if (RANK[r.action] > RANK[decision]) decision = r.action;
    if (r.action === "challenge") {
      const f = r.factor ?? "any";
      // A module-level function: a closure here was made (and, under tsx, named) on every matching challenge.
      if (factor === undefined || factorRank(set, f) > factorRank(set, factor)) factor = f;
    }
    if (r.hold && r.action !== "allow") hold = true;
    if (r.lockdown && (r.action === "review" || r.action === "deny")) lockdown = true;
  }
  return {
    decision,
    ...(decision === "challenge" && factor ? { factor } : {}),
    hold,
    lockdown,
    policyVersion: set.version,
    reasons,
    rulesEvaluated: rules.length,
  };
}

/** The value an event contributes to a counter (undefined: the event is not counted). */
export function velocityKeyValue(
  kind: VelocityKeyKind,
  f: { event: Record<string, unknown>; account: Record<string, unknown> },
): string | undefined {
  switch (kind) {
    case "account":
      return keyString(f.account.id);
    case "ip":
      return keyString(f.event.ip);
    case "device":
      return keyString(f.event.deviceId);
    case "card":
      return keyString(eventData(f).cardFingerprint);
    case "giftcard":
      return keyString(eventData(f).giftCardId);
    case "seller":
      return keyString(eventData(f).sellerId) ?? keyString(f.account.id);
  }
}

// Module-level rather than closures inside velocityKeyValue: it runs several times per decision, and under tsx
// (keepNames) every named closure costs an Object.defineProperty each time it is created.
function keyString(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : typeof v === "number" ? String(v) : undefined;
}

function eventData(f: { event: Record<string, unknown> }): Record<string, unknown> {
  return (f.event.data ?? {}) as Record<string, unknown>;
}

export function velocityField(field: string, event: Record<string, unknown>): unknown {
  if (field.startsWith("data.")) return ((event.data ?? {}) as Record<string, unknown>)[field.slice(5)];
  return event[field];
}
