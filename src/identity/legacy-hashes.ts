import { pbkdf2, scrypt, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import bcrypt from "bcryptjs";

/**
 * Password hashes a store brings from its old system (bulk import). They are kept as they are, verified at the
 * first sign-in, and replaced by argon2id then (signin.ts). Accepted: argon2 (PHC), bcrypt ($2a$/$2b$/$2y$),
 * scrypt (PHC, as passlib writes it) and PBKDF2-SHA256/512 (passlib's $pbkdf2-sha256$, PHC's i=…,l=…, and Django's
 * pbkdf2_sha256$…). Parameters are bounded at import: a hash whose check would cost seconds is a denial of service
 * waiting for its first sign-in.
 */
export type LegacyScheme = "argon2" | "bcrypt" | "scrypt" | "pbkdf2";

type Parsed =
  | { scheme: "argon2" }
  | { scheme: "bcrypt"; cost: number }
  | { scheme: "scrypt"; n: number; r: number; p: number; salt: Buffer; hash: Buffer }
  | { scheme: "pbkdf2"; digest: "sha256" | "sha512"; iterations: number; salt: Buffer; hash: Buffer };

export type HashCheck =
  | { ok: true; scheme: LegacyScheme }
  | { ok: false; reason: "hash_format_unknown" | "hash_params_out_of_range" };

const pbkdf2Async = promisify(pbkdf2);
const scryptAsync = promisify(scrypt) as (
  pw: string,
  salt: Buffer,
  len: number,
  opts: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

export const LIMITS = {
  bcryptCost: { min: 4, max: 15 },
  pbkdf2Iterations: { min: 1_000, max: 5_000_000 },
  /** 128·N·r bytes of memory per check */
  scryptMemory: 256 * 1024 * 1024,
  scryptP: 16,
};

/** Base64 as passlib writes it ("adapted": `.` for `+`, no padding) or plain; null when it is neither. */
function b64(s: string): Buffer | null {
  if (!/^[A-Za-z0-9+/.]+={0,2}$/.test(s)) return null;
  const b = Buffer.from(s.replace(/\./g, "+"), "base64");
  return b.length ? b : null;
}

function parse(stored: string): Parsed | null | "out_of_range" {
  if (/^\$argon2(id|i|d)\$/.test(stored)) return { scheme: "argon2" };
  const bc = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/.exec(stored);
  if (bc) {
    const cost = Number(bc[1]);
    if (cost < LIMITS.bcryptCost.min || cost > LIMITS.bcryptCost.max) return "out_of_range";
    return { scheme: "bcrypt", cost };
  }
  const sc = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([^$]+)\$([^$]+)$/.exec(stored);
  if (sc) {
    const [ln, r, p] = [Number(sc[1]), Number(sc[2]), Number(sc[3])];
    const salt = b64(sc[4]!);
    const hash = b64(sc[5]!);
    if (!salt || !hash) return null;
    if (ln < 1 || r < 1 || p < 1 || p > LIMITS.scryptP || 128 * 2 ** ln * r > LIMITS.scryptMemory)
      return "out_of_range";
    if (hash.length < 16) return "out_of_range";
    return { scheme: "scrypt", n: 2 ** ln, r, p, salt, hash };
  }
  // passlib: $pbkdf2-sha256$29000$salt$hash; PHC: $pbkdf2-sha256$i=29000,l=32$salt$hash
  const pb = /^\$pbkdf2-(sha256|sha512)\$(?:i=)?(\d{1,8})(?:,l=\d{1,3})?\$([^$]+)\$([^$]+)$/.exec(stored);
  // Django: pbkdf2_sha256$870000$salt$hash (the salt is used as its text, the hash is standard base64)
  const dj = /^pbkdf2_(sha256)\$(\d{1,8})\$([^$]+)\$([A-Za-z0-9+/]+={0,2})$/.exec(stored);
  const m = pb ?? dj;
  if (m) {
    const iterations = Number(m[2]);
    const salt = pb ? b64(m[3]!) : Buffer.from(m[3]!, "utf8");
    const hash = b64(m[4]!);
    if (!salt || !hash) return null;
    const p = LIMITS.pbkdf2Iterations;
    if (iterations < p.min || iterations > p.max || hash.length < 16 || hash.length > 64) return "out_of_range";
    return { scheme: "pbkdf2", digest: m[1] as "sha256" | "sha512", iterations, salt, hash };
  }
  return null;
}

/** At import: is this a hash Mamori can verify, with parameters it will agree to pay for? */
export function checkImportedHash(stored: string): HashCheck {
  const p = parse(stored);
  if (p === null) return { ok: false, reason: "hash_format_unknown" };
  if (p === "out_of_range") return { ok: false, reason: "hash_params_out_of_range" };
  return { ok: true, scheme: p.scheme };
}

/**
 * Verifies a non-argon2 hash; null when the string is not one of the legacy formats (the caller then treats it as
 * argon2 or as wrong). Constant-time comparison of the derived bytes.
 */
export async function verifyLegacy(stored: string, password: string): Promise<boolean | null> {
  const p = parse(stored);
  if (p === null || p === "out_of_range" || p.scheme === "argon2") return null;
  if (p.scheme === "bcrypt") {
    // $2y$ (PHP) and $2a$ hashes are the same algorithm for all but a long-fixed 8-bit bug in $2x$, which is refused.
    // bcryptjs (pure JS): the native @node-rs/bcrypt's platform packages are not all on every registry mirror, and
    // npm ci then refuses the lock file; a bcrypt check runs once per imported account, at its first sign-in.
    return bcrypt.compare(password, stored.replace(/^\$2[ay]\$/, "$2b$"));
  }
  const derived =
    p.scheme === "scrypt"
      ? await scryptAsync(password, p.salt, p.hash.length, {
          N: p.n,
          r: p.r,
          p: p.p,
          maxmem: LIMITS.scryptMemory + 1024 * 1024,
        })
      : await pbkdf2Async(password, p.salt, p.iterations, p.hash.length, p.digest);
  return timingSafeEqual(derived, p.hash);
}

/** Anything that is not argon2id is rehashed at the next sign-in that proves the password. */
export function isLegacyHash(stored: string): boolean {
  return !stored.startsWith("$argon2id$");
}
