import { Hono, type Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../config";
import { log } from "../log";
import { connectionBaseUrl } from "../scim/connections";
import { connectionSchemas, connectionServiceProviderConfig, resourceTypes } from "../scim/discovery";
import { SCHEMA } from "../scim/resources";
import { connectionAuth, type ConnectionEnv } from "./connection-auth";
import { scimError } from "./scim";
import { scimWriteRoutes } from "./scim-write";
import { ScimRequestError } from "../scim/errors";
import { StaleWrite } from "../scim/write/store";

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
    scimJson(c, connectionServiceProviderConfig(connectionBaseUrl(new URL(c.req.url).origin, c.get("scimConnection").id))),
  );

  app.get("/:connectionId/ResourceTypes", (c) => {
    const types = resourceTypes(baseOf(c));
    return scimJson(c, { schemas: [SCHEMA.listResponse], totalResults: types.length, startIndex: 1, itemsPerPage: types.length, Resources: types });
  });
  app.get("/:connectionId/ResourceTypes/:id", (c) => {
    const found = resourceTypes(baseOf(c)).find((type) => type.id === c.req.param("id"));
    return found ? scimJson(c, found) : scimError(c, 404, "No such resource type.");
  });
  app.get("/:connectionId/Schemas", (c) => {
    const all = connectionSchemas(baseOf(c));
    return scimJson(c, { schemas: [SCHEMA.listResponse], totalResults: all.length, startIndex: 1, itemsPerPage: all.length, Resources: all });
  });
  app.get("/:connectionId/Schemas/:id", (c) => {
    const found = connectionSchemas(baseOf(c)).find((schema) => schema.id === c.req.param("id"));
    return found ? scimJson(c, found) : scimError(c, 404, "No such schema.");
  });

  app.route("/:connectionId", scimWriteRoutes());

  // A mounted router's notFound is not used by hono; an explicit catch-all keeps 404s in SCIM form.
  app.all("*", (c) => scimError(c, 404, "No such endpoint."));
  app.onError((error, c) => {
    if (error instanceof ScimRequestError) return scimError(c, 400, error.message, error.scimType);
    // Another write (or a DELETE) committed between this request's read and its write: nothing was
    // written. With If-Match that is a failed precondition; without, a conflict to retry (a retry
    // of a write racing a DELETE then answers 404).
    if (error instanceof StaleWrite) {
      return c.req.header("if-match") ? scimError(c, 412, "The resource changed while this request was applied.") : scimError(c, 409, "The resource changed while this request was applied; read it again.");
    }
    // bearerAuth answers by throwing its response; configuration errors are the app's 503.
    if (error instanceof HTTPException || error instanceof ConfigError) throw error;
    log("scim_connection.unhandled_error", { path: c.req.path, error: String(error) });
    return scimError(c, 500, "Unexpected error.");
  });
  return app;
}

const baseOf = (c: Context<ConnectionEnv>) => connectionBaseUrl(new URL(c.req.url).origin, c.get("scimConnection").id);

function scimJson(c: Context<ConnectionEnv>, body: unknown) {
  return c.body(JSON.stringify(body), 200, { "content-type": "application/scim+json" });
}
