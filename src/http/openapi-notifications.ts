import * as z from "zod";
import { deliveryStatuses } from "../notify/deliveries";
import { ADMIN_SECURITY, adminAuthResponses, defineRoute, errorBody, errorResponses, jsonResponse, pageLimit, timestamp } from "./openapi-common";

/**
 * The /admin/notifications contract: outbound change notifications to the app (src/notify).
 * README, "Push: signed webhooks to your app".
 */

const deliveryStatus = z.enum(deliveryStatuses);

export const NotificationsOverview = z
  .object({
    configured: z.boolean().meta({ description: "APP_WEBHOOK_URL is set." }),
    endpoint: z.string().nullable().meta({ description: "APP_WEBHOOK_URL's origin (never its path or query)." }),
    scheme: z.enum(["v1", "v1a"]).nullable().meta({ description: "v1: HMAC (whsec_ secret); v1a: Ed25519 (whsk_ key)." }),
    public_key: z.string().nullable().meta({ description: "v1a: the whpk_ public key the app verifies with." }),
    disabled: z
      .object({ since: z.iso.datetime(), note: z.string().nullable() })
      .nullable()
      .meta({ description: "Set when the endpoint answered 410; nothing is sent until POST /admin/notifications/enable." }),
    relayed_through: z.number().int().meta({ description: "The highest change seq with a delivery." }),
    latest_seq: z.number().int().meta({ description: "The newest change's seq." }),
    deliveries: z.object({ pending: z.number().int(), delivered: z.number().int(), rejected: z.number().int(), failed: z.number().int() }),
  })
  .meta({ id: "NotificationsOverview" });

export const NotificationDelivery = z
  .object({
    seq: z.number().int(),
    webhook_id: z.string().meta({ description: "`chg_<seq>`: the webhook-id of every try." }),
    type: z.string().nullable().meta({ description: "null once the change left the feed's retention window." }),
    provider: z.string().nullable(),
    subject: z.string().nullable(),
    status: deliveryStatus,
    attempts: z.number().int().meta({ description: "HTTP tries so far." }),
    last_status: z.number().int().nullable().meta({ description: "The app's last HTTP status, if it answered." }),
    last_error: z
      .string()
      .nullable()
      .meta({ description: "http_error, timeout, network_error, rejected, redirected, endpoint_gone, dead_lettered or change_pruned." }),
    updated_at: z.iso.datetime(),
    delivered_at: timestamp,
  })
  .meta({ id: "NotificationDelivery" });

const offResponse = jsonResponse(errorBody(["notifications_off"]), "APP_WEBHOOK_URL is not set.");

export const getNotifications = defineRoute({
  method: "get",
  path: "/notifications",
  summary: "Outbound notifications: endpoint, signing scheme, switch and delivery counts",
  security: ADMIN_SECURITY,
  responses: { ...adminAuthResponses, 200: jsonResponse(NotificationsOverview, "The state."), 503: errorResponses.misconfigured },
});

export const listNotificationDeliveries = defineRoute({
  method: "get",
  path: "/notifications/deliveries",
  summary: "Deliveries in seq order",
  security: ADMIN_SECURITY,
  request: {
    query: z.object({
      status: deliveryStatus.optional(),
      after: z.coerce.number().int().min(0).default(0).meta({ description: "Only seqs after this one (`next_after` of the previous page)." }),
      limit: pageLimit(200, 50),
    }),
  },
  responses: {
    ...adminAuthResponses,
    200: jsonResponse(
      z.object({
        deliveries: z.array(NotificationDelivery),
        next_after: z.number().int().nullable().meta({ description: "Pass back as `after` for the next page; null on the last page." }),
      }),
      "A page of deliveries.",
    ),
    400: errorResponses.invalidQuery,
  },
});

export const replayNotification = defineRoute({
  method: "post",
  path: "/notifications/deliveries/{seq}/replay",
  summary: "Send one change again",
  description: "Back to pending with no tries counted, and queued. It still waits for older pending changes of its subject.",
  security: ADMIN_SECURITY,
  request: { params: z.object({ seq: z.coerce.number().int().positive() }) },
  responses: {
    ...adminAuthResponses,
    202: jsonResponse(z.object({ replayed: z.literal(true), seq: z.number().int() }), "Queued."),
    400: errorResponses.invalidQuery,
    409: offResponse,
  },
});

export const replayNotificationsFrom = defineRoute({
  method: "post",
  path: "/notifications/replay",
  summary: "Send every change from a seq again, a batch per call",
  description: "Puts up to 100 changes from `from_seq` back to pending and queues them; call again with `next_from_seq` until it is null.",
  security: ADMIN_SECURITY,
  request: {
    body: { required: true, content: { "application/json": { schema: z.strictObject({ from_seq: z.number().int().min(1) }) } } },
  },
  responses: {
    ...adminAuthResponses,
    202: jsonResponse(
      z.object({
        replayed: z.number().int(),
        next_from_seq: z.number().int().nullable().meta({ description: "Where to continue; null when no changes are left." }),
      }),
      "Queued.",
    ),
    400: errorResponses.invalidBody,
    409: offResponse,
  },
});

export const enableNotifications = defineRoute({
  method: "post",
  path: "/notifications/enable",
  summary: "Switch the endpoint back on after a 410",
  description: "Clears the switch, sends each subject's oldest pending change, and lets the relay resume.",
  security: ADMIN_SECURITY,
  responses: {
    ...adminAuthResponses,
    200: jsonResponse(
      z.object({
        enabled: z.literal(true),
        was_disabled: z.boolean(),
        requeued: z.number().int().meta({ description: "Pending changes sent again (each subject's oldest)." }),
        relayed: z.number().int().meta({ description: "Changes committed while it was off, now queued." }),
      }),
      "On.",
    ),
  },
});
