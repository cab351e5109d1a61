import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { HTTPException } from "hono/http-exception";
import { ConfigError } from "../config";
import { getGroup, getUser, membersOf, membershipsOf, scimPage } from "../directory/read";
import { groups, users } from "../directory/schema";
import { log } from "../log";
import { resourceTypes, schemas, serviceProviderConfig } from "../scim/discovery";
import { ScimRequestError } from "../scim/errors";
import { filterToSql } from "../scim/filter";
import { listRequestFromQuery, listRequestFromSearch, type ListRequest } from "../scim/list-request";
import { parseProjection, project, returnsAttribute } from "../scim/projection";
import { GROUP_SCHEMAS, groupFilterAttributes, parseScimId, SCHEMA, toScimGroup, toScimUser, USER_SCHEMAS, userFilterAttributes } from "../scim/resources";
import { sortToSql } from "../scim/sort";
import { readAuth, type Access, type AuthFailureRenderer, type ReadEnv } from "./auth";

/**
 * A read-only SCIM 2.0 server (RFC 7643/7644) over the synced directory, under /scim/v2, for
 * downstream systems. Writes answer 501: the identity provider upstream is the source of truth.
 * GET and POST /.search take an admin or read token; an organization-scoped read token sees only
 * its organization, ANDed outside any filter. Anything else needs an admin token (a read token
 * gets 403). Every error, an unexpected one included, is a SCIM error body.
 */

const SCIM_JSON = "application/scim+json";

function scimJson(c: Context<ReadEnv>, body: unknown, status: 200 | 304 = 200, headers: Record<string, string> = {}) {
  if (status === 304) return c.body(null, 304, headers);
  return c.body(JSON.stringify(body), 200, { "content-type": SCIM_JSON, ...headers });
}

/** RFC 7644 §3.12 error response. */
export function scimError(c: Context, status: 400 | 401 | 403 | 404 | 409 | 412 | 413 | 500 | 501, detail: string, scimType?: string) {
  const body = { schemas: [SCHEMA.error], status: String(status), ...(scimType ? { scimType } : {}), detail };
  return c.body(JSON.stringify(body), status, { "content-type": SCIM_JSON });
}

const scimAuthFailure: AuthFailureRenderer = (c, failure) => {
  switch (failure) {
    case "not_found":
      return scimError(c, 404, "Not found.");
    case "unauthorized":
      return scimError(c, 401, "Send Authorization: Bearer <token>.");
    case "insufficient_scope":
      return scimError(c, 403, "insufficient_scope: this token may only read; this request needs an admin token.");
    default:
      return scimError(c, 400, "Malformed Authorization header.", "invalidSyntax");
  }
};

/** Reads are GET and POST /.search (RFC 7644 §3.4.3); anything else is admin-only. */
const scimAccess = (c: Context): Access =>
  c.req.method === "GET" || c.req.method === "HEAD" || (c.req.method === "POST" && c.req.path.endsWith("/.search")) ? "read" : "admin";

/** SearchRequest bodies are a few hundred bytes; the filter alone is capped at 1,000 characters. */
const MAX_SEARCH_BODY_BYTES = 64 * 1024;

const splitList = (value: string | undefined) => (value === undefined ? null : value.split(","));

