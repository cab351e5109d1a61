/**
 * A real SCIM 2.0 server (SCIMMY + scimmy-routers on express) standing in for Firstup's upstream
 * in tests and in local development. SCIMMY implements the protocol: filters, ListResponse
 * paging, attribute handling and the error schema; this file only supplies in-memory storage
 * and the quirks real servers show, switched on per tenant:
 *
 * - `countCap`: serve at most this many resources per page, whatever `count` asks for;
 * - `underreportTotal`: report `totalResults` lower than the real number (resources keep coming
 *   past it);
 * - `throttle`: answer the next N requests 429 with `Retry-After`;
 * - `failures`: answer the next N requests with this status (500, 503, or "garbage" JSON);
 * - `deleteAfterListPage`: delete a user right after serving the Nth list page (the upstream
 *   changing mid-scan, which shifts offsets).
 *
 * SCIMMY itself has two behaviours real servers share, which the client must survive: a
 * `startIndex` past the end is answered with the first page again, and a filter with an escaped
 * quote is rejected (400 invalidFilter) while an escaped backslash silently matches nothing.
 *
 * Each tenant lives under `/t/<tenant>/scim/v2` with its own users and bearer token, so test files
 * running in parallel never share state. Tenants are created and inspected through
 * `/t/<tenant>/__control` (not SCIM; tests only).
 *
 * Firstup's webhook subscription routes (`/t/<tenant>/v2/webhooks/subscriptions`) are mounted
 * beside it from test/support/firstup-subscriptions.ts.
 *
 * Runs in Node, never in workerd: started by vitest.config.ts and by scripts/local-scim.ts.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import type { AddressInfo } from "node:net";
import SCIMMY from "scimmy";
import SCIMMYRouters from "scimmy-routers";
// With its extension: scripts/local-scim.ts loads this file straight into Node.
import { firstupSubscriptionRoutes } from "./firstup-subscriptions.ts";

export interface Quirks {
  countCap?: number;
  underreportTotal?: number;
  throttle?: { times: number; retryAfterSeconds: number };
  failures?: { times: number; status: number | "garbage" };
  deleteAfterListPage?: { page: number; userId: string };
  /**
   * Answer unfiltered /Users listings with a ListResponse sliced straight from storage instead of
   * through SCIMMY, which validates every stored user on every list request (about 1.7 s a page at
   * 10,000 users). For the reconciliation benchmark, which measures this Worker, not the server.
   */
  fastList?: boolean;
}

/** Stored SCIM resources are whatever JSON the test wrote; SCIMMY validates them on the way out. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type StoredResource = any;

export interface TenantState {
  token: string;
  users: Map<string, StoredResource>;
  groups: Map<string, StoredResource>;
  quirks: Quirks;
  listPagesServed: number;
  requests: number;
}

const tenants = new Map<string, TenantState>();
// SCIMMY accepts a null scimType (none applies to 404); its typings only say string.
const NO_SCIM_TYPE = null as unknown as string;

function tenantOf(request: Request): TenantState {
  const tenant = tenants.get(String(request.res?.locals.tenant));
  if (!tenant) throw new SCIMMY.Types.Error(404, NO_SCIM_TYPE, "Unknown tenant");
  return tenant;
}

export function scimUser(id: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    userName: `${id}@example.com`,
    externalId: `hr-${id}`,
    active: true,
    name: { givenName: `Given ${id}`, familyName: "Family" },
    emails: [{ value: `${id}@example.com`, type: "work", primary: true }],
    meta: { resourceType: "User", created: "2026-01-01T00:00:00.000Z", lastModified: "2026-01-01T00:00:00.000Z" },
    ...overrides,
  };
}

let declared = false;
function declareResources() {
  if (declared) return;
  declared = true;
  SCIMMY.Resources.declare(SCIMMY.Resources.User.extend(SCIMMY.Schemas.EnterpriseUser, false))
    .egress((resource: InstanceType<typeof SCIMMY.Resources.User>, context: TenantState) => {
      if (resource.id) {
        const user: StoredResource = context.users.get(resource.id);
        if (!user) throw new SCIMMY.Types.Error(404, NO_SCIM_TYPE, `Resource ${resource.id} not found`);
        return user;
      }
      const all: StoredResource[] = [...context.users.values()];
      const matched = resource.filter ? resource.filter.match(all) : all;
      const constraints = (resource.constraints ?? {}) as { startIndex?: number; count?: number; totalResults?: number };
      (resource as { constraints: unknown }).constraints = constraints;
      if (context.quirks.countCap !== undefined) constraints.count = Math.min(constraints.count ?? 20, context.quirks.countCap);
      if (context.quirks.underreportTotal !== undefined) constraints.totalResults = Math.max(0, matched.length - context.quirks.underreportTotal);
      context.listPagesServed++;
      const pending = context.quirks.deleteAfterListPage;
      if (pending && context.listPagesServed === pending.page) {
        // Snapshot this page first, then change the upstream under the client's feet.
        const snapshot = [...matched];
        context.users.delete(pending.userId);
        return snapshot;
      }
      return matched;
    })
    .ingress((resource: InstanceType<typeof SCIMMY.Resources.User>, instance: StoredResource, context: TenantState) => {
      const id = resource.id ?? crypto.randomUUID();
      const user: StoredResource = { ...instance, id, meta: { resourceType: "User", lastModified: new Date().toISOString() } };
      context.users.set(id, user);
      return user;
    })
    .degress((resource: InstanceType<typeof SCIMMY.Resources.User>, context: TenantState) => {
      if (!resource.id || !context.users.delete(resource.id)) throw new SCIMMY.Types.Error(404, NO_SCIM_TYPE, "Not found");
    });
  SCIMMY.Resources.declare(SCIMMY.Resources.Group).egress((resource: InstanceType<typeof SCIMMY.Resources.Group>, context: TenantState) => {
    if (resource.id) {
      const group: StoredResource = context.groups.get(resource.id);
      if (!group) throw new SCIMMY.Types.Error(404, NO_SCIM_TYPE, `Resource ${resource.id} not found`);
      return group;
    }
    const all: StoredResource[] = [...context.groups.values()];
    return resource.filter ? resource.filter.match(all) : all;
  });
}

/** Answers 429s and injected failures before SCIMMY sees the request. */
function quirkGate(request: Request, response: Response, next: NextFunction) {
  const tenant = tenants.get(String(response.locals.tenant));
  if (!tenant) return next();
  tenant.requests++;
  const { throttle, failures } = tenant.quirks;
  if (throttle && throttle.times > 0) {
    throttle.times--;
    response.status(429).setHeader("Retry-After", String(throttle.retryAfterSeconds));
    return response.json({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "429", detail: "Too many requests" });
  }
  if (tenant.quirks.fastList && request.method === "GET" && request.path === "/Users" && request.query.filter === undefined) {
    const startIndex = Math.max(1, Number(request.query.startIndex ?? 1));
    const count = Math.max(0, Number(request.query.count ?? 100));
    // Walks storage up to the page instead of copying it whole: at 100,000 users a copy per page
    // would be most of the server's work.
    const page: StoredResource[] = [];
    let position = 0;
    for (const user of tenant.users.values()) {
      if (page.length >= count) break;
      if (++position >= startIndex) page.push(user);
    }
    return response.type("application/scim+json").json({
      schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
      totalResults: tenant.users.size,
      startIndex,
      itemsPerPage: page.length,
      Resources: page,
    });
  }
  if (failures && failures.times > 0) {
    failures.times--;
    if (failures.status === "garbage") return response.status(200).type("application/scim+json").send('{"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListRe');
    return response.status(failures.status).json({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: String(failures.status), detail: "Injected failure" });
  }
  next();
}

