import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * Every error response is `{ "error": "<stable_code>", "message": "…" }`. Codes are documented
 * in README.md ("Responses") and safe to grep for in logs; messages never carry secrets or input.
 */
export type ErrorCode =
  | "not_found"
  | "insufficient_scope"
  | "method_not_allowed"
  | "provider_not_found"
  | "payload_too_large"
  | "missing_signature_headers"
  | "invalid_timestamp"
  | "timestamp_outside_tolerance"
  | "invalid_signature"
  | "missing_authorization"
  | "invalid_authorization"
  | "invalid_webhook_id"
  | "invalid_json"
  | "invalid_query"
  | "invalid_body"
  | "cursor_expired"
  | "notifications_off"
  | "queue_unavailable"
  | "quarantine_unavailable"
  | "provider_misconfigured"
  | "service_misconfigured"
  | "not_replayable"
  | "not_held"
  | "connection_disabled"
  | "undecodable"
  | "still_invalid"
  | "internal_error";

const messages: Record<ErrorCode, string> = {
  not_found: "No such route.",
  cursor_expired: "Changes after this cursor are no longer kept. Resync: read the full listing (/v1/users, /v1/groups), then follow the feed from `latest_seq`.",
  insufficient_scope: "This token may only read the directory; this route needs an admin token.",
  method_not_allowed: "This route only accepts POST.",
  provider_not_found: "No webhook provider is configured under this name.",
  payload_too_large: "The request body is larger than this endpoint accepts.",
  missing_signature_headers: "webhook-id, webhook-timestamp and webhook-signature are all required.",
  invalid_timestamp: "webhook-timestamp must be integer Unix seconds.",
  timestamp_outside_tolerance: "webhook-timestamp is too far from the current time.",
  invalid_signature: "No signature matched a configured key.",
  missing_authorization: "This provider authenticates with an Authorization header, and none was sent.",
  invalid_authorization: "The Authorization header does not match the configured value.",
  invalid_webhook_id: "webhook-id must be 1-256 printable ASCII characters.",
  invalid_json: "The body is not UTF-8 JSON.",
  invalid_query: "A query parameter is missing or invalid.",
  invalid_body: "The JSON body is missing or invalid.",
  notifications_off: "Change notifications are off: APP_WEBHOOK_URL is not set.",
  queue_unavailable: "The event could not be queued. Retry later; nothing was recorded.",
  quarantine_unavailable: "The delivery could not be processed, nor stored for an operator. Retry later; nothing was recorded.",
  provider_misconfigured: "This provider's verification keys are invalid. Retry later.",
  service_misconfigured: "The service configuration is invalid. Retry later.",
  not_held: "Only held events can be released.",
  connection_disabled: "This SCIM connection is disabled. Create a new one.",
  not_replayable: "Only failed or dead-lettered events with a stored message, and quarantined or rejected deliveries, can be replayed.",
  undecodable: "The stored message is not a message this version can process.",
  still_invalid: "The stored delivery still does not parse with the adapter deployed now. `issues` lists the failing paths.",
  internal_error: "Unexpected error.",
};

/** Generic in status, code and extras so typed routes (openapi-*.ts) check them against their declared responses. */
export function errorResponse<S extends ContentfulStatusCode, C extends ErrorCode, X extends Record<string, unknown> = {}>(
  c: Context,
  status: S,
  code: C,
  extra: X = {} as X,
  headers: Record<string, string> = {},
) {
  return c.json({ error: code, message: messages[code], ...extra }, status, headers);
}
