import { HOTP, Secret, TOTP } from "otpauth";

/** What every authenticator app supports; other choices break Google Authenticator and friends. */
export const TOTP_ALGORITHM = "SHA1";
export const TOTP_DIGITS = 6;
export const TOTP_PERIOD_SECONDS = 30;
/**
 * Steps accepted before now: the previous step, for the seconds it takes to type a code that was read just before
 * its step ended (RFC 6238 §5.2 recommends at most one step back). None after now: a phone whose clock runs ahead
 * shows the next code only in the last seconds of the current step, and a retry a few seconds later succeeds. So a
 * code works for 30–60 s, not the ~90 s a window of ±1 gives (ASVS 5.0 V6.5). docs/threat-model.md explains it.
 */
export const TOTP_STEPS_BEHIND = 1;
export const TOTP_STEPS_AHEAD = 0;
const MAX_WINDOW = 10;

/** 160 random bits (RFC 4226 §4 recommends the HMAC-SHA1 output size), base32 without padding. */
export function generateTotpSecret(): string {
  return new Secret({ size: 20 }).base32;
}

/** otpauth://totp/Issuer:label?issuer=…&secret=…, for the QR code shown at enrolment. */
export function totpUri(opts: { secret: string; label: string; issuer?: string }): string {
  return new TOTP({
    issuer: opts.issuer ?? "Mamori",
    label: opts.label,
    secret: Secret.fromBase32(opts.secret),
    algorithm: TOTP_ALGORITHM,
    digits: TOTP_DIGITS,
    period: TOTP_PERIOD_SECONDS,
  }).toString();
}

/** The time step (RFC 6238 "T") that `now` (ms since the epoch) falls in. */
export function totpStep(now: number): number {
  return Math.floor(now / 1000 / TOTP_PERIOD_SECONDS);
}

function codeForStep(secret: Secret, step: number): string {
  return HOTP.generate({ secret, algorithm: TOTP_ALGORITHM, digits: TOTP_DIGITS, counter: step });
}

export function totpCodeAt(secret: string, now: number): string {
  return codeForStep(Secret.fromBase32(secret), totpStep(now));
}

/** Full-width digits (typed with a Japanese IME) and spaces ("123 456" as apps display it) are accepted. */
function normalizeCode(code: string): string | null {
  if (code.length > 32) return null;
  const c = code.normalize("NFKC").replace(/\s+/g, "");
  return c.length === TOTP_DIGITS && /^[0-9]+$/.test(c) ? c : null;
}

function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export type TotpResult = { ok: true; step: number } | { ok: false; reason: "invalid" | "replayed" };

/**
 * Checks a code against the steps now±window. `lastStep` is the step of the last code accepted for this secret; the
 * caller must store the returned `step` (compare-and-set) so the code cannot be used again, and so an older code
 * cannot be used after a newer one (RFC 6238 §5.2). Throws only if `secret` itself is not base32 (a server bug).
 */
export function verifyTotp(opts: {
  secret: string;
  code: string;
  now: number;
  lastStep: number | null;
  /** symmetric window (steps either side) instead of the defaults; tests and interop checks */
  window?: number;
}): TotpResult {
  const secret = Secret.fromBase32(opts.secret);
  const code = normalizeCode(opts.code);
  if (code === null) return { ok: false, reason: "invalid" };
  const clamp = (n: number) => Math.min(Math.max(Math.trunc(n), 0), MAX_WINDOW);
  const behind = clamp(opts.window ?? TOTP_STEPS_BEHIND);
  const ahead = clamp(opts.window ?? TOTP_STEPS_AHEAD);
  const current = totpStep(opts.now);
  let fresh: number | null = null;
  let replayed = false;
  // Every step in the window is computed, so timing does not reveal which one matched. Nearest to now wins when a
  // code happens to repeat within the window (chance ~1e-6 per pair).
  for (let d = 0; d <= Math.max(behind, ahead); d++) {
    const steps = d === 0 ? [current] : [...(d <= behind ? [current - d] : []), ...(d <= ahead ? [current + d] : [])];
    for (const step of steps) {
      if (step < 0 || !constantTimeEqual(codeForStep(secret, step), code)) continue;
      if (opts.lastStep !== null && step <= opts.lastStep) replayed = true;
      else fresh ??= step;
    }
  }
  if (fresh !== null) return { ok: true, step: fresh };
  return { ok: false, reason: replayed ? "replayed" : "invalid" };
}
