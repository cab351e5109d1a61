import { Hono } from "hono";
import type { AppEnv } from "./app-env";

/**
 * GET /healthz (no auth): whether D1, KV and the Queue binding answer. Says "ok" or "error" per
 * dependency and nothing more: no error text, no configuration, no data.
 */
export function healthRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const check = async (probe: () => Promise<unknown>) => {
      try {
        await probe();
        return "ok" as const;
      } catch {
        return "error" as const;
      }
    };
    const [d1, kv, queue] = await Promise.all([
      check(() => c.env.DB.prepare("SELECT 1").first()),
      check(() => c.env.SEEN_EVENTS.get("healthz")),
      // metrics() reads the queue's backlog without enqueuing anything.
      check(async () => {
        if (typeof c.env.EVENTS_QUEUE?.send !== "function") throw new Error("no queue binding");
        if (typeof c.env.EVENTS_QUEUE.metrics === "function") await c.env.EVENTS_QUEUE.metrics();
      }),
    ]);
    const ok = d1 === "ok" && kv === "ok" && queue === "ok";
    return c.json({ status: ok ? "ok" : "degraded", checks: { d1, kv, queue } }, ok ? 200 : 503, { "cache-control": "no-store" });
  });
  return app;
}
