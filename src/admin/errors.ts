import { defineErrors } from "../shared/errors.ts";

export const AdminErrors = defineErrors({
  admin_unauthorized: { status: 401, message: "Missing or invalid admin session." },
  admin_exists: { status: 409, message: "An admin user with that name exists." },
  api_key_not_found: { status: 404, message: "No such API key." },
});
