import { notifyConfig } from "../config";
import { log } from "../log";
import { listDeliveries, type DeliveryListRow } from "../notify/deliveries";
import { enableNotifications, notificationsOverview, replayChange, replayFrom } from "../notify/operator";
import { webhookIdOf } from "../notify/post";
import { InvalidSigningSecretError } from "../notify/sign";
import type { AppEnv } from "./app-env";
import { errorResponse } from "./errors";
import { isoTime, TypedRouter } from "./openapi-common";
import * as routes from "./openapi-notifications";

/**
 * Outbound change notifications, for operators (mounted inside the admin router, admin tokens only):
 * - GET  /admin/notifications                         endpoint, scheme (and v1a public key), switch, counts
 * - GET  /admin/notifications/deliveries              deliveries by seq (?status, after, limit)
 * - POST /admin/notifications/deliveries/:seq/replay  one change again
 * - POST /admin/notifications/replay {"from_seq": N}  every change from N again, 100 per call
 * - POST /admin/notifications/enable                  back on after a 410
 */
export function notificationRoutes() {
  const app = new TypedRouter<AppEnv>();
  const deps = (c: { env: Env; get: (key: "now") => () => number }) => ({ d1: c.env.DB, queue: c.env.NOTIFY_QUEUE, now: c.get("now") });

  app.openapi(routes.getNotifications, async (c) => {
    let overview;
    try {
      overview = await notificationsOverview(c.env.DB, notifyConfig(c.env));
    } catch (error) {
      if (!(error instanceof InvalidSigningSecretError)) throw error;
      log("notify.misconfigured", { error: error.message });
      return errorResponse(c, 503, "service_misconfigured", {}, { "Retry-After": "60" });
    }
    return c.json(
      {
        configured: overview.configured,
        endpoint: overview.endpoint,
        scheme: overview.scheme,
        public_key: overview.publicKey,
        disabled: overview.disabled ? { since: isoTime(overview.disabled.at), note: overview.disabled.note } : null,
        relayed_through: overview.relayedThrough,
        latest_seq: overview.latestSeq,
        deliveries: overview.deliveries,
      },
      200,
    );
  });

  app.openapi(routes.listNotificationDeliveries, async (c) => {
    const query = c.req.valid("query");
    const rows = await listDeliveries(c.env.DB, { status: query.status, after: query.after, limit: query.limit + 1 });
    const page = rows.slice(0, query.limit);
    return c.json({ deliveries: page.map(deliveryJson), next_after: rows.length > query.limit ? (page.at(-1)?.seq ?? null) : null }, 200);
  });

  app.openapi(routes.replayNotification, async (c) => {
    if (!notifyConfig(c.env).url) return errorResponse(c, 409, "notifications_off");
    const seq = c.req.valid("param").seq;
    if (!(await replayChange(deps(c), seq))) return errorResponse(c, 404, "not_found");
    log("notify.replayed", { seq });
    return c.json({ replayed: true as const, seq }, 202);
  });

  app.openapi(routes.replayNotificationsFrom, async (c) => {
    if (!notifyConfig(c.env).url) return errorResponse(c, 409, "notifications_off");
    const fromSeq = c.req.valid("json").from_seq;
    const result = await replayFrom(deps(c), fromSeq);
    log("notify.replayed_from", { fromSeq, replayed: result.replayed });
    return c.json({ replayed: result.replayed, next_from_seq: result.nextFromSeq }, 202);
  });

  app.openapi(routes.enableNotifications, async (c) => {
    const result = await enableNotifications({ ...deps(c), webhookUrl: notifyConfig(c.env).url });
    log("notify.enabled", { wasDisabled: result.wasDisabled, requeued: result.requeued, relayed: result.relayed });
    return c.json({ enabled: true as const, was_disabled: result.wasDisabled, requeued: result.requeued, relayed: result.relayed }, 200);
  });
  return app;
}

function deliveryJson(row: DeliveryListRow) {
  return {
    seq: row.seq,
    webhook_id: webhookIdOf(row.seq),
    type: row.type,
    provider: row.provider,
    subject: row.subject,
    status: row.status,
    attempts: row.attempts,
    last_status: row.lastStatus,
    last_error: row.lastError,
    updated_at: isoTime(row.updatedAt),
    delivered_at: isoTime(row.deliveredAt),
  };
}
