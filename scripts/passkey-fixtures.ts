/**
 * Records the passkey fixtures (src/identity/factors/passkey/fixtures.json) once, with the software authenticator
 * (src/testing/soft-authenticator.ts): real ES256 attestation and assertion responses for the relying party
 * shop.example at https://shop.example, and the same ceremonies from a phishing origin and for a wrong RP id.
 * The unit tests verify them with @simplewebauthn/server; re-running this script replaces them (new keys).
 *
 *   node --import tsx scripts/passkey-fixtures.ts
 */
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { softAssert, softRegister } from "../src/testing/soft-authenticator.ts";

const rpId = "shop.example";
const origin = "https://shop.example";
const challenge = () => randomBytes(32).toString("base64url");
const userHandle = randomBytes(16).toString("base64url");
const options = (c: string) => ({ challenge: c, rp: { id: rpId }, user: { id: userHandle } });

const reg = { challenge: challenge() };
const registered = softRegister(options(reg.challenge), origin);
const phishReg = { challenge: challenge() };
const wrongRpReg = { challenge: challenge() };
const cred = registered.credential;

const sign = (opts: { origin?: string; rpId?: string; counter?: number } = {}) => {
  const c = challenge();
  return {
    challenge: c,
    response: softAssert(cred, c, opts.origin ?? origin, {
      ...(opts.rpId ? { rpId: opts.rpId } : {}),
      ...(opts.counter !== undefined ? { counter: opts.counter } : {}),
    }),
  };
};

const fixtures = {
  rpId,
  origin,
  userHandle,
  registration: { challenge: reg.challenge, response: registered.response },
  registrationFromPhishingOrigin: {
    challenge: phishReg.challenge,
    response: softRegister(options(phishReg.challenge), "https://shop-example.login.test", { rpId }).response,
  },
  registrationForWrongRpId: {
    challenge: wrongRpReg.challenge,
    response: softRegister({ ...options(wrongRpReg.challenge), rp: { id: "evil.example" } }, origin).response,
  },
  // The counter advances 1, 2; then a clone answers with 1 again.
  assertion1: sign(),
  assertion2: sign(),
  assertionRegressed: sign({ counter: 1 }),
  assertionFromPhishingOrigin: sign({ origin: "https://shop-example.login.test", counter: 7 }),
  assertionForWrongRpId: sign({ rpId: "evil.example", counter: 8 }),
};

writeFileSync(
  new URL("../src/identity/factors/passkey/fixtures.json", import.meta.url),
  `${JSON.stringify(fixtures, null, 2)}\n`,
);
console.log("wrote src/identity/factors/passkey/fixtures.json");
