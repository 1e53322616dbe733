import { IdentityErrors } from "./errors.ts";

// Deliberately simple: one @, a dot in the domain, no spaces; the confirmation code proves the rest.
const EMAIL = /^[^\s@"<>()[\]\\,;:]{1,64}@[^\s@"<>()[\]\\,;:]+\.[^\s@"<>()[\]\\,;:.]{2,63}$/;

export function normalizeEmail(input: string): string {
  const e = input.trim().toLowerCase().normalize("NFC");
  if (e.length > 254 || !EMAIL.test(e)) throw IdentityErrors.invalid_email();
  return e;
}

/** E.164: +, country code, up to 15 digits; spaces, dashes, dots and parentheses are dropped. */
export function normalizePhone(input: string): string {
  const p = input.trim().replace(/[\s\-.()]/g, "");
  if (!/^\+[1-9]\d{6,14}$/.test(p)) throw IdentityErrors.invalid_phone();
  return p;
}
