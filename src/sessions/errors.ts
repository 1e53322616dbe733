import { defineErrors } from "../shared/errors.ts";

export const SessionErrors = defineErrors({
  session_invalid: { status: 401, message: "The session has ended or does not exist." },
  session_not_found: { status: 404, message: "No such session on this account." },
  reauthentication_required: { status: 403, message: "Sign in again (password) to make this change." },
  second_factor_required: { status: 403, message: "Confirm with your second factor to make this change." },
});
