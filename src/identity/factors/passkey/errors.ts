import { defineErrors } from "../../../shared/errors.ts";

/** Stable codes of the passkey factor (issue 17 item 3). */
export const PasskeyErrors = defineErrors({
  passkey_challenge_invalid: {
    status: 400,
    message: "The passkey challenge is unknown, expired or was already used; start again.",
  },
  passkey_invalid: {
    status: 401,
    message: "The passkey could not be verified (unknown credential, wrong site, or a bad signature).",
  },
  passkey_clone_suspected: {
    status: 401,
    message: "The passkey's signature counter went backwards: it may have been copied. It was refused.",
  },
  passkey_signin_denied: { status: 403, message: "The sign-in was refused by the store's risk policy." },
  passkey_not_found: { status: 404, message: "No such passkey on this account." },
  passkey_already_registered: { status: 409, message: "This passkey is already registered." },
  passkey_limit: { status: 409, message: "An account may have at most 20 passkeys." },
});
