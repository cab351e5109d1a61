import { compileErrors, validate } from "@readme/openapi-parser";
import { beforeAll, describe, expect, it } from "vitest";
import * as z from "zod";
import { createApp } from "../../src/http/app";
import { isConsolePath } from "../../src/http/console/paths";
import * as adminContract from "../../src/http/openapi-admin";
import * as notificationContract from "../../src/http/openapi-notifications";
import * as scimConnectionContract from "../../src/http/openapi-scim-connections";
import * as v1Contract from "../../src/http/openapi-v1";
import { seedTenants } from "../support/tenants";
import { callApp } from "../support/worker";

const BASE = "https://sync.example.com";
const READ = { authorization: "Bearer read-token" };
const ADMIN = { authorization: "Bearer test-admin-token" };
const TOKENS = { READ_TOKENS: "read-token" };

type Document = { openapi: string; paths: Record<string, Record<string, { security?: Record<string, string[]>[] }>> };

async function fetchDocument(): Promise<Document> {
  const response = await callApp(new Request(`${BASE}/openapi.json`, { headers: READ }), TOKENS);
  expect(response.status).toBe(200);
  return (await response.json()) as Document;
}

/** "GET /v1/users/{provider}/{externalId}" for every operation of the document under /v1 and /admin. */
const documented = (doc: Document) =>
  Object.entries(doc.paths)
    .flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`))
    .sort();

/** The same, from the routes the app really serves (hono's route list, middleware left out; the console's HTML pages are not part of the API). */
const served = (app: ReturnType<typeof createApp>) =>
  [
    ...new Set(
      app.routes
        .filter((route) => /^\/(v1|admin)\//.test(route.path) && route.method !== "ALL" && !route.path.endsWith("*") && !isConsolePath(route.path))
        .map((route) => `${route.method} ${route.path.replace(/:(\w+)/g, "{$1}")}`),
    ),
  ].sort();

describe("GET /openapi.json", () => {
  beforeAll(seedTenants);

  it("is served to read and admin tokens, and to nobody else", async () => {
    const doc = await fetchDocument();
    expect(doc.openapi).toBe("3.1.0");
    expect((await callApp(new Request(`${BASE}/openapi.json`, { headers: ADMIN }), TOKENS)).status).toBe(200);
    const anonymous = await callApp(new Request(`${BASE}/openapi.json`), TOKENS);
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toMatchObject({ error: "unauthorized" });
    expect((await callApp(new Request(`${BASE}/openapi.json`, { headers: { authorization: "Bearer wrong" } }), TOKENS)).status).toBe(401);
    // No token configured at all: the route does not exist, like every other authenticated route.
    expect((await callApp(new Request(`${BASE}/openapi.json`, { headers: READ }), { ADMIN_TOKEN: "", READ_TOKENS: "" })).status).toBe(404);
  });

  it("is a valid OpenAPI 3.1 document (an independent validator)", async () => {
    const result = await validate(structuredClone(await fetchDocument()) as never);
    expect(result.valid, compileErrors(result)).toBe(true);
    expect(result.warnings).toEqual([]);
  });

  it("the validator rejects a broken document, so the check above can fail", async () => {
    const doc: { paths: Record<string, unknown> } = structuredClone(await fetchDocument());
    doc.paths["/v1/users"] = { get: { responses: { 200: { content: { "application/json": { schema: { $ref: "#/components/schemas/Nope" } } } } } } };
    expect((await validate(doc as never)).valid).toBe(false);
  });

  it("describes exactly the /v1 and /admin routes the app serves", async () => {
    const routes = served(createApp());
    expect(routes.length).toBeGreaterThanOrEqual(13);
    expect(documented(await fetchDocument())).toEqual(routes);
  });

  it("the route comparison fails when a route is served without a description", async () => {
    const app = createApp();
    app.get("/v1/undocumented", (c) => c.json({}));
    expect(documented(await fetchDocument())).not.toEqual(served(app));
  });

  it("names the right security scheme: /v1 takes read or admin tokens, /admin only admin tokens", async () => {
    const doc = await fetchDocument();
    for (const [path, operations] of Object.entries(doc.paths)) {
      for (const operation of Object.values(operations)) {
        const schemes = (operation.security ?? []).flatMap(Object.keys).sort();
        expect(schemes, path).toEqual(path.startsWith("/admin/") ? ["adminToken"] : ["adminToken", "readToken"]);
      }
    }
  });

  it("real responses have the declared shapes, key for key", async () => {
    const get = async (path: string, headers = READ) => {
      const response = await callApp(new Request(`${BASE}${path}`, { headers }), TOKENS);
      return { status: response.status, body: await response.json() };
    };
    const check = async (path: string, route: { responses: Record<number, unknown> }, status: number, headers = READ) => {
      const actual = await get(path, headers);
      expect(actual.status, path).toBe(status);
      const schema = (route.responses[status] as { content: { "application/json": { schema: z.ZodType } } }).content["application/json"].schema;
      expect(schema.safeParse(actual.body).error?.issues, path).toBeUndefined();
      // zod strips unknown keys, so a field the handler returns but the contract does not declare
      // is checked separately.
      expectKeys(schema, actual.body, path);
    };
    await check("/v1/users?limit=200", v1Contract.listUsers, 200);
    await check("/v1/users/scalekit/orga_alice", v1Contract.getUser, 200);
    await check("/v1/groups", v1Contract.listGroups, 200);
    await check("/v1/groups/scalekit/orga_eng/members", v1Contract.listGroupMembers, 200);
    await check("/v1/directories", v1Contract.listDirectories, 200);
    await check("/admin/directories", adminContract.listDirectories, 200, ADMIN);
    await check("/v1/users?limit=0", v1Contract.listUsers, 400);
    await check("/v1/users/scalekit/nobody", v1Contract.getUser, 404);
    await check("/admin/events", adminContract.listEvents, 200, ADMIN);
    await check("/admin/dead-letters", adminContract.listDeadLetters, 200, ADMIN);
    await check("/admin/reconcile/runs", adminContract.listRuns, 200, ADMIN);
    await check("/admin/reconcile/runs/none", adminContract.getRun, 404, ADMIN);
    await check("/admin/notifications", notificationContract.getNotifications, 200, ADMIN);
    await check("/admin/notifications/deliveries", notificationContract.listNotificationDeliveries, 200, ADMIN);
    // A SCIM connection, created and rotated (POST), then read back, so the lists are not empty.
    const post = async (path: string, route: { responses: Record<number, unknown> }, status: number, body?: unknown) => {
      const response = await callApp(new Request(`${BASE}${path}`, { method: "POST", headers: ADMIN, body: body === undefined ? undefined : JSON.stringify(body) }), TOKENS);
      expect(response.status, path).toBe(status);
      const json = (await response.json()) as Record<string, unknown>;
      const schema = (route.responses[status] as { content: { "application/json": { schema: z.ZodType } } }).content["application/json"].schema;
      expect(schema.safeParse(json).error?.issues, path).toBeUndefined();
      expectKeys(schema, json, path);
      return json;
    };
    const created = await post("/admin/scim-connections", scimConnectionContract.createScimConnection, 201, { organization_id: "tenant_a", name: "Okta" });
    const id = (created.connection as { id: string }).id;
    await post(`/admin/scim-connections/${id}/rotate`, scimConnectionContract.rotateScimConnection, 200);
    await check("/admin/scim-connections", scimConnectionContract.listScimConnections, 200, ADMIN);
    await check(`/admin/scim-connections/${id}`, scimConnectionContract.getScimConnection, 200, ADMIN);
    await check("/admin/scim-connections/scn_000000000000000000000000", scimConnectionContract.getScimConnection, 404, ADMIN);
    await post(`/admin/scim-connections/${id}/disable`, scimConnectionContract.disableScimConnection, 200);
    await post(`/admin/scim-connections/${id}/rotate`, scimConnectionContract.rotateScimConnection, 409);
  });
});

/** Every key of every object in the body is declared, and every required key is there. */
function expectKeys(schema: z.ZodType, body: unknown, path: string) {
  const json = z.toJSONSchema(schema, { io: "output", unrepresentable: "any" }) as JsonSchema;
  // Schemas with an id (User, Event, …) are emitted once under $defs and referenced.
  const resolve = (node: JsonSchema): JsonSchema => (node.$ref ? resolve(json.$defs![node.$ref.replace("#/$defs/", "")]!) : node);
  walk(resolve, json, body, path);
}

type JsonSchema = { $ref?: string; $defs?: Record<string, JsonSchema>; properties?: Record<string, JsonSchema>; required?: string[]; items?: JsonSchema };

function walk(resolve: (node: JsonSchema) => JsonSchema, node: JsonSchema, value: unknown, path: string) {
  const schema = resolve(node);
  if (Array.isArray(value) && schema.items) {
    for (const item of value) walk(resolve, schema.items, item, `${path}[]`);
  } else if (value !== null && typeof value === "object" && schema.properties) {
    const keys = Object.keys(value);
    expect(keys.filter((key) => !(key in schema.properties!)), `${path}: undeclared fields`).toEqual([]);
    expect((schema.required ?? []).filter((key) => !keys.includes(key)), `${path}: missing fields`).toEqual([]);
    for (const key of keys) walk(resolve, schema.properties[key]!, (value as Record<string, unknown>)[key], `${path}.${key}`);
  }
}
