import { getEvent } from "../consumer/operator-reads";
import { releaseHeldMessage } from "../consumer/replay";
import { log } from "../log";
import type { AppEnv } from "./app-env";
import { errorResponse } from "./errors";
import { releaseEvent } from "./openapi-admin";
import { TypedRouter } from "./openapi-common";

/**
 * POST /admin/events/:provider/:eventId/release: an operator vouches for a held event (a
 * destructive outcome on weak evidence, or past the destructive guard). Mounted inside the admin
 * router, behind its admin-only auth. List held events with GET /admin/events?status=held.
 */
export function heldEventRoutes() {
  const app = new TypedRouter<AppEnv>();
  app.openapi(releaseEvent, async (c) => {
    const key = c.req.valid("param");
    const row = await getEvent(c.env.DB, key.provider, key.eventId);
    if (!row) return errorResponse(c, 404, "not_found");
    if (row.status !== "held") return errorResponse(c, 409, "not_held", { status: row.status });
    const result = await releaseHeldMessage(c.env.EVENTS_QUEUE, row.message);
    if (!result.ok) return result.reason === "undecodable" ? errorResponse(c, 422, result.reason) : errorResponse(c, 409, result.reason);
    log("event.released", { provider: row.provider, eventId: row.eventId, reason: row.reason });
    return c.json({ released: true as const, provider: row.provider, event_id: row.eventId }, 202);
  });
  return app;
}