export function createScimApp() {
  declareResources();
  const app = express();
  app.use("/t/:tenant", (request, response, next) => {
    response.locals.tenant = request.params.tenant;
    next();
  });

  // Test control plane: create/reset a tenant, add or remove users, set quirks, read counters.
  // `generate: { count, idPrefix }` adds `count` users built here by scimUser (ids `<idPrefix>000000`
  // on), after `users`: a benchmark's 100,000 users without 30 MB of JSON on the wire.
  app.put("/t/:tenant/__control", express.json({ limit: "50mb" }), (request, response) => {
    const body = request.body as { token?: string; users?: Record<string, unknown>[]; groups?: Record<string, unknown>[]; quirks?: Quirks; generate?: { count: number; idPrefix?: string } };
    const users = new Map((body.users ?? []).map((user) => [String(user.id), user]));
    for (let i = 0; i < (body.generate?.count ?? 0); i++) {
      const id = `${body.generate?.idPrefix ?? "u"}${String(i).padStart(6, "0")}`;
      users.set(id, scimUser(id));
    }
    tenants.set(request.params.tenant!, {
      token: body.token ?? "test-scim-token",
      users,
      groups: new Map((body.groups ?? []).map((group) => [String(group.id), group])),
      quirks: body.quirks ?? {},
      listPagesServed: 0,
      requests: 0,
    });
    response.status(204).end();
  });
  app.patch("/t/:tenant/__control", express.json({ limit: "50mb" }), (request, response) => {
    const tenant = tenants.get(request.params.tenant!);
    if (!tenant) return response.status(404).end();
    const body = request.body as { upsert?: Record<string, unknown>[]; remove?: string[]; quirks?: Quirks };
    for (const user of body.upsert ?? []) tenant.users.set(String(user.id), user);
    for (const id of body.remove ?? []) tenant.users.delete(id);
    if (body.quirks) {
      tenant.quirks = body.quirks;
      tenant.listPagesServed = 0; // page-numbered quirks count from when they are set
    }
    response.status(204).end();
  });
  app.get("/t/:tenant/__control", (request, response) => {
    const tenant = tenants.get(request.params.tenant!);
    if (!tenant) return response.status(404).end();
    response.json({ users: tenant.users.size, requests: tenant.requests, listPagesServed: tenant.listPagesServed });
  });

  // Firstup's webhook subscription API beside its SCIM API, as on Firstup's own hosts.
  app.use("/t/:tenant", firstupSubscriptionRoutes());

  app.use("/t/:tenant/scim/v2", quirkGate);
  app.use(
    "/t/:tenant/scim/v2",
    new SCIMMYRouters({
      type: "bearer",
      docUri: "https://example.com/scim-auth",
      handler: (request: Request) => {
        const tenant = tenantOf(request);
        if (request.header("authorization") !== `Bearer ${tenant.token}`) throw new Error("Invalid bearer token");
        return "scim-client";
      },
      context: (request: Request) => tenantOf(request),
    }),
  );
  return app;
}

/** Starts the server on 127.0.0.1. `keepAlive: false` (tests) lets the process exit around it. */
export async function startScimServer(
  port = 0,
  options: { host?: string; keepAlive?: boolean } = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const app = createScimApp();
  const host = options.host ?? "127.0.0.1";
  return new Promise((resolve) => {
    const server = app.listen(port, host, () => {
      const address = server.address() as AddressInfo;
      if (!options.keepAlive) server.unref();
      resolve({
        url: `http://${host}:${address.port}`,
        close: () => new Promise((done) => server.close(() => done())),
      });
    });
  });
}
