import { Hono } from "hono";
import { getEvent } from "../consumer/operator-reads";
import { releaseHeldMessage } from "../consumer/replay";
import { log } from "../log";
import type { AppEnv } from "./app-env";
import { errorResponse } from "./errors";

/**
 * POST /admin/events/:provider/:eventId/release: an operator vouches for a held event (a
 * destructive outcome on weak evidence, or past the destructive guard). Mounted inside the admin
 * router, behind its admin-only auth. List held events with GET /admin/events?status=held.
 */
export function heldEventRoutes() {
  const app = new Hono<AppEnv>();
  app.post("/events/:provider/:eventId/release", async (c) => {
    const row = await getEvent(c.env.DB, c.req.param("provider"), c.req.param("eventId"));
    if (!row) return errorResponse(c, 404, "not_found");
    if (row.status !== "held") return errorResponse(c, 409, "not_held", { status: row.status });
    const result = await releaseHeldMessage(c.env.EVENTS_QUEUE, row.message);
    if (!result.ok) return errorResponse(c, result.reason === "undecodable" ? 422 : 409, result.reason);
    log("event.released", { provider: row.provider, eventId: row.eventId, reason: row.reason });
    return c.json({ released: true, provider: row.provider, event_id: row.eventId }, 202);
  });
  return app;
}
