import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { IdentityErrors } from "./errors.ts";
import { checkPasswordLength, estimatePasswordStrength } from "./passwords.ts";
import type { PwnedRangeCheck, RangeResult } from "./pwned-range.ts";

/**
 * THE password policy: every new password (sign-up, change, reset, recovery) goes through `assertAcceptable`, by way of
 * new-password.ts, which adds the account's addresses as context and the history rules (none of the last 5; recovery
 * also refuses those in force during the compromise), which need the account's hashes.
 *
 * Order, cheapest and most certain first, so a refused password costs no zxcvbn estimate and an accepted one costs a
 * few microseconds more than zxcvbn alone:
 *   1. length (NIST SP 800-63B: 8–256 code points);
 *   2. the bundled list of leaked passwords (NIST SP 800-63B §5.1.1.2 "values obtained from previous breach corpuses"),
 *      with simple mangling undone (case, spaces, leetspeak, a few digits or symbols around a listed password);
 *   3. context words (ASVS 5.0 6.2.11): a password built from the account's email or name, the store's name or
 *      domain, or a service word, once digits, symbols and leetspeak are set aside;
 *   4. zxcvbn-ts (score ≥ 3), with the account's and the store's words as user inputs;
 *   5. the optional online range check (Have I Been Pwned's k-anonymity protocol), only for a password that passed
 *      everything else; a slow or failing endpoint never refuses.
 */

export type ContextKind = "email" | "name" | "store" | "service_word";

/** What the policy knows about the account whose password is being set. */
export interface PasswordContext {
  /** the account's email addresses: each local part (whole and in pieces) and the domain's name are refused */
  emails?: readonly string[];
  /** the account holder's name, when the store gave one */
  name?: string | null;
}

export type PolicyVerdict =
  | { ok: true; rangeCheck: RangeResult | "off" }
  | { ok: false; code: "password_too_short" | "password_too_long" }
  | { ok: false; code: "password_breached"; source: "list" | "range" }
  | { ok: false; code: "password_contains_context"; context: ContextKind }
  | { ok: false; code: "password_too_weak"; score: number; warning: string | null; suggestions: string[] };

export interface PasswordPolicyOptions {
  /** the store's name (MAMORI_STORE_NAME or the branding file), e.g. "さくら商店 Sakura Shoten" */
  storeName?: string | undefined;
  /** the store's domain (the host of MAMORI_STORE_URL), e.g. "www.sakura-shoten.co.jp" */
  storeDomain?: string | undefined;
  /** MAMORI_PASSWORD_SERVICE_WORDS, added to DEFAULT_SERVICE_WORDS */
  serviceWords?: readonly string[];
  /** the online range check (MAMORI_PWNED_RANGE_URL); absent = off */
  rangeCheck?: PwnedRangeCheck | undefined;
}

export interface PasswordPolicy {
  evaluate(password: string, ctx: PasswordContext): Promise<PolicyVerdict>;
  /** Resolves when the password may be set; otherwise throws the refusal's catalogued error (never echoing it). */
  assertAcceptable(password: string, ctx: PasswordContext): Promise<void>;
}

/**
 * Words no password may be built from on any store: Mamori's own name, the generic words of accounts and online
 * shopping in English and romaji, and the big Japanese shopping services, whose names shoppers reuse as password bases
 * ("amazon.co.jp2026", "rakuten123"). A store adds its own with MAMORI_PASSWORD_SERVICE_WORDS.
 */
export const DEFAULT_SERVICE_WORDS: readonly string[] = [
  "mamori",
  "まもり",
  "守り",
  "password",
  "passwd",
  "pasuwado",
  "pasuwaado",
  "パスワード",
  "login",
  "signin",
  "account",
  "member",
  "customer",
  "admin",
  "shop",
  "shopping",
  "store",
  "onlinestore",
  "onlineshop",
  "webshop",
  "netshop",
  "ecommerce",
  "tsuhan",
  "kaimono",
  "amazon",
  "rakuten",
  "yahoo",
  "mercari",
  "zozotown",
  "yodobashi",
  "paypay",
];

