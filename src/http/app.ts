import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../config";
import { log } from "../log";
import type { ProviderAdapter } from "../providers/types";
import type { AppEnv } from "./app-env";
import { errorResponse } from "./errors";
import { webhookRoutes } from "./webhooks";
import { adminRoutes } from "./admin";
import { consoleRoutes } from "./console";
import { scimRoutes } from "./scim";
import { scimConnectionRoutes } from "./scim-connections";
import { v1Routes } from "./v1";
import { healthRoutes } from "./health";
import { openApiRoutes } from "./openapi";

export interface AppOptions {
  now?: () => number;
  /** Webhook adapters by path segment (ingress and the replay of quarantined deliveries); defaults to the registry. */
  providers?: ReadonlyMap<string, ProviderAdapter>;
}

/** The HTTP surface. Routers are mounted here; each lives in its own file under src/http. */
export function createApp(options: AppOptions = {}) {
  const now = options.now ?? Date.now;
  const app = new Hono<AppEnv>();
  app.use(async (c, next) => {
    c.set("now", now);
    await next();
  });
  app.route("/healthz", healthRoutes());
  app.route("/webhooks", webhookRoutes({ providers: options.providers }));
  // Before the JSON admin API: the console's HTML paths (/admin, /admin/sign-in, /admin/console/…)
  // answer here, with a session cookie; every other /admin path reaches the API's bearer auth.
  app.route("/admin", consoleRoutes());
  app.route("/admin", adminRoutes({ providers: options.providers }));
  // Before /scim/v2: a connection's routes authenticate with its own token, not read or admin tokens.
  app.route("/scim/v2/connections", scimConnectionRoutes());
  app.route("/scim/v2", scimRoutes());
  app.route("/v1", v1Routes());
  app.route("/openapi.json", openApiRoutes());
  app.notFound((c) => errorResponse(c, 404, "not_found"));
  app.onError((error, c) => {
    // Middleware such as bearerAuth answer by throwing their response.
    if (error instanceof HTTPException) return error.getResponse();
    if (error instanceof ConfigError) {
      log("config.invalid", { error: error.message });
      return errorResponse(c, 503, "service_misconfigured", {}, { "Retry-After": "60" });
    }
    log("http.unhandled_error", { path: c.req.path, error: String(error) });
    return errorResponse(c, 500, "internal_error");
  });
  return app;
}
