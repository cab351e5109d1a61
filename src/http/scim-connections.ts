import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../config";
import { log } from "../log";
import { connectionBaseUrl } from "../scim/connections";
import { CONNECTION_TOKEN_AUTHENTICATION, serviceProviderConfig } from "../scim/discovery";
import { connectionAuth, type ConnectionEnv } from "./connection-auth";
import { scimError } from "./scim";

/**
 * The SCIM service provider of each connection, at /scim/v2/connections/:connectionId (the base
 * URL an identity provider is given), behind the connection's own token (connection-auth.ts).
 * Every request is authenticated before anything else, an unknown path included, so nothing
 * answers differently for a connection that does not exist. Mounted before /scim/v2 (app.ts).
 */
export function scimConnectionRoutes() {
  const app = new Hono<ConnectionEnv>();
  app.use("/:connectionId/*", connectionAuth());

  app.get("/:connectionId/ServiceProviderConfig", (c) =>
    scimJson(c, serviceProviderConfig(connectionBaseUrl(new URL(c.req.url).origin, c.get("scimConnection").id), CONNECTION_TOKEN_AUTHENTICATION)),
  );

  // A mounted router's notFound is not used by hono; an explicit catch-all keeps 404s in SCIM form.
  app.all("*", (c) => scimError(c, 404, "No such endpoint."));
  app.onError((error, c) => {
    // bearerAuth answers by throwing its response; configuration errors are the app's 503.
    if (error instanceof HTTPException || error instanceof ConfigError) throw error;
    log("scim_connection.unhandled_error", { path: c.req.path, error: String(error) });
    return scimError(c, 500, "Unexpected error.");
  });
  return app;
}

function scimJson(c: Context<ConnectionEnv>, body: unknown) {
  return c.body(JSON.stringify(body), 200, { "content-type": "application/scim+json" });
}
