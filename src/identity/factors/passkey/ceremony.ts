import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { isoBase64URL } from "@simplewebauthn/server/helpers";
import { PasskeyErrors } from "./errors.ts";

/**
 * The WebAuthn ceremonies (@simplewebauthn/server), one for the owners' passkeys (factor.ts) and the staff's
 * (admin/passkeys.ts): discoverable credentials, user verification required, attestation `none`, ES256 or RS256.
 * Each side keeps its own tables, challenges and relying party; what is checked, and how, is the same here. Admin may
 * import it (only identity's store is closed to other modules: `npm run lint:deps`).
 */
export interface RelyingParty {
  rpId: string;
  rpName: string;
  origins: string[];
}

/** A stored credential, as both sides keep it (public key base64url, transports as JSON text). */
export interface StoredCredential {
  credential_id: string;
  public_key: string;
  transports: string;
}

export type RegistrationInfo = NonNullable<Awaited<ReturnType<typeof verifyRegistrationResponse>>["registrationInfo"]>;

const TIMEOUT_MS = 5 * 60_000;

/** The challenge an answer carries, read from its clientDataJSON (the signature is checked after it is spent). */
export function challengeOf(clientDataJSON: unknown): string {
  try {
    const cd = JSON.parse(Buffer.from(String(clientDataJSON), "base64url").toString("utf8")) as { challenge?: unknown };
    if (typeof cd.challenge === "string" && cd.challenge.length > 0 && cd.challenge.length <= 200) return cd.challenge;
  } catch {
    // falls through to the refusal
  }
  throw PasskeyErrors.passkey_challenge_invalid();
}

/** Options for navigator.credentials.create(): a resident key, user verification, attestation none. */
export async function creationOptions(
  rp: RelyingParty,
  input: { userName: string; userHandle: string; challenge: string; exclude: readonly StoredCredential[] },
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const o = await generateRegistrationOptions({
    rpName: rp.rpName,
    rpID: rp.rpId,
    userName: input.userName,
    userID: isoBase64URL.toBuffer(input.userHandle),
    challenge: isoBase64URL.toBuffer(input.challenge),
    attestationType: "none",
    timeout: TIMEOUT_MS,
    excludeCredentials: input.exclude.map((p) => ({ id: p.credential_id, transports: JSON.parse(p.transports) })),
    authenticatorSelection: { residentKey: "required", userVerification: "required" },
    supportedAlgorithmIDs: [-7, -257],
  });
  return { ...o, challenge: input.challenge };
}

/** Options for navigator.credentials.get(): usernameless (no allowCredentials), user verification required. */
export async function requestOptions(
  rp: RelyingParty,
  challenge: string,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const o = await generateAuthenticationOptions({
    rpID: rp.rpId,
    challenge: isoBase64URL.toBuffer(challenge),
    userVerification: "required",
    timeout: TIMEOUT_MS,
  });
  return { ...o, challenge };
}

/** Checks a registration answer against the (already spent) challenge: origin, RP ID, user verification; or throws. */
export async function verifyRegistration(
  rp: RelyingParty,
  response: RegistrationResponseJSON,
  challenge: string,
): Promise<RegistrationInfo> {
  let v: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    v = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      requireUserVerification: true,
    });
  } catch {
    throw PasskeyErrors.passkey_invalid();
  }
  if (!v.verified || !v.registrationInfo) throw PasskeyErrors.passkey_invalid();
  return v.registrationInfo;
}

/** What a verified registration stores, in the columns both sides share. */
export function credentialColumns(info: RegistrationInfo, response: RegistrationResponseJSON) {
  return {
    credential_id: info.credential.id,
    public_key: isoBase64URL.fromBuffer(info.credential.publicKey),
    sign_count: info.credential.counter,
    transports: JSON.stringify(info.credential.transports ?? response.response.transports ?? []),
  };
}

/**
 * Checks an assertion against the (already spent) challenge and the stored credential: the user handle, origin, RP
 * ID, signature and user verification. Answers the signed counter; the caller then moves it forward atomically
 * (`signCountMoves`), which is the clone check: the library's own counter check is not used.
 */
export async function verifyAuthentication(
  rp: RelyingParty,
  response: AuthenticationResponseJSON,
  challenge: string,
  stored: StoredCredential & { user_handle: string },
): Promise<number> {
  if (response.response.userHandle && response.response.userHandle !== stored.user_handle) {
    throw PasskeyErrors.passkey_invalid();
  }
  try {
    const v = await verifyAuthenticationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: rp.origins,
      expectedRPID: rp.rpId,
      credential: {
        id: stored.credential_id,
        publicKey: isoBase64URL.toBuffer(stored.public_key),
        counter: 0,
        transports: JSON.parse(stored.transports),
      },
      requireUserVerification: true,
    });
    if (!v.verified) throw PasskeyErrors.passkey_invalid();
    return v.authenticationInfo.newCounter;
  } catch {
    throw PasskeyErrors.passkey_invalid();
  }
}

/**
 * The clone check, as the condition of the UPDATE that records a use: the stored `sign_count` below the signed one
 * (or both zero: an authenticator that keeps no counter). A counter at or below the stored one — a copied key, or two
 * racing uses of the same count — matches nothing, and the caller refuses it.
 */
export function signCountMoves(n: number): ["sign_count", "=" | "<", number] {
  return ["sign_count", n === 0 ? "=" : "<", n];
}
