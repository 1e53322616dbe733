/**
 * How strong a second factor is, against the attackers the threat model names (docs/threat-model.md "Factors"):
 * 1 — a code sent to a mailbox (or phone): stops a password list, not someone who reads the mailbox;
 * 2 — an authenticator app (TOTP) or one of its recovery codes: stops a mailbox reader too.
 * A weaker factor never stands in for a stronger one the account has enrolled.
 */
export const SECOND_FACTOR_STRENGTH: Readonly<Record<string, number>> = {
  email_code: 1,
  totp: 2,
  recovery_code: 2,
  // a passkey with user verification (identity/factors/passkey/): also bound to the site, so it cannot be phished
  passkey: 2,
};

/** The strength of a second factor kind; 0 for none or an unknown kind. */
export function factorStrength(kind: string | null | undefined): number {
  return (kind && SECOND_FACTOR_STRENGTH[kind]) || 0;
}
