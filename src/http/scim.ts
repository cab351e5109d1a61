import { Hono, type Context } from "hono";
import * as z from "zod";
import { groups, users } from "../directory/schema";
import { getGroup, getUser, membersOf, membershipsOf, scimPage } from "../directory/read";
import { filterToSql, ScimFilterError } from "../scim/filter";
import { MAX_RESULTS, resourceTypes, schemas, serviceProviderConfig } from "../scim/discovery";
import { groupFilterAttributes, parseScimId, project, SCHEMA, toScimGroup, toScimUser, userFilterAttributes } from "../scim/resources";
import { readAuth, type Access, type AuthFailureRenderer, type ReadEnv } from "./auth";

/**
 * A read-only SCIM 2.0 server (RFC 7643/7644) over the synced directory, under /scim/v2, for
 * downstream systems. Writes answer 501: the identity provider upstream is the source of truth.
 * GET takes an admin or read token; an organization-scoped read token sees only its organization,
 * ANDed outside any filter. Anything but GET needs an admin token (a read token gets 403).
 */

const SCIM_JSON = "application/scim+json";

function scimJson(c: Context<ReadEnv>, body: unknown, status: 200 | 304 = 200, headers: Record<string, string> = {}) {
  if (status === 304) return c.body(null, 304, headers);
  return c.body(JSON.stringify(body), 200, { "content-type": SCIM_JSON, ...headers });
}

/** RFC 7644 §3.12 error response. */
export function scimError(c: Context, status: 400 | 401 | 403 | 404 | 500 | 501, detail: string, scimType?: string) {
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

/** Reads are GET (and POST /.search, should it be served); anything else is admin-only. */
const scimAccess = (c: Context): Access =>
  c.req.method === "GET" || c.req.method === "HEAD" || (c.req.method === "POST" && c.req.path.endsWith("/.search")) ? "read" : "admin";

const listQuery = z.object({
  filter: z.string().optional(),
  // RFC 7644 §3.4.2.4: startIndex below 1 means 1; count above the maximum means the maximum.
  startIndex: z.coerce.number().int().catch(1).transform((value) => Math.max(1, value)),
  count: z.coerce.number().int().catch(MAX_RESULTS).transform((value) => Math.min(Math.max(0, value), MAX_RESULTS)),
  attributes: z.string().optional(),
  excludedAttributes: z.string().optional(),
});
const projection = z.object({ attributes: z.string().optional(), excludedAttributes: z.string().optional() });
const splitList = (value: string | undefined) => (value === undefined ? null : value.split(","));

export function scimRoutes() {
  const app = new Hono<ReadEnv>();
  app.use("*", readAuth(scimAuthFailure, scimAccess));

  const base = (c: Context<ReadEnv>) => new URL(c.req.url).origin + "/scim/v2";

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

  app.get("/Users", async (c) => {
    const query = listQuery.parse(c.req.query());
    const scope = c.get("readScope");
    const condition = query.filter === undefined ? undefined : filterToSql(query.filter, userFilterAttributes);
    const { rows, total } = await scimPage(c.env.DB, users, condition, { offset: query.startIndex - 1, limit: query.count }, scope);
    const memberships = await membershipsOf(c.env.DB, rows, scope);
    const resources = rows.map((row) =>
      project(
        toScimUser(row, memberships.filter((m) => m.provider === row.provider && m.userExternalId === row.externalId), base(c)),
        splitList(query.attributes),
        splitList(query.excludedAttributes),
      ),
    );
    return scimJson(c, listResponse(resources, total, query.startIndex));
  });

  app.get("/Users/:id", async (c) => {
    const key = parseScimId(c.req.param("id"));
    const scope = c.get("readScope");
    const row = key ? await getUser(c.env.DB, key, scope) : null;
    if (!row) return scimError(c, 404, "No such user.");
    const resource = toScimUser(row, await membershipsOf(c.env.DB, [row], scope), base(c));
    const query = projection.parse(c.req.query());
    return single(c, resource, project(resource, splitList(query.attributes), splitList(query.excludedAttributes)));
  });

  app.get("/Groups", async (c) => {
    const query = listQuery.parse(c.req.query());
    const scope = c.get("readScope");
    const condition = query.filter === undefined ? undefined : filterToSql(query.filter, groupFilterAttributes);
    const { rows, total } = await scimPage(c.env.DB, groups, condition, { offset: query.startIndex - 1, limit: query.count }, scope);
    // Member lists can be long: skipped entirely when the client excludes them.
    const excluded = splitList(query.excludedAttributes);
    const wantsMembers = !excluded?.some((name) => name.trim().toLowerCase() === "members");
    const members = wantsMembers ? await membersOf(c.env.DB, rows, scope) : [];
    const resources = rows.map((row) =>
      project(
        toScimGroup(row, members.filter((m) => m.provider === row.provider && m.groupExternalId === row.externalId).map((m) => m.userExternalId), base(c)),
        splitList(query.attributes),
        excluded,
      ),
    );
    return scimJson(c, listResponse(resources, total, query.startIndex));
  });

  app.get("/Groups/:id", async (c) => {
    const key = parseScimId(c.req.param("id"));
    const scope = c.get("readScope");
    const row = key ? await getGroup(c.env.DB, key, scope) : null;
    if (!row) return scimError(c, 404, "No such group.");
    const members = (await membersOf(c.env.DB, [row], scope)).map((member) => member.userExternalId);
    const resource = toScimGroup(row, members, base(c));
    const query = projection.parse(c.req.query());
    return single(c, resource, project(resource, splitList(query.attributes), splitList(query.excludedAttributes)));
  });

  app.on(["POST", "PUT", "PATCH", "DELETE"], "*", (c) =>
    scimError(c, 501, "This SCIM server is read-only: the directory is synced from the identity provider."),
  );
  // A mounted router's notFound is not used by hono; an explicit catch-all keeps 404s in SCIM form.
  app.all("*", (c) => scimError(c, 404, "No such endpoint."));
  app.onError((error, c) => {
    if (error instanceof ScimFilterError) return scimError(c, 400, error.message, "invalidFilter");
    throw error;
  });
  return app;
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
