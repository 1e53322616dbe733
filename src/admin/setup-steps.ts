/** What an operator tells a new staff member (printed by `admin create` and on first start). */
export const STAFF_SETUP_STEPS = [
  "First sign-in (POST /v1/admin/sign-in with the setup password) gives a setup session that can only:",
  "  1. set their own password:   POST /v1/admin/password {currentPassword, newPassword}",
  "  2. enrol an authenticator:   POST /v1/admin/totp/setup (secret + otpauth:// URI for the app),",
  "                               then POST /v1/admin/totp/confirm {code}",
  "After that every sign-in is two steps: password, then POST /v1/admin/sign-in/verify {challengeId, code}.",
].join("\n");
