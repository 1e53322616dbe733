import { createHash, createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { isoCBOR } from "@simplewebauthn/server/helpers";

/**
 * A software WebAuthn authenticator (ES256, attestation "none", resident keys, user verification): what a phone or a
 * laptop's platform authenticator does, in code, so tests can register and sign in with real signed responses. It
 * signs whatever it is given, including a wrong origin or RP ID, which is how the tests play the phishing page.
 * Used by scripts/passkey-fixtures.ts (the recorded fixtures) and the attack tests.
 */
export interface SoftCredential {
  id: string;
  userHandle: string;
  rpId: string;
  counter: number;
  /** PKCS#8 PEM, so a recorded fixture can carry the key */
  privateKeyPem: string;
}

const b64u = (b: Buffer | Uint8Array) => Buffer.from(b).toString("base64url");
const sha256 = (b: Buffer | string) => createHash("sha256").update(b).digest();

function coseKey(key: KeyObject): Uint8Array {
  const jwk = key.export({ format: "jwk" });
  const m = new Map<number, number | Uint8Array>([
    [1, 2], // kty: EC2
    [3, -7], // alg: ES256
    [-1, 1], // crv: P-256
    [-2, Buffer.from(jwk.x!, "base64url")],
    [-3, Buffer.from(jwk.y!, "base64url")],
  ]);
  return isoCBOR.encode(m as never);
}

function authData(rpId: string, counter: number, uv: boolean, attested?: { credId: Buffer; cose: Uint8Array }) {
  // UP, UV when verified, BE+BS (a synced passkey), AT when a credential is attached
  const flags = 0x01 | (uv ? 0x04 : 0) | 0x08 | 0x10 | (attested ? 0x40 : 0);
  const count = Buffer.alloc(4);
  count.writeUInt32BE(counter);
  const parts: Buffer[] = [sha256(rpId), Buffer.from([flags]), count];
  if (attested) {
    const len = Buffer.alloc(2);
    len.writeUInt16BE(attested.credId.length);
    parts.push(Buffer.alloc(16), len, attested.credId, Buffer.from(attested.cose));
  }
  return Buffer.concat(parts);
}

function clientData(type: string, challenge: string, origin: string): Buffer {
  return Buffer.from(JSON.stringify({ type, challenge, origin, crossOrigin: false }));
}

/** Creates a credential for `options` (the RP's registration options) as seen from `origin`. */
export function softRegister(
  options: { challenge: string; rp: { id?: string }; user: { id: string } },
  origin: string,
  opts: { rpId?: string; counter?: number; uv?: boolean } = {},
): { credential: SoftCredential; response: Record<string, unknown> } {
  const rpId = opts.rpId ?? options.rp.id ?? new URL(origin).hostname;
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const credId = randomBytes(16);
  const counter = opts.counter ?? 0;
  const data = authData(rpId, counter, opts.uv ?? true, { credId, cose: coseKey(publicKey) });
  const attestationObject = isoCBOR.encode(
    new Map<string, unknown>([
      ["fmt", "none"],
      ["attStmt", new Map()],
      ["authData", data],
    ]) as never,
  );
  const credential: SoftCredential = {
    id: b64u(credId),
    userHandle: options.user.id,
    rpId,
    counter,
    privateKeyPem: privateKey.export({ format: "pem", type: "pkcs8" }).toString(),
  };
  return {
    credential,
    response: {
      id: credential.id,
      rawId: credential.id,
      type: "public-key",
      response: {
        clientDataJSON: b64u(clientData("webauthn.create", options.challenge, origin)),
        attestationObject: b64u(attestationObject),
        transports: ["internal"],
      },
      clientExtensionResults: {},
      authenticatorAttachment: "platform",
    },
  };
}

/** Signs an assertion for `challenge`; the counter advances by one unless `counter` is given (a clone's). */
export function softAssert(
  credential: SoftCredential,
  challenge: string,
  origin: string,
  opts: { rpId?: string; counter?: number; uv?: boolean } = {},
): Record<string, unknown> {
  const counter = opts.counter ?? credential.counter + 1;
  if (opts.counter === undefined) credential.counter = counter;
  const data = authData(opts.rpId ?? credential.rpId, counter, opts.uv ?? true);
  const cd = clientData("webauthn.get", challenge, origin);
  const signature = sign("sha256", Buffer.concat([data, sha256(cd)]), createPrivateKey(credential.privateKeyPem));
  return {
    id: credential.id,
    rawId: credential.id,
    type: "public-key",
    response: {
      clientDataJSON: b64u(cd),
      authenticatorData: b64u(data),
      signature: b64u(signature),
      userHandle: credential.userHandle,
    },
    clientExtensionResults: {},
    authenticatorAttachment: "platform",
  };
}
