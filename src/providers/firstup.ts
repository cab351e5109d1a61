import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import * as z from "zod";
import type { DirectoryEvent } from "../events";
import { describeIssues } from "./issues";
import type { AdapterResult, ProviderAdapter, ProviderDelivery } from "./types";

/**
 * Firstup user webhooks (`user.updated`, `user.deactivated`, `user.deleted`). They carry only the
 * user's id, so updates become `user_refresh` events that the consumer resolves against Firstup's
 * SCIM API (never on the request path); deletions become `user_forgotten`.
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

type Kind = "refresh_updated" | "refresh_deactivated" | "forget";
const eventKinds: Record<string, Kind> = {
  "user.updated": "refresh_updated",
  "user.deactivated": "refresh_deactivated",
  "user.deleted": "forget",
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

    const kind = Object.hasOwn(eventKinds, sourceType) ? eventKinds[sourceType] : undefined;
    if (!kind) return { outcome: "ignored", eventId, sourceType, reason: "unsupported_event_type" };
    const externalId = body.data.user_id ?? body.data.userId;
    if (!externalId) return { outcome: "invalid", issues: ["data.user_id: missing"] };

    const common = {
      provider: "firstup",
      eventId,
      occurredAt: body.timestamp ? Date.parse(body.timestamp) : (delivery.signedAtMs ?? delivery.receivedAtMs),
      sourceType,
    };
    const event: DirectoryEvent =
      kind === "forget"
        ? { ...common, kind: "user_forgotten", externalId }
        : { ...common, kind: "user_refresh", externalId, reason: kind === "refresh_updated" ? "updated" : "deactivated" };
    return { outcome: "event", event };
  },
};
