import { OpenApiGeneratorV31, OpenAPIRegistry } from "@asteasolutions/zod-to-openapi";
import { Hono } from "hono";
import { adminRoutes } from "./admin";
import { readAuth, type ReadEnv } from "./auth";
import { copyRoutes } from "./openapi-common";
import { v1Routes } from "./v1";

/**
 * GET /openapi.json: an OpenAPI 3.1 description of /v1 and /admin, behind read auth (a read or an
 * admin token), generated from the routers' own route objects (openapi-v1.ts, openapi-admin.ts),
 * so what is described is what validates. test/http/openapi.integration.test.ts checks it against
 * the app's route list and the OpenAPI 3.1 schema. /scim/v2 describes itself (RFC 7643 /Schemas).
 */

/** Builds the document from fresh router instances; only their route registries are read. */
export function openApiDocument() {
  const registry = new OpenAPIRegistry();
  copyRoutes(v1Routes().registry, registry, "/v1");
  copyRoutes(adminRoutes().registry, registry, "/admin");
  registry.registerComponent("securitySchemes", "readToken", {
    type: "http",
    scheme: "bearer",
    description: "An entry of READ_TOKENS: reads /v1 (and GET /scim/v2). `<organization_id>:<token>` entries see one organization only.",
  });
  registry.registerComponent("securitySchemes", "adminToken", {
    type: "http",
    scheme: "bearer",
    description: "ADMIN_TOKEN: every route, unscoped.",
  });
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: "3.1.0",
    info: {
      title: "directory-sync",
      version: "1",
      description:
        "The JSON API (/v1) and the operator routes (/admin). Errors are `{ \"error\": \"<stable_code>\", \"message\": \"…\" }`; " +
        "each response lists the codes it can carry. Lists are keyset-paginated: pass `next_cursor` back as `cursor` until it is null.",
    },
  });
}

let cached: ReturnType<typeof openApiDocument> | undefined;

export function openApiRoutes() {
  const app = new Hono<ReadEnv>();
  // Built on first request and kept for the isolate's life: it only changes with a deploy.
  app.get("/", readAuth(), (c) => c.json((cached ??= openApiDocument())));
  return app;
}
