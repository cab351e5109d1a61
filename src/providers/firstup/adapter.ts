import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import * as z from "zod";
import type { DirectoryEvent } from "../../events";
import { describeIssues } from "../shared/issues";
import type { AdapterResult, ProviderAdapter, ProviderDelivery } from "../types";

/**
 * Firstup user webhooks (`user.updated`, `user.deactivated`, `user.deleted`). They carry only the
 * user's id, so every one becomes a `user_refresh` that the consumer resolves against Firstup's
 * SCIM API (never on the request path). None erases or deactivates on its own word: the body is
 * unauthenticated in header mode, and even a signed `user.deleted` must be confirmed by SCIM.
 *
 * Payload (Firstup's user-sync guide): `{ event, timestamp, data: { user_id, changed_fields } }`;
 * some Firstup docs spell the id `userId`.
 */

const DELIVERY_HEADER = "x-socialchorus-delivery";
const PRINTABLE_ID = /^[\x21-\x7e]{1,256}$/;
const id = z.string().min(1).max(256);

const envelope = z.object({
  id: id.optional(),
  event_id: id.optional(),
  event: z.string().min(1).max(256).optional(),
  type: z.string().min(1).max(256).optional(),
  timestamp: z.iso.datetime({ offset: true }).optional(),
  data: z.object({
    user_id: id.optional(),
    userId: id.optional(),
    changed_fields: z.array(z.string().max(256)).max(1000).optional(),
  }),
});

const eventKinds: Record<string, "updated" | "deactivated" | "deleted"> = {
  "user.updated": "updated",
  "user.deactivated": "deactivated",
  "user.deleted": "deleted",
};

/**
 * The idempotency key: the body's event id, else the signed `webhook-id`, else Firstup's
 * `X-SocialChorus-Delivery` header, else a digest of the exact body (which includes the event's
 * timestamp, so a retry of the same event maps to the same key).
 */
function eventIdOf(body: z.infer<typeof envelope>, delivery: ProviderDelivery): string {
  const deliveryHeader = delivery.headers.get(DELIVERY_HEADER);
  return (
    body.id ??
    body.event_id ??
    delivery.webhookId ??
    (deliveryHeader && PRINTABLE_ID.test(deliveryHeader) ? deliveryHeader : null) ??
    `sha256:${bytesToHex(sha256(delivery.rawBody))}`
  );
}

export const firstup: ProviderAdapter = {
  name: "firstup",
  authentication: { standardWebhooksSecret: "FIRSTUP_WEBHOOK_SECRET", authorizationHeader: "FIRSTUP_WEBHOOK_AUTHORIZATION" },
  parse(delivery: ProviderDelivery): AdapterResult {
    const parsed = envelope.safeParse(delivery.body);
    if (!parsed.success) return { outcome: "invalid", issues: describeIssues(parsed.error) };
    const body = parsed.data;
    const sourceType = body.event ?? body.type;
    if (!sourceType) return { outcome: "invalid", issues: ["event: missing"] };
    const eventId = eventIdOf(body, delivery);

    const reason = Object.hasOwn(eventKinds, sourceType) ? eventKinds[sourceType] : undefined;
    if (!reason) return { outcome: "ignored", eventId, sourceType, reason: "unsupported_event_type" };
    const externalId = body.data.user_id ?? body.data.userId;
    if (!externalId) return { outcome: "invalid", issues: ["data.user_id: missing"] };

    const event: DirectoryEvent = {
      provider: "firstup",
      eventId,
      occurredAt: body.timestamp ? Date.parse(body.timestamp) : (delivery.signedAtMs ?? delivery.receivedAtMs),
      sourceType,
      kind: "user_refresh",
      externalId,
      reason,
      // A signed webhook-id exists only when Standard Webhooks verified the delivery.
      signed: delivery.webhookId !== null,
    };
    return { outcome: "event", event };
  },
};
