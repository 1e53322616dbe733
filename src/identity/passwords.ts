import { createRequire } from "node:module";
import { type Algorithm, hash as argon2Hash, verify as argon2Verify } from "@node-rs/argon2";
import { zxcvbn, zxcvbnOptions } from "@zxcvbn-ts/core";
import { isLegacyHash, verifyLegacy } from "./legacy-hashes.ts";

export interface PasswordHasher {
  hash(pw: string): Promise<string>;
  verify(hash: string, pw: string): Promise<boolean>;
  /** True for a hash the next proven sign-in should replace (an imported bcrypt, scrypt, PBKDF2 or argon2i/d). */
  needsRehash(hash: string): boolean;
}

export interface Argon2Options {
  memoryCost?: number;
  timeCost?: number;
  parallelism?: number;
}

// The package declares Algorithm as a const enum, which isolatedModules cannot read; 2 is its Argon2id member.
const ARGON2ID = 2 as Algorithm.Argon2id;

/** OWASP Password Storage Cheat Sheet: argon2id, m=19 MiB, t=2, p=1. */
export const OWASP_ARGON2: Required<Argon2Options> = { memoryCost: 19456, timeCost: 2, parallelism: 1 };

export function createArgon2Hasher(opts: Argon2Options = {}): PasswordHasher {
  const params = { ...OWASP_ARGON2, ...opts, algorithm: ARGON2ID };
  return {
    hash: (pw) => argon2Hash(pw, params),
    // Parameters come from the PHC string, so hashes made with older settings still verify.
    verify: async (hash, pw) => {
      try {
        // Imported hashes (legacy-hashes.ts) verify with their own scheme until the first sign-in replaces them.
        const legacy = await verifyLegacy(hash, pw);
        if (legacy !== null) return legacy;
        return await argon2Verify(hash, pw);
      } catch {
        // A malformed or truncated hash must read as "wrong password", not as a 500 that reveals the row is odd.
        return false;
      }
    },
    needsRehash: isLegacyHash,
  };
}

/** Real argon2id with tiny costs, so test suites that create many accounts stay fast. Never use in production. */
export function fastTestHasher(): PasswordHasher {
  return createArgon2Hasher({ memoryCost: 1024, timeCost: 1, parallelism: 1 });
}

export type PasswordRejection = "password_too_short" | "password_too_long" | "password_too_weak";

export type PasswordStrength =
  | { ok: true; score: number }
  | { ok: false; code: PasswordRejection; score: number; warning: string | null; suggestions: string[] };

/** NIST SP 800-63B §5.1.1.2: at least 8 characters; allow long passphrases but cap the work we do on them. */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 256;
/** zxcvbn score 0–4; 3 = "safely unguessable: moderate protection from offline slow-hash scenario". */
export const MIN_PASSWORD_SCORE = 3;
/**
 * zxcvbn's matchers are superlinear: a 256-character l33t-heavy string took 70 s, 64 characters 0.3 s, so only the
 * first 32 characters are estimated (worst case measured ~0.1 s). Truncating can only lower the estimate, so it may
 * refuse an odd long password whose start is weak, but never accepts a weak one.
 */
export const ESTIMATED_PREFIX_LENGTH = 32;

let zxcvbnReady = false;

// Dictionaries are ~10 MB of JSON and ranking them takes ~250 ms: load on the first check, not at import.
function ensureZxcvbn(): void {
  if (zxcvbnReady) return;
  const require = createRequire(import.meta.url);
  const common = require("@zxcvbn-ts/language-common") as typeof import("@zxcvbn-ts/language-common");
  const en = require("@zxcvbn-ts/language-en") as typeof import("@zxcvbn-ts/language-en");
  const ja = require("@zxcvbn-ts/language-ja") as typeof import("@zxcvbn-ts/language-ja");
  zxcvbnOptions.setOptions({
    // en and ja use the same list names; the ja ones are renamed so both are kept. Names containing
    // "firstnames"/"wikipedia" keep zxcvbn's matching warnings.
    dictionary: {
      ...common.dictionary,
      ...en.dictionary,
      jaCommonWords: ja.dictionary.commonWords,
      jaFirstnames: ja.dictionary.firstnames,
      jaLastnames: ja.dictionary.lastnames,
      jaWikipedia: ja.dictionary.wikipedia,
    },
    graphs: common.adjacencyGraphs,
    // Feedback goes to API clients, which localise by code; English text is the fallback.
    translations: en.translations,
    // Each extra l33t substitution multiplies the variants tried; 6 still catches "p@55w0rd"-style passwords.
    l33tMaxSubstitutions: 6,
    // Levenshtein matching costs 100–300 ms per check with these dictionaries: a cheap CPU DoS on sign-up.
    useLevenshteinDistance: false,
  });
  zxcvbnReady = true;
}

/** Whole inputs plus their parts: "yamada.taro88" also penalises "yamada", "taro88" and "taro". */
function expandUserInputs(inputs: string[]): string[] {
  const out = new Set<string>();
  for (const raw of inputs.slice(0, 20)) {
    const v = raw.trim().toLowerCase().slice(0, 100);
    if (v.length === 0) continue;
    out.add(v);
    for (const part of v.split(/[^\p{L}\p{N}]+/u)) {
      if (part.length >= 3) out.add(part);
      const letters = part.replace(/\p{N}+/gu, "");
      if (letters.length >= 3) out.add(letters);
    }
  }
  return [...out];
}

/** NIST SP 800-63B length, in code points (each Unicode character counts as one). */
export function checkPasswordLength(password: string): "password_too_short" | "password_too_long" | null {
  // Spread is O(n), so bound n first.
  if (password.length > MAX_PASSWORD_LENGTH * 2) return "password_too_long";
  const length = [...password].length;
  if (length > MAX_PASSWORD_LENGTH) return "password_too_long";
  if (length < MIN_PASSWORD_LENGTH) return "password_too_short";
  return null;
}

/**
 * The zxcvbn estimate alone, of the first ESTIMATED_PREFIX_LENGTH characters, against common passwords, English and
 * Japanese (romaji) words and names, keyboard patterns, and the user's own data (email local part, name). Callers
 * check the length first; password-policy.ts is the whole policy.
 */
export function estimatePasswordStrength(password: string, userInputs: string[]): PasswordStrength {
  ensureZxcvbn();
  const result = zxcvbn([...password].slice(0, ESTIMATED_PREFIX_LENGTH).join(""), expandUserInputs(userInputs));
  if (result.score >= MIN_PASSWORD_SCORE) return { ok: true, score: result.score };
  return {
    ok: false,
    code: "password_too_weak",
    score: result.score,
    warning: result.feedback.warning,
    suggestions: result.feedback.suggestions,
  };
}

/** Length, then the zxcvbn estimate: the strength part of the policy (password-policy.ts adds lists and context). */
export function checkPasswordStrength(password: string, userInputs: string[]): PasswordStrength {
  const length = checkPasswordLength(password);
  if (length) return { ok: false, code: length, score: 0, warning: null, suggestions: [] };
  return estimatePasswordStrength(password, userInputs);
}
