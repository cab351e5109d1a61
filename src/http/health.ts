import { Hono } from "hono";
import { bindingChecks, invalidSettings } from "../operator/health";
import type { AppEnv } from "./app-env";

/**
 * GET /healthz (no auth): whether D1, KV and the Queue bindings answer, and whether every setting
 * is valid (the checks live in src/operator/health.ts, shared with the console's overview). Says "ok" or "error" per dependency and names each invalid setting with a problem code:
 * no error text, no values (settings include secrets), no data. Any failure: 503 "degraded".
 */
export function healthRoutes() {
  const app = new Hono<AppEnv>();
  app.get("/", async (c) => {
    const { d1, kv, queue, notify_queue: notifyQueue } = await bindingChecks(c.env);
    const invalid = invalidSettings(c.env);
    const ok = d1 === "ok" && kv === "ok" && queue === "ok" && notifyQueue === "ok" && invalid.length === 0;
    return c.json(
      { status: ok ? "ok" : "degraded", checks: { d1, kv, queue, notify_queue: notifyQueue }, config: invalid.length ? "invalid" : "ok", invalid_settings: invalid },
      ok ? 200 : 503,
      { "cache-control": "no-store" },
    );
  });
  return app;
}