export function scimRoutes() {
  const app = new Hono<ReadEnv>();
  app.use("*", readAuth(scimAuthFailure, scimAccess));

  const base = (c: Context<ReadEnv>) => new URL(c.req.url).origin + "/scim/v2";
  const searchBody = bodyLimit({ maxSize: MAX_SEARCH_BODY_BYTES, onError: (c) => scimError(c, 413, `A SearchRequest body is at most ${MAX_SEARCH_BODY_BYTES} bytes.`) });

  app.get("/ServiceProviderConfig", (c) => scimJson(c, serviceProviderConfig(base(c))));
  app.get("/ResourceTypes", (c) => scimJson(c, listResponse(resourceTypes(base(c)), resourceTypes(base(c)).length, 1)));
  app.get("/ResourceTypes/:id", (c) => {
    const found = resourceTypes(base(c)).find((type) => type.id === c.req.param("id"));
    return found ? scimJson(c, found) : scimError(c, 404, "No such resource type.");
  });
  app.get("/Schemas", (c) => scimJson(c, listResponse(schemas(base(c)), schemas(base(c)).length, 1)));
  app.get("/Schemas/:id", (c) => {
    const found = schemas(base(c)).find((schema) => schema.id === c.req.param("id"));
    return found ? scimJson(c, found) : scimError(c, 404, "No such schema.");
  });

  // RFC 7644 §3.4.3: POST /.search is the same query with its parameters in the body. A read.
  app.get("/Users", (c) => listUsers(c, listRequestFromQuery(c.req.query())));
  app.post("/Users/.search", searchBody, async (c) => listUsers(c, listRequestFromSearch(await c.req.text())));
  app.get("/Groups", (c) => listGroups(c, listRequestFromQuery(c.req.query())));
  app.post("/Groups/.search", searchBody, async (c) => listGroups(c, listRequestFromSearch(await c.req.text())));

  app.get("/Users/:id", async (c) => {
    const key = parseScimId(c.req.param("id"));
    const scope = c.get("readScope");
    const row = key ? await getUser(c.env.DB, key, scope) : null;
    if (!row) return scimError(c, 404, "No such user.");
    const resource = toScimUser(row, await membershipsOf(c.env.DB, [row], scope), base(c));
    const query = projectionQuery(c);
    return single(c, resource, project(resource, parseProjection(query.attributes, query.excluded, USER_SCHEMAS)));
  });

  app.get("/Groups/:id", async (c) => {
    const key = parseScimId(c.req.param("id"));
    const scope = c.get("readScope");
    const row = key ? await getGroup(c.env.DB, key, scope) : null;
    if (!row) return scimError(c, 404, "No such group.");
    const members = (await membersOf(c.env.DB, [row], scope)).map((member) => member.userExternalId);
    const resource = toScimGroup(row, members, base(c));
    const query = projectionQuery(c);
    return single(c, resource, project(resource, parseProjection(query.attributes, query.excluded, GROUP_SCHEMAS)));
  });

  app.on(["POST", "PUT", "PATCH", "DELETE"], "*", (c) =>
    scimError(c, 501, "This SCIM server is read-only: the directory is synced from the identity provider."),
  );
  // A mounted router's notFound is not used by hono; an explicit catch-all keeps 404s in SCIM form.
  app.all("*", (c) => scimError(c, 404, "No such endpoint."));
  app.onError((error, c) => {
    if (error instanceof ScimRequestError) return scimError(c, 400, error.message, error.scimType);
    // bearerAuth answers by throwing its response; configuration errors are the app's 503.
    if (error instanceof HTTPException || error instanceof ConfigError) throw error;
    // SCIM clients parse error bodies: an unexpected failure is a SCIM error too, and says nothing of its cause.
    log("scim.unhandled_error", { path: c.req.path, error: String(error) });
    return scimError(c, 500, "Unexpected error.");
  });
  return app;
}

const projectionQuery = (c: Context<ReadEnv>) => ({ attributes: splitList(c.req.query("attributes")), excluded: splitList(c.req.query("excludedAttributes")) });

async function listUsers(c: Context<ReadEnv>, request: ListRequest) {
  const scope = c.get("readScope");
  const projection = parseProjection(request.attributes, request.excludedAttributes, USER_SCHEMAS);
  const condition = request.filter === undefined ? undefined : filterToSql(request.filter, userFilterAttributes);
  const orderBy = sortToSql(request.sortBy, request.sortOrder, userFilterAttributes);
  const { rows, total } = await scimPage(c.env.DB, users, condition, { offset: request.startIndex - 1, limit: request.count, orderBy }, scope);
  // Memberships are fetched only when the response shows them.
  const memberships = returnsAttribute(projection, "groups") ? await membershipsOf(c.env.DB, rows, scope) : [];
  const baseUrl = new URL(c.req.url).origin + "/scim/v2";
  const resources = rows.map((row) =>
    project(toScimUser(row, memberships.filter((m) => m.provider === row.provider && m.userExternalId === row.externalId), baseUrl), projection),
  );
  return scimJson(c, listResponse(resources, total, request.startIndex));
}

async function listGroups(c: Context<ReadEnv>, request: ListRequest) {
  const scope = c.get("readScope");
  const projection = parseProjection(request.attributes, request.excludedAttributes, GROUP_SCHEMAS);
  const condition = request.filter === undefined ? undefined : filterToSql(request.filter, groupFilterAttributes);
  const orderBy = sortToSql(request.sortBy, request.sortOrder, groupFilterAttributes);
  const { rows, total } = await scimPage(c.env.DB, groups, condition, { offset: request.startIndex - 1, limit: request.count, orderBy }, scope);
  // Member lists can be long: skipped entirely when the response does not show them (excludedAttributes=members).
  const members = returnsAttribute(projection, "members") ? await membersOf(c.env.DB, rows, scope) : [];
  const baseUrl = new URL(c.req.url).origin + "/scim/v2";
  const resources = rows.map((row) =>
    project(toScimGroup(row, members.filter((m) => m.provider === row.provider && m.groupExternalId === row.externalId).map((m) => m.userExternalId), baseUrl), projection),
  );
  return scimJson(c, listResponse(resources, total, request.startIndex));
}

/** A single resource with its ETag; If-None-Match on the current version answers 304. */
function single(c: Context<ReadEnv>, full: Record<string, unknown>, projected: Record<string, unknown>) {
  const version = (full.meta as { version: string }).version;
  const ifNoneMatch = c.req.header("if-none-match");
  const matches = ifNoneMatch?.split(",").some((tag) => tag.trim() === "*" || weak(tag.trim()) === weak(version));
  return scimJson(c, projected, matches ? 304 : 200, { etag: version });
}

const weak = (tag: string) => tag.replace(/^W\//, "");

function listResponse(resources: unknown[], totalResults: number, startIndex: number) {
  return { schemas: [SCHEMA.listResponse], totalResults, startIndex, itemsPerPage: resources.length, Resources: resources };
}
