import { log } from "../log";
import { connectionBaseUrl, createConnection, disableConnection, getConnection, listConnections, livePreviousTokenExpiry, rotateConnectionToken, type ScimConnection } from "../scim/connections";
import type { AppEnv } from "./app-env";
import { errorResponse } from "./errors";
import { encodeCursor } from "./opaque-cursor";
import { isoTime, TypedRouter } from "./openapi-common";
import * as routes from "./openapi-scim-connections";

/**
 * SCIM connections, for operators (mounted inside the admin router, admin tokens only):
 * - POST /admin/scim-connections                  {organization_id, name?} → base URL and token (shown once)
 * - GET  /admin/scim-connections                  ?organization_id, cursor, limit
 * - GET  /admin/scim-connections/:id
 * - POST /admin/scim-connections/:id/rotate       ?grace_seconds (default 86400) → new token (shown once)
 * - POST /admin/scim-connections/:id/disable
 * Tokens are never logged.
 */
export function scimConnectionAdminRoutes() {
  const app = new TypedRouter<AppEnv>();
  const origin = (url: string) => new URL(url).origin;

  app.openapi(routes.createScimConnection, async (c) => {
    const body = c.req.valid("json");
    const { connection, token } = await createConnection(c.env.DB, { organizationId: body.organization_id, name: body.name ?? null }, c.get("now")());
    log("scim_connection.created", { connectionId: connection.id, organizationId: connection.organizationId });
    const json = connectionJson(connection, origin(c.req.url), c.get("now")());
    return c.json({ connection: json, base_url: json.base_url, token }, 201);
  });

  app.openapi(routes.listScimConnections, async (c) => {
    const query = c.req.valid("query");
    const rows = await listConnections(c.env.DB, { organizationId: query.organization_id }, { afterId: query.cursor?.[0] ?? null, limit: query.limit + 1 });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    const now = c.get("now")();
    return c.json(
      {
        connections: page.map((row) => connectionJson(row, origin(c.req.url), now)),
        next_cursor: rows.length > query.limit && last ? encodeCursor([last.id]) : null,
      },
      200,
    );
  });

  app.openapi(routes.getScimConnection, async (c) => {
    const connection = await getConnection(c.env.DB, c.req.valid("param").id);
    return connection ? c.json(connectionJson(connection, origin(c.req.url), c.get("now")()), 200) : errorResponse(c, 404, "not_found");
  });

  app.openapi(routes.rotateScimConnection, async (c) => {
    const id = c.req.valid("param").id;
    const graceSeconds = c.req.valid("query").grace_seconds;
    const now = c.get("now")();
    const result = await rotateConnectionToken(c.env.DB, id, { now, graceMs: graceSeconds === undefined ? undefined : graceSeconds * 1000 });
    if (!result.ok) return result.reason === "not_found" ? errorResponse(c, 404, "not_found") : errorResponse(c, 409, "connection_disabled");
    const { connection, token } = result.issued;
    const previousExpiresAt = livePreviousTokenExpiry(connection, now);
    log("scim_connection.rotated", { connectionId: connection.id, previousTokenExpiresAt: previousExpiresAt });
    return c.json({ connection: connectionJson(connection, origin(c.req.url), now), token, previous_token_expires_at: isoTime(previousExpiresAt) }, 200);
  });

  app.openapi(routes.disableScimConnection, async (c) => {
    const now = c.get("now")();
    const connection = await disableConnection(c.env.DB, c.req.valid("param").id, now);
    if (!connection) return errorResponse(c, 404, "not_found");
    log("scim_connection.disabled", { connectionId: connection.id });
    return c.json(connectionJson(connection, origin(c.req.url), now), 200);
  });
  return app;
}

/** A connection as operators read it: never a token or a hash. */
function connectionJson(row: ScimConnection, origin: string, now: number) {
  return {
    id: row.id,
    organization_id: row.organizationId,
    name: row.name,
    provider: row.provider,
    base_url: connectionBaseUrl(origin, row.id),
    status: row.disabledAt === null ? ("active" as const) : ("disabled" as const),
    previous_token_expires_at: row.disabledAt === null ? isoTime(livePreviousTokenExpiry(row, now)) : null,
    created_at: isoTime(row.createdAt),
    updated_at: isoTime(row.updatedAt),
    disabled_at: isoTime(row.disabledAt),
    last_used_at: isoTime(row.lastUsedAt),
  };
}
