import { defineErrors } from "../shared/errors.ts";

export const RiskErrors = defineErrors({
  policy_invalid: { status: 400, message: "The policy set is invalid; see details.problems." },
  policy_not_found: { status: 404, message: "No policy set with that version." },
  policy_state_invalid: { status: 409, message: "The policy set cannot move to that state." },
  risk_event_invalid: { status: 400, message: "The risk event is invalid." },
  country_invalid: { status: 400, message: "Countries are ISO 3166-1 alpha-2 codes, like JP." },
});