// Fewer letters than this left outside context words: the password is built from them.
const MIN_OWN_LETTERS = 4;
// Affixes stripped around a listed password ("password2024!"): at most this many digits/symbols before and after.
const MAX_PREFIX_AFFIX = 4;
const MAX_SUFFIX_AFFIX = 6;
const MIN_LISTED_LENGTH = 8;

export function createPasswordPolicy(opts: PasswordPolicyOptions = {}): PasswordPolicy {
  const fixedTokens: Token[] = [];
  if (opts.storeName) fixedTokens.push(...wordTokens(opts.storeName, "store"));
  if (opts.storeDomain) fixedTokens.push(...domainTokens(opts.storeDomain, "store"));
  for (const w of [...DEFAULT_SERVICE_WORDS, ...(opts.serviceWords ?? [])]) {
    fixedTokens.push(...wordTokens(w, "service_word"));
  }
  fixedTokens.push(...FILLERS);
  const storeInputs = [opts.storeName, opts.storeDomain].filter((x): x is string => !!x);

  async function evaluate(password: string, ctx: PasswordContext): Promise<PolicyVerdict> {
    const length = checkPasswordLength(password);
    if (length) return { ok: false, code: length };
    const folded = fold(password);
    if (isListed(folded)) return { ok: false, code: "password_breached", source: "list" };
    const accountTokens: Token[] = [];
    for (const e of ctx.emails ?? []) accountTokens.push(...emailTokens(e));
    if (ctx.name) accountTokens.push(...wordTokens(ctx.name, "name"));
    const kind = builtFrom(folded, [...accountTokens, ...fixedTokens]);
    if (kind) return { ok: false, code: "password_contains_context", context: kind };
    const userInputs = [...(ctx.emails ?? []).map((e) => e.split("@")[0] ?? ""), ctx.name ?? "", ...storeInputs];
    const s = estimatePasswordStrength(password, userInputs);
    if (!s.ok)
      return { ok: false, code: "password_too_weak", score: s.score, warning: s.warning, suggestions: s.suggestions };
    if (!opts.rangeCheck) return { ok: true, rangeCheck: "off" };
    const r = await opts.rangeCheck.check(password);
    if (r === "pwned") return { ok: false, code: "password_breached", source: "range" };
    return { ok: true, rangeCheck: r };
  }

  return {
    evaluate,
    async assertAcceptable(password, ctx) {
      const v = await evaluate(password, ctx);
      if (v.ok) return;
      switch (v.code) {
        case "password_too_short":
        case "password_too_long":
          throw IdentityErrors[v.code]();
        case "password_breached":
          throw IdentityErrors.password_breached({ source: v.source });
        case "password_contains_context":
          throw IdentityErrors.password_contains_context({ context: v.context });
        case "password_too_weak":
          throw IdentityErrors.password_too_weak({ score: v.score, warning: v.warning, suggestions: v.suggestions });
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Normalisation

/** Full-width forms (an IME's "ｐａｓｓｗｏｒｄ") fold to ASCII; case is ignored everywhere. */
export function fold(s: string): string {
  return s.normalize("NFKC").toLowerCase();
}

const isLetter = (c: string) => /\p{L}/u.test(c);
const isLetterOrDigit = (c: string) => /[\p{L}\p{N}]/u.test(c);

/**
 * One skeleton character per look-alike group, so "M4m0r1", "mamori" and "MAMORl" compare equal. Characters not in
 * the map stand for themselves.
 */
const LEET: Record<string, string> = {
  "0": "o",
  "1": "i",
  l: "i",
  "!": "i",
  "|": "i",
  "3": "e",
  "4": "a",
  "@": "a",
  "5": "s",
  $: "s",
  "7": "t",
  "+": "t",
};

/**
 * The password as units that can spell a word (letters, digits and leet symbols; separators and other symbols
 * dropped), each with its skeleton character.
 */
function units(folded: string): { chars: string[]; skeleton: string } {
  const chars: string[] = [];
  let skeleton = "";
  for (const c of folded) {
    if (!isLetterOrDigit(c) && LEET[c] === undefined) continue;
    chars.push(c);
    skeleton += LEET[c] ?? c;
  }
  return { chars, skeleton };
}

// ---------------------------------------------------------------------------------------------------------------
// The bundled list

interface LeakedList {
  /** sorted, newline-terminated ASCII lines */
  data: Buffer;
  /** start offset of each line, plus one past the end */
  starts: Uint32Array;
  extra: Set<string>;
}

let leaked: LeakedList | undefined;

/**
 * SecLists' top 1,000,000 of the ten-million-passwords list, entries of 8+ characters, folded, sorted (474,743
 * lines; built by scripts/build-password-list.mjs), plus Mamori's extra-passwords.txt. Kept as one buffer with line
 * offsets (~7 MB) and binary-searched, not as a Set of strings (~40 MB); loaded on the first check (~30 ms).
 */
export function leakedList(): LeakedList {
  if (leaked) return leaked;
  const dir = new URL("./password-lists/", import.meta.url);
  const data = gunzipSync(readFileSync(new URL("common-passwords.txt.gz", dir)));
  let lines = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 0x0a) lines++;
  const starts = new Uint32Array(lines + 1);
  let n = 1;
  for (let i = 0; i < data.length; i++) if (data[i] === 0x0a) starts[n++] = i + 1;
  const extra = new Set<string>();
  for (const line of readFileSync(new URL("extra-passwords.txt", dir), "utf8").split("\n")) {
    const v = fold(line.trim());
    if (v && !v.startsWith("#")) extra.add(v);
  }
  leaked = { data, starts, extra };
  return leaked;
}

function inSortedList(list: LeakedList, candidate: string): boolean {
  // The list is ASCII; anything else cannot be on it.
  if (!/^[\x20-\x7e]+$/.test(candidate)) return false;
  const key = Buffer.from(candidate, "latin1");
  let lo = 0;
  let hi = list.starts.length - 2;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    // compare(target, targetStart, targetEnd): the key against line mid (without its newline)
    const c = key.compare(list.data, list.starts[mid]!, list.starts[mid + 1]! - 1);
    if (c === 0) return true;
    if (c < 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return false;
}

function undoLeet(s: string, one: "i" | "l"): string {
  let out = "";
  for (const c of s) {
    if (c === "1" || c === "!" || c === "|") out += one;
    else out += c === "l" ? "l" : (LEET[c] ?? c);
  }
  return out;
}

/**
 * The whole password, then the forms a guessing tool derives from a listed one: separators removed
 * ("correct horse battery staple"), a few digits or symbols around it ("Password2024!"), leetspeak ("p@ssw0rd").
 */
export function listCandidates(folded: string): string[] {
  const out = new Set<string>([folded]);
  const compact = folded.replace(/[\s\-_.,]+/gu, "");
  out.add(compact);
  const prefix = new RegExp(`^[^\\p{L}]{1,${MAX_PREFIX_AFFIX}}(?=\\p{L})`, "u");
  const suffix = new RegExp(`(?<=\\p{L})[^\\p{L}]{1,${MAX_SUFFIX_AFFIX}}$`, "u");
  // Leet digits inside the word stay (they are part of it); only a run at either end is an affix.
  for (const form of [
    compact,
    compact.replace(prefix, ""),
    compact.replace(suffix, ""),
    compact.replace(prefix, "").replace(suffix, ""),
  ]) {
    out.add(form);
    out.add(undoLeet(form, "i"));
    out.add(undoLeet(form, "l"));
  }
  return [...out].filter((c) => c.length >= MIN_LISTED_LENGTH);
}

function isListed(folded: string): boolean {
  const list = leakedList();
  for (const c of listCandidates(folded)) {
    if (list.extra.has(c) || inSortedList(list, c)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// Context words

interface Token {
  skeleton: string;
  /** null: a filler (".co.jp", "www") that counts as covered but never decides the kind alone */
  kind: ContextKind | null;
}

// Domain suffixes and prefixes: "amazon.co.jp2026" is "amazon" + ".co.jp" + "2026".
const GENERIC_LABELS = new Set([
  "www",
  "com",
  "net",
  "org",
  "info",
  "biz",
  "jp",
  "co",
  "ne",
  "or",
  "ac",
  "go",
  "ed",
  "lg",
  "gr",
  "ad",
  "io",
  "app",
  "dev",
  "shop",
  "store",
  "online",
  "site",
  "uk",
  "us",
  "tokyo",
]);
const FILLERS: Token[] = ["cojp", "nejp", "orjp", "ac.jp", "com", "net", "org", "www", "jp"].map((w) => ({
  skeleton: units(fold(w)).skeleton,
  kind: null,
}));

/** Long enough to mean something: 3 units, or 2 when the word has CJK or kana letters (山田, 花子). */
function meaningful(skeleton: string): boolean {
  const n = [...skeleton].length;
  if (!/\p{L}/u.test(skeleton)) return false;
  return n >= 3 || (n >= 2 && /[^\p{ASCII}]/u.test(skeleton));
}

function token(word: string, kind: ContextKind): Token[] {
  const skeleton = units(fold(word)).skeleton;
  return meaningful(skeleton) ? [{ skeleton, kind }] : [];
}

/** A name or word: the whole (without spaces or punctuation), each piece, and each piece without its digits. */
function wordTokens(text: string, kind: ContextKind): Token[] {
  const f = fold(text).slice(0, 200);
  const out = token(f, kind);
  for (const piece of f.split(/[^\p{L}\p{N}]+/u)) {
    out.push(...token(piece, kind));
    out.push(...token(piece.replace(/\p{N}+/gu, ""), kind));
  }
  return out;
}

/** A domain's own labels ("sakura-shoten" of sakura-shoten.co.jp), whole and in pieces, and the whole domain. */
function domainTokens(domain: string, kind: ContextKind): Token[] {
  const d = fold(domain)
    .trim()
    .replace(/^https?:\/\//, "")
    .replace(/[/:].*$/, "")
    .slice(0, 200);
  const out = token(d, kind);
  for (const label of d.split(".")) {
    if (!GENERIC_LABELS.has(label)) out.push(...wordTokens(label, kind));
  }
  return out;
}

function emailTokens(email: string): Token[] {
  const [local = "", domain = ""] = fold(email).split("@");
  // "taro+shop" is taro's address too.
  return [
    ...wordTokens(local, "email"),
    ...wordTokens(local.split("+")[0] ?? "", "email"),
    ...domainTokens(domain, "email"),
  ];
}

const KIND_ORDER: ContextKind[] = ["email", "name", "store", "service_word"];

/**
 * Which kind of context word the password is built from, if any: context words (compared as skeletons, so leetspeak
 * does not hide them) are marked in the password, longest first, and if fewer than 4 of the password's own letters
 * are left unmarked, the password is those words plus digits and symbols ("yamadataro88!!", "Mamori2026!",
 * "amazon.co.jp2026"). A long passphrase that merely contains a context word is left to zxcvbn.
 */
export function builtFrom(folded: string, tokens: readonly Token[]): ContextKind | null {
  const { chars, skeleton } = units(folded);
  if (chars.length === 0) return null;
  const covered = new Array<ContextKind | "filler" | null>(chars.length).fill(null);
  const sorted = [...tokens].sort((a, b) => b.skeleton.length - a.skeleton.length);
  // Skeletons are built unit by unit, so string offsets in `skeleton` equal indexes in `chars` only for BMP units;
  // map string offsets to unit indexes once.
  const unitAt: number[] = [];
  let u = 0;
  for (const c of chars) {
    const len = (LEET[c] ?? c).length;
    for (let k = 0; k < len; k++) unitAt.push(u);
    u++;
  }
  for (const t of sorted) {
    if (t.skeleton.length === 0) continue;
    let from = 0;
    for (;;) {
      const at = skeleton.indexOf(t.skeleton, from);
      if (at < 0) break;
      const first = unitAt[at]!;
      const last = unitAt[at + t.skeleton.length - 1]!;
      for (let i = first; i <= last; i++) if (covered[i] === null) covered[i] = t.kind ?? "filler";
      from = at + 1;
    }
  }
  const counts = new Map<ContextKind, number>();
  let own = 0;
  for (let i = 0; i < chars.length; i++) {
    const c = covered[i];
    if (c === null || c === undefined) {
      if (isLetter(chars[i]!)) own++;
    } else if (c !== "filler") counts.set(c, (counts.get(c) ?? 0) + 1);
  }
  if (own >= MIN_OWN_LETTERS || counts.size === 0) return null;
  let best: ContextKind | null = null;
  for (const k of KIND_ORDER) if ((counts.get(k) ?? 0) > (best ? (counts.get(best) ?? 0) : 0)) best = k;
  return best;
}
