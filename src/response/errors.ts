import { defineErrors } from "../shared/errors.ts";

export const ResponseErrors = defineErrors({
  case_not_found: { status: 404, message: "No such case." },
  case_closed: { status: 409, message: "The case is closed." },
  window_invalid: { status: 400, message: "The window start must be in the past." },
  recovery_invalid: { status: 400, message: "The recovery is invalid, expired or was completed." },
  recovery_step_missing: { status: 409, message: "Finish the earlier recovery steps first." },
});
