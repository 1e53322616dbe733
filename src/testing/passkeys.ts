import type { RequestContext } from "../shared/context.ts";
import type { TestApp } from "./app.ts";
import { type SoftCredential, softAssert, softRegister } from "./soft-authenticator.ts";

/** The test app's pages' origin (makeTestApp's public URL): the passkeys' default RP id and origin. */
export const TEST_ORIGIN = "http://mamori.test";

/** Registers a passkey through the API with the software authenticator; answers the credential and the HTTP answer. */
export async function addPasskey(t: TestApp, session: string, opts: { name?: string; origin?: string } = {}) {
  const start = await t.call("POST", "/v1/passkeys/registration", {}, { session });
  if (start.statusCode !== 200) return { credential: null, res: start };
  const { credential, response } = softRegister(start.json(), opts.origin ?? TEST_ORIGIN);
  const res = await t.call(
    "POST",
    "/v1/passkeys",
    { response, ...(opts.name ? { name: opts.name } : {}) },
    { session },
  );
  return { credential: res.statusCode === 201 ? credential : null, res };
}

/** Usernameless sign-in: options, the authenticator's answer, the finish. */
export async function passkeySignIn(
  t: TestApp,
  credential: SoftCredential,
  context: RequestContext,
  opts: { origin?: string } = {},
) {
  const o = await t.call("POST", "/v1/sign-in/passkey/options", {});
  const response = softAssert(credential, o.json().challenge, opts.origin ?? TEST_ORIGIN);
  const res = await t.call("POST", "/v1/sign-in/passkey", { response, context });
  return { response, res };
}
