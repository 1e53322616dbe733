import { defineErrors } from "../shared/errors.ts";

export const WebhookErrors = defineErrors({
  webhook_message_not_found: { status: 404, message: "No webhook message with this id." },
  webhook_endpoint_not_found: { status: 404, message: "No webhook endpoint with this id." },
});
