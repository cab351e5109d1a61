import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app";
import { isConsolePath } from "../../src/http/console/paths";
import { seedTenants } from "../support/tenants";
import { callApp, recordingQueue } from "../support/worker";

const BASE = "https://sync.example.com";
const ADMIN_TOKEN = "admin-old admin-new";
const READ_TOKENS = "read-old read-new tenant_a:read-tenant-a";
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];

/**
 * Every route that takes a bearer token (all but webhooks, which verify signatures, /healthz, and
 * the console's HTML pages, which take a session cookie: test/console), from the app's own list,
 * with parameters filled in with ids that exist.
 */
const authenticated = createApp().routes.filter(
  (route) => !route.path.startsWith("/webhooks") && !route.path.startsWith("/healthz") && route.method !== "ALL" && !route.path.endsWith("*") && !isConsolePath(route.path),
);
/** A SCIM connection's routes take only that connection's token (test/scim/connections.integration.test.ts); checked below. */
const isConnectionRoute = (path: string) => path.startsWith("/scim/v2/connections/");
const routes = authenticated.filter((route) => !isConnectionRoute(route.path)).map((route) => ({ method: route.method, path: fill(route.path) }));
const connectionRoutes = authenticated
  .filter((route) => isConnectionRoute(route.path))
  .map((route) => ({ method: route.method, path: route.path.replace(":connectionId", "scn_000000000000000000000000") }));

function fill(path: string): string {
  const id = path.startsWith("/scim/v2/ResourceTypes")
    ? "User"
    : path.startsWith("/scim/v2/Schemas")
      ? "urn:ietf:params:scim:schemas:core:2.0:User"
      : path.startsWith("/scim/v2/Groups")
        ? "scalekit:orga_eng"
        : "scalekit:orga_alice";
  const externalId = path.startsWith("/v1/users") ? "orga_alice" : "orga_eng";
  return path.replace(":provider", "scalekit").replace(":externalId", externalId).replace(":id", id);
}
// POST /scim/v2/…/.search is a read (RFC 7644 §3.4.3); any other method on that path is not.
const isRead = (method: string, path: string) =>
  path.endsWith("/.search") ? method === "POST" : method === "GET" && (path.startsWith("/v1/") || path.startsWith("/scim/v2/") || path === "/openapi.json");

const call = (method: string, path: string, token: string | null, overrides: Partial<Env> = {}) =>
  callApp(
    new Request(BASE + path, { method, headers: token === null ? {} : { authorization: `Bearer ${token}` }, body: method === "GET" ? undefined : "{}" }),
    { ADMIN_TOKEN, READ_TOKENS, ...overrides },
  );

describe("credentials: admin tokens and read tokens", () => {
  beforeAll(seedTenants);

  it("walks every route with every method: a read token reads, and can do nothing else", async () => {
    expect(routes.filter((route) => route.path.startsWith("/admin")).length).toBeGreaterThanOrEqual(8);
    const { queue, sent } = recordingQueue();
    for (const token of ["read-old", "read-new", "read-tenant-a"]) {
      for (const route of routes) {
        for (const method of METHODS) {
          const response = await call(method, route.path, token, { EVENTS_QUEUE: queue });
          const label = `${method} ${route.path} with ${token}`;
          if (isRead(method, route.path)) {
            expect(response.status, label).toBe(200);
          } else {
            expect([403, 404, 405], label).toContain(response.status);
            if (route.path.startsWith("/admin")) {
              expect(response.status, label).toBe(403);
              expect(await response.json(), label).toMatchObject({ error: "insufficient_scope" });
              expect(response.headers.get("www-authenticate")).toContain("insufficient_scope");
            }
          }
          if (!response.bodyUsed) await response.body?.cancel();
        }
      }
    }
    // Nothing was replayed or started.
    expect(sent).toEqual([]);
  });

  it("SCIM writes with a read token answer 403 in the SCIM error schema; with an admin token, 501 as before", async () => {
    for (const method of ["POST", "PUT", "PATCH", "DELETE"]) {
      const denied = await call(method, "/scim/v2/Users/scalekit:orga_alice", "read-new");
      expect(denied.status).toBe(403);
      expect(denied.headers.get("content-type")).toBe("application/scim+json");
      expect(await denied.json()).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "403" });
      expect((await call(method, "/scim/v2/Users/scalekit:orga_alice", "admin-old")).status).toBe(501);
    }
  });

  it("every admin token (rotation) reaches admin routes and reads everything", async () => {
    for (const token of ["admin-old", "admin-new"]) {
      expect((await call("GET", "/admin/events", token)).status).toBe(200);
      const users = (await (await call("GET", "/v1/users?limit=200", token)).json()) as { users: unknown[] };
      expect(users.users).toHaveLength(7);
    }
  });

  it("an unscoped read token reads every organization", async () => {
    const users = (await (await call("GET", "/v1/users?limit=200", "read-old")).json()) as { users: unknown[] };
    expect(users.users).toHaveLength(7);
  });

  it.each([
    ["a prefix of a token", "read-ol"],
    ["a token with more after it", "read-oldx"],
    ["the scope and the token together", "tenant_a-read-tenant-a"],
    ["an organization id", "tenant_a"],
  ])("rejects %s with 401", async (_, token) => {
    expect((await call("GET", "/v1/users", token)).status).toBe(401);
  });

  it("rejects the raw READ_TOKENS entry (with its ':') as a malformed header, 400", async () => {
    expect((await call("GET", "/v1/users", "tenant_a:read-tenant-a")).status).toBe(400);
  });

  it("without any token configured, every route answers 404; with only read tokens, admin routes do", async () => {
    for (const route of routes) {
      const response = await call(route.method, route.path, "read-old", { ADMIN_TOKEN: "", READ_TOKENS: "" });
      expect(response.status, `${route.method} ${route.path}`).toBe(404);
    }
    expect((await call("GET", "/admin/events", "read-old", { ADMIN_TOKEN: "" })).status).toBe(404);
    expect((await call("GET", "/v1/users", "read-old", { ADMIN_TOKEN: "" })).status).toBe(200);
  });

  it("SCIM connection routes refuse admin and read tokens with a SCIM 401, whatever tokens are configured", async () => {
    expect(connectionRoutes.length).toBeGreaterThanOrEqual(1);
    for (const overrides of [{}, { ADMIN_TOKEN: "", READ_TOKENS: "" }]) {
      for (const route of connectionRoutes) {
        for (const token of ["admin-old", "read-old", "read-tenant-a", null]) {
          const response = await call(route.method, route.path, token, overrides);
          const label = `${route.method} ${route.path} with ${token}`;
          expect(response.status, label).toBe(401);
          expect(response.headers.get("www-authenticate"), label).toMatch(/^Bearer /);
          expect(await response.json(), label).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "401" });
        }
      }
    }
  });

  it("a malformed READ_TOKENS entry authenticates nobody and is named by /healthz, never shown", async () => {
    const overrides = { READ_TOKENS: "tenant_a: :orphan-token fine-token" };
    expect((await call("GET", "/v1/users", "orphan-token", overrides)).status).toBe(401);
    expect((await call("GET", "/v1/users", "fine-token", overrides)).status).toBe(200);
    const health = await callApp(new Request(`${BASE}/healthz`), overrides);
    const text = await health.text();
    expect(health.status).toBe(503);
    expect(JSON.parse(text)).toMatchObject({ config: "invalid", invalid_settings: [{ setting: "READ_TOKENS", problem: "invalid_entry" }] });
    expect(text).not.toContain("orphan-token");
  });
});
