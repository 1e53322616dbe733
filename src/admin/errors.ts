import { IdentityErrors } from "../identity/errors.ts";
import { defineErrors } from "../shared/errors.ts";

export const AdminErrors = defineErrors({
  admin_unauthorized: { status: 401, message: "Missing or invalid admin session." },
  admin_exists: { status: 409, message: "An admin user with that name exists." },
  admin_not_found: { status: 404, message: "No admin user with that name." },
  admin_username_invalid: {
    status: 400,
    message: "A username is 1 to 100 letters, digits, dots, dashes, underscores or @.",
  },
  api_key_not_found: { status: 404, message: "No such API key." },
  invalid_code: { status: 401, message: "The code is wrong or was already used." },
  staff_challenge_invalid: {
    status: 401,
    message: "The sign-in step is unknown, expired, finished or out of attempts; sign in again.",
  },
  staff_password_change_required: {
    status: 403,
    message: "Change the password chosen for you first (POST /v1/admin/password).",
  },
  staff_second_factor_required: {
    status: 403,
    message: "Enrol an authenticator first (POST /v1/admin/totp/setup, then /v1/admin/totp/confirm).",
  },
  staff_code_required: { status: 400, message: "Send the code from your authenticator with the change." },
  staff_password_unchanged: { status: 422, message: "The new password is the current one." },
  staff_totp_enrolled: {
    status: 409,
    message: "An authenticator is enrolled; an operator resets it (mamori admin reset-totp).",
  },
  staff_totp_not_started: { status: 409, message: "Start with POST /v1/admin/totp/setup." },
  reason_required: { status: 400, message: "Say why (at least 3 characters)." },
  staff_role_required: { status: 403, message: "Only a lead may do this (an agent views, notes and locks down)." },
  staff_role_invalid: { status: 400, message: "A role is agent or lead." },
});

/** Codes shared with the identity module (one code, one meaning), with the staff wording. */
export const StaffSharedErrors = {
  invalid_credentials: () => IdentityErrors.invalid_credentials(undefined, "Username or password is wrong."),
  account_not_found: () => IdentityErrors.account_not_found(),
};
