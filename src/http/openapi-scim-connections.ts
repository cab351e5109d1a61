import * as z from "zod";
import { MAX_ROTATION_GRACE_MS } from "../scim/connections";
import { cursorOf } from "./opaque-cursor";
import { ADMIN_SECURITY, adminAuthResponses, cursorParam, defineRoute, errorBody, errorResponses, jsonResponse, nextCursor, pageLimit, timestamp } from "./openapi-common";

/**
 * The /admin/scim-connections contract: SCIM connections an identity provider (Okta, Entra ID)
 * provisions into directly (src/scim/connections.ts). Tokens appear only in the responses that
 * issue them (create, rotate), never again.
 */

const connectionId = z.object({ id: z.string().meta({ example: "scn_5f0c9d7e2a41b3c8d9e0f1a2" }) });

export const ScimConnection = z
  .object({
    id: z.string(),
    organization_id: z.string(),
    name: z.string().nullable(),
    provider: z.string().meta({ description: "The provider namespace of the connection's users and groups (`scim-<id>`), as in /v1 and /scim/v2 ids." }),
    base_url: z.string().meta({ description: "The SCIM base URL (tenant URL) to give the identity provider." }),
    status: z.enum(["active", "disabled"]),
    previous_token_expires_at: timestamp.meta({ description: "While a rotation's previous token is still accepted: until when. Otherwise null." }),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    disabled_at: timestamp,
    last_used_at: timestamp.meta({ description: "Last successful authentication (recorded at most once a minute)." }),
  })
  .meta({ id: "ScimConnection" });

const token = z.string().meta({ description: "The bearer token, shown this once: only its SHA-256 is stored." });

export const createScimConnection = defineRoute({
  method: "post",
  path: "/scim-connections",
  summary: "Create a SCIM connection for an organization",
  description: "Returns the base URL and the bearer token to paste into the identity provider. The token is shown only in this response.",
  security: ADMIN_SECURITY,
  request: {
    body: {
      required: true,
      content: {
        "application/json": {
          schema: z.strictObject({
            organization_id: z.string().min(1).max(256).meta({ description: "The organization its users and groups belong to." }),
            name: z.string().min(1).max(200).nullable().optional().meta({ description: "A label for operators, e.g. `Okta production`." }),
          }),
        },
      },
    },
  },
  responses: {
    ...adminAuthResponses,
    201: jsonResponse(z.object({ connection: ScimConnection, base_url: z.string(), token }), "Created."),
    400: errorResponses.invalidBody,
  },
});

export const listScimConnections = defineRoute({
  method: "get",
  path: "/scim-connections",
  summary: "SCIM connections, disabled ones included, in id order",
  security: ADMIN_SECURITY,
  request: {
    query: z.object({
      organization_id: z.string().min(1).max(256).optional(),
      cursor: cursorParam(cursorOf(z.tuple([z.string()]))),
      limit: pageLimit(200, 50),
    }),
  },
  responses: {
    ...adminAuthResponses,
    200: jsonResponse(z.object({ connections: z.array(ScimConnection), next_cursor: nextCursor }), "A page of connections."),
    400: errorResponses.invalidQuery,
  },
});

export const getScimConnection = defineRoute({
  method: "get",
  path: "/scim-connections/{id}",
  summary: "One SCIM connection",
  security: ADMIN_SECURITY,
  request: { params: connectionId },
  responses: { ...adminAuthResponses, 200: jsonResponse(ScimConnection, "The connection.") },
});

export const rotateScimConnection = defineRoute({
  method: "post",
  path: "/scim-connections/{id}/rotate",
  summary: "Issue a new token; the current one stays valid for a grace period",
  description:
    "The new token is shown only in this response. The token it replaces keeps working for `grace_seconds` (default 24 hours), so two are live while the identity provider is switched over; " +
    "a previous token still in its grace stops working at once (a second rotation ends the first one's grace).",
  security: ADMIN_SECURITY,
  request: {
    params: connectionId,
    query: z.object({
      grace_seconds: z.coerce
        .number()
        .int()
        .min(0)
        .max(MAX_ROTATION_GRACE_MS / 1000)
        .optional()
        .meta({ description: "How long the replaced token stays valid, 0 to 604800 (7 days); 0 revokes it now. Default 86400." }),
    }),
  },
  responses: {
    ...adminAuthResponses,
    200: jsonResponse(
      z.object({
        connection: ScimConnection,
        token,
        previous_token_expires_at: timestamp.meta({ description: "Until when the replaced token is accepted; null with grace_seconds=0." }),
      }),
      "Rotated.",
    ),
    400: errorResponses.invalidQuery,
    409: jsonResponse(errorBody(["connection_disabled"]), "The connection is disabled; create a new one."),
  },
});

export const disableScimConnection = defineRoute({
  method: "post",
  path: "/scim-connections/{id}/disable",
  summary: "Disable a SCIM connection: every token is refused from now on",
  description: "Idempotent. Its users and groups stay in the directory.",
  security: ADMIN_SECURITY,
  request: { params: connectionId },
  responses: { ...adminAuthResponses, 200: jsonResponse(ScimConnection, "Disabled.") },
});
