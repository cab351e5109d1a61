/**
 * A local Scalekit Directory API (REST/JSON) for tests and the demo: the token route and the
 * directory routes a reconciliation reads, served over real HTTP on 127.0.0.1.
 *
 * Routes and fields follow ../shared/docs/providers.md ("Scalekit Directory API (REST), for
 * reconciliation") and the official Node SDK's generated descriptors
 * (github.com/scalekit-inc/scalekit-sdk-node, commit d134011):
 * - src/core.ts: `POST {environment}/oauth/token`, form-encoded client credentials;
 * - organizations_pb.ts: `GET /api/v1/organizations` (page_size, page_token → organizations,
 *   next_page_token, total_size, prev_page_token);
 * - directories_pb.ts: `GET /api/v1/organizations/{organization_id}/directories`,
 *   `GET …/directories/{directory_id}/users` (page_size, page_token, include_detail,
 *   directory_group_id, updated_after) and `GET …/directories/{directory_id}/groups`; the
 *   buf.validate rule `page_size <= 30` on both (a larger one is refused, as the real API's
 *   validation would: 400), and "defaults to 10" from their OpenAPI descriptions.
 * Error bodies use the gRPC-gateway shape `{ code, message }`. What the documentation does not say
 * is our choice and marked so: 404 for an unknown organization, directory or group, and offset
 * page tokens (the paging that shifts when users are removed mid-listing, the worst case for a
 * reconciliation; `paging: "keyset"` gives stable tokens instead).
 *
 * Each tenant is an environment at `/t/<tenant>` with its own credentials and data, so test files
 * running in parallel never share state. `/t/<tenant>/__control` (not Scalekit; tests and the
 * demo only): PUT resets a tenant, PATCH upserts/removes users and groups or sets quirks or revokes
 * tokens, GET reads counters.
 *
 * Runs in Node, never in workerd: started by vitest.config.ts and by scripts/local-scalekit.ts.
 */
import express, { type NextFunction, type Request, type Response } from "express";
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";

/** A directory user as stored here; `group_ids` are this directory's groups the user is in. */
export interface StoredUser {
  id: string;
  directory_id: string;
  email?: string;
  preferred_username?: string;
  given_name?: string;
  family_name?: string;
  /** RFC 3339; set to now on every upsert through the control plane unless given. */
  updated_at?: string;
  emails?: string[];
  group_ids?: string[];
  /** Served as `user_detail` only with include_detail=true. */
  detail?: Record<string, unknown>;
}

export interface StoredGroup {
  id: string;
  directory_id: string;
  display_name: string;
  updated_at?: string;
  detail?: Record<string, unknown>;
}

export interface StoredDirectory {
  id: string;
  organization_id: string;
  enabled?: boolean;
  directory_type?: string;
  directory_provider?: string;
  name?: string;
}

export interface Quirks {
  /** Serve at most this many items per list page, whatever page_size asks. */
  pageSizeCap?: number;
  /** "offset" (default): tokens hold a position, so removals shift later pages. "keyset": tokens hold the last id. */
  paging?: "offset" | "keyset";
  /** Answer the next N API requests 429 with this Retry-After. */
  throttle?: { times: number; retryAfterSeconds: number };
  /** Answer the next N API requests with this status (5xx). */
  failures?: { times: number; status: number };
  /** Answer every API request with this status, even with a valid token. */
  deny?: 401 | 403;
  /** Right after serving the Nth users list page, change the directory. */
  afterUsersPage?: { page: number; upsert?: StoredUser[]; remove?: string[] };
}

interface TenantState {
  clientId: string;
  clientSecret: string;
  tokenTtlSeconds: number;
  tokens: Map<string, number>;
  organizations: Array<{ id: string; display_name?: string; external_id?: string }>;
  directories: StoredDirectory[];
  users: Map<string, StoredUser>;
  /** Each directory's users sorted by id, built on a listing's first page and dropped on any change to users. */
  sortedUsers: Map<string, StoredUser[]> | null;
  groups: Map<string, StoredGroup>;
  quirks: Quirks;
  usersPagesServed: number;
  requests: number;
  tokenRequests: number;
}

export interface TenantSetup {
  clientId?: string;
  clientSecret?: string;
  tokenTtlSeconds?: number;
  organizations?: TenantState["organizations"];
  directories?: StoredDirectory[];
  users?: StoredUser[];
  groups?: StoredGroup[];
  quirks?: Quirks;
  /**
   * Users built here by scalekitUser after `users` (a benchmark's 100,000 without 30 MB of JSON on
   * the wire): ids `<idPrefix>000000` on; the first `members` of them (default all) join `groupIds`
   * round-robin, one group each.
   */
  generate?: { count: number; directoryId: string; idPrefix?: string; groupIds?: string[]; members?: number };
}

export const TEST_SCALEKIT_CLIENT_ID = "skc_test_client";
export const TEST_SCALEKIT_CLIENT_SECRET = "test-scalekit-client-secret";

/** A user with plausible defaults; `overrides` win. */
export function scalekitUser(id: string, directoryId: string, overrides: Partial<StoredUser> = {}): StoredUser {
  return {
    id,
    directory_id: directoryId,
    email: `${id}@example.com`,
    preferred_username: `${id}@example.com`,
    given_name: `Given ${id}`,
    family_name: "Family",
    emails: [`${id}@example.com`],
    group_ids: [],
    detail: { active: true, dp_id: `idp-${id}` },
    ...overrides,
  };
}

const DEFAULT_PAGE_SIZE = 10;
const MAX_DIRECTORY_PAGE_SIZE = 30;
const MAX_ORGANIZATION_PAGE_SIZE = 100;

/** gRPC-gateway error body; codes from google.rpc.Code. */
function grpcError(response: Response, status: number, code: number, message: string) {
  return response.status(status).json({ code, message, details: [] });
}

/** RFC 3339 as comparable nanoseconds, so sub-millisecond digits count. */
function nanos(timestamp: string): bigint | null {
  const match = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:\d{2})$/i.exec(timestamp);
  if (!match) return null;
  const seconds = Date.parse(`${match[1]}${match[3]}`);
  if (Number.isNaN(seconds)) return null;
  return BigInt(seconds) * 1_000_000n + BigInt((match[2] ?? "").padEnd(9, "0"));
}

interface PageToken {
  listing: string;
  offset?: number;
  after?: string;
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

const encodeToken = (token: PageToken) => Buffer.from(JSON.stringify(token)).toString("base64url");
function decodeToken(raw: string): PageToken | null {
  try {
    const parsed = JSON.parse(Buffer.from(raw, "base64url").toString("utf8")) as PageToken;
    return typeof parsed.listing === "string" ? parsed : null;
  } catch {
    return null;
  }
}

export function createScalekitApiApp() {
  const tenants = new Map<string, TenantState>();
  const app = express();

  const tenantOf = (request: Request): TenantState | undefined => tenants.get(String(request.params.tenant));

  function upsertUsers(tenant: TenantState, users: StoredUser[]) {
    for (const user of users) tenant.users.set(user.id, { ...user, updated_at: user.updated_at ?? new Date().toISOString() });
    tenant.sortedUsers = null;
  }

  function removeUsers(tenant: TenantState, ids: string[]) {
    for (const id of ids) tenant.users.delete(id);
    tenant.sortedUsers = null;
  }

  function generateUsers(tenant: TenantState, generate: NonNullable<TenantSetup["generate"]>) {
    const groups = generate.groupIds ?? [];
    const members = generate.members ?? generate.count;
    const users = Array.from({ length: generate.count }, (_, i) =>
      scalekitUser(`${generate.idPrefix ?? "dirusr_"}${String(i).padStart(6, "0")}`, generate.directoryId, { group_ids: groups.length && i < members ? [groups[i % groups.length]!] : [] }),
    );
    upsertUsers(tenant, users);
  }

  /**
   * A directory's users in id order (the order every listing pages in). Kept until users change:
   * sorting 100,000 users for each page of 30 would be most of a benchmark's time.
   */
  function directoryUsers(tenant: TenantState, directoryId: string): StoredUser[] {
    tenant.sortedUsers ??= new Map();
    let sorted = tenant.sortedUsers.get(directoryId);
    if (!sorted) {
      sorted = [...tenant.users.values()].filter((user) => user.directory_id === directoryId).sort(byId);
      tenant.sortedUsers.set(directoryId, sorted);
    }
    return sorted;
  }

  // Control plane (not Scalekit).
  app.put("/t/:tenant/__control", express.json({ limit: "50mb" }), (request, response) => {
    const body = request.body as TenantSetup;
    const tenant: TenantState = {
      clientId: body.clientId ?? TEST_SCALEKIT_CLIENT_ID,
      clientSecret: body.clientSecret ?? TEST_SCALEKIT_CLIENT_SECRET,
      tokenTtlSeconds: body.tokenTtlSeconds ?? 3600,
      tokens: new Map(),
      organizations: body.organizations ?? [],
      directories: body.directories ?? [],
      users: new Map(),
      sortedUsers: null,
      groups: new Map((body.groups ?? []).map((group) => [group.id, { ...group, updated_at: group.updated_at ?? new Date().toISOString() }])),
      quirks: body.quirks ?? {},
      usersPagesServed: 0,
      requests: 0,
      tokenRequests: 0,
    };
    upsertUsers(tenant, body.users ?? []);
    if (body.generate) generateUsers(tenant, body.generate);
    tenants.set(request.params.tenant!, tenant);
    response.status(204).end();
  });
  app.patch("/t/:tenant/__control", express.json({ limit: "50mb" }), (request, response) => {
    const tenant = tenantOf(request);
    if (!tenant) return response.status(404).end();
    const body = request.body as { upsert?: StoredUser[]; remove?: string[]; upsertGroups?: StoredGroup[]; removeGroups?: string[]; quirks?: Quirks; revokeTokens?: boolean };
    upsertUsers(tenant, body.upsert ?? []);
    removeUsers(tenant, body.remove ?? []);
    for (const group of body.upsertGroups ?? []) tenant.groups.set(group.id, { ...group, updated_at: group.updated_at ?? new Date().toISOString() });
    for (const id of body.removeGroups ?? []) tenant.groups.delete(id);
    if (body.revokeTokens) tenant.tokens.clear();
    if (body.quirks) {
      tenant.quirks = body.quirks;
      tenant.usersPagesServed = 0; // page-numbered quirks count from when they are set
    }
    response.status(204).end();
  });
  app.get("/t/:tenant/__control", (request, response) => {
    const tenant = tenantOf(request);
    if (!tenant) return response.status(404).end();
    response.json({ users: tenant.users.size, requests: tenant.requests, tokenRequests: tenant.tokenRequests, usersPagesServed: tenant.usersPagesServed });
  });

  // Token route (src/core.ts in the SDK: POST oauth/token, form-encoded client credentials).
  app.post("/t/:tenant/oauth/token", express.urlencoded({ extended: false }), (request, response) => {
    const tenant = tenantOf(request);
    if (!tenant) return response.status(404).json({ error: "not_found" });
    tenant.tokenRequests++;
    const form = request.body as Record<string, string | undefined>;
    if (form.grant_type !== "client_credentials") return response.status(400).json({ error: "unsupported_grant_type" });
    if (form.client_id !== tenant.clientId || form.client_secret !== tenant.clientSecret) {
      return response.status(401).json({ error: "invalid_client", error_description: "client authentication failed" });
    }
    const token = `skat_${randomBytes(24).toString("base64url")}`;
    tenant.tokens.set(token, Date.now() + tenant.tokenTtlSeconds * 1000);
    response.json({ access_token: token, token_type: "Bearer", expires_in: tenant.tokenTtlSeconds });
  });

  // Every API route: count, inject faults, then check the bearer token.
  app.use("/t/:tenant/api/v1", (request: Request, response: Response, next: NextFunction) => {
    const tenant = tenantOf(request);
    if (!tenant) return grpcError(response, 404, 5, "environment not found");
    tenant.requests++;
    const { throttle, failures, deny } = tenant.quirks;
    if (throttle && throttle.times > 0) {
      throttle.times--;
      response.setHeader("Retry-After", String(throttle.retryAfterSeconds));
      return grpcError(response, 429, 8, "rate limit exceeded");
    }
    if (failures && failures.times > 0) {
      failures.times--;
      return grpcError(response, failures.status, 14, "injected failure");
    }
    const token = /^Bearer (\S+)$/.exec(request.header("authorization") ?? "")?.[1];
    const expiresAt = token ? tenant.tokens.get(token) : undefined;
    if (expiresAt === undefined || expiresAt <= Date.now()) return grpcError(response, 401, 16, "invalid or expired token");
    if (deny) return grpcError(response, deny, deny === 401 ? 16 : 7, deny === 401 ? "unauthenticated" : "permission denied");
    response.locals.tenant = tenant;
    next();
  });

  /** Slices `all` (sorted by id: byId) into one page; null when the request is invalid (already answered). */
  function pageOf<T extends { id: string }>(request: Request, response: Response, tenant: TenantState, all: T[], listing: string, maxPageSize: number | null) {
    const asked = request.query.page_size === undefined ? 0 : Number(request.query.page_size);
    if (!Number.isInteger(asked) || asked < 0) {
      grpcError(response, 400, 3, "invalid page_size");
      return null;
    }
    if (maxPageSize !== null && asked > maxPageSize) {
      grpcError(response, 400, 3, `page_size: value must be less than or equal to ${maxPageSize}`);
      return null;
    }
    let size = asked === 0 ? DEFAULT_PAGE_SIZE : Math.min(asked, MAX_ORGANIZATION_PAGE_SIZE);
    if (tenant.quirks.pageSizeCap !== undefined) size = Math.min(size, tenant.quirks.pageSizeCap);
    const raw = typeof request.query.page_token === "string" ? request.query.page_token : "";
    const token = raw === "" ? { listing } : decodeToken(raw);
    if (!token || token.listing !== listing) {
      grpcError(response, 400, 3, "invalid page_token");
      return null;
    }
    const start = token.after !== undefined ? all.findIndex((item) => item.id > token.after!) : (token.offset ?? 0);
    const items = start < 0 ? [] : all.slice(start, start + size);
    const end = (start < 0 ? all.length : start) + items.length;
    const last = items.at(-1);
    const next = end < all.length && last ? encodeToken(tenant.quirks.paging === "keyset" ? { listing, after: last.id } : { listing, offset: end }) : "";
    return { items, body: { next_page_token: next, total_size: all.length, prev_page_token: "" } };
  }

  app.get("/t/:tenant/api/v1/organizations", (request, response) => {
    const tenant = response.locals.tenant as TenantState;
    const page = pageOf(request, response, tenant, [...tenant.organizations].sort(byId), "organizations", null);
    if (page) response.json({ organizations: page.items, ...page.body });
  });

  app.get("/t/:tenant/api/v1/organizations/:organizationId/directories", (request, response) => {
    const tenant = response.locals.tenant as TenantState;
    const orgId = request.params.organizationId;
    if (!tenant.organizations.some((org) => org.id === orgId)) return grpcError(response, 404, 5, "organization not found");
    const directories = tenant.directories
      .filter((dir) => dir.organization_id === orgId)
      .map((dir) => ({
        directory_type: "SCIM",
        directory_provider: "OKTA",
        ...dir,
        enabled: dir.enabled ?? true,
        total_users: [...tenant.users.values()].filter((user) => user.directory_id === dir.id).length,
        total_groups: [...tenant.groups.values()].filter((group) => group.directory_id === dir.id).length,
      }));
    response.json({ directories });
  });

  /** The directory named by the route, or null (answered 404). */
  function directoryOf(request: Request, response: Response): StoredDirectory | null {
    const tenant = response.locals.tenant as TenantState;
    const dir = tenant.directories.find((d) => d.id === request.params.directoryId && d.organization_id === request.params.organizationId);
    if (!dir) {
      grpcError(response, 404, 5, "directory not found");
      return null;
    }
    return dir;
  }

  function updatedAfterFilter(request: Request, response: Response): ((item: { updated_at?: string }) => boolean) | null {
    const raw = request.query.updated_after;
    if (raw === undefined) return () => true;
    const after = typeof raw === "string" ? nanos(raw) : null;
    if (after === null) {
      grpcError(response, 400, 3, "invalid updated_after");
      return null;
    }
    return (item) => (nanos(item.updated_at ?? "") ?? 0n) > after;
  }

  app.get("/t/:tenant/api/v1/organizations/:organizationId/directories/:directoryId/users", (request, response) => {
    const tenant = response.locals.tenant as TenantState;
    const dir = directoryOf(request, response);
    if (!dir) return;
    const updatedAfter = updatedAfterFilter(request, response);
    if (!updatedAfter) return;
    const groupId = typeof request.query.directory_group_id === "string" ? request.query.directory_group_id : undefined;
    if (groupId !== undefined && tenant.groups.get(groupId)?.directory_id !== dir.id) return grpcError(response, 404, 5, "group not found");
    const all = directoryUsers(tenant, dir.id);
    const matching = request.query.updated_after === undefined && groupId === undefined ? all : all.filter((user) => updatedAfter(user) && (groupId === undefined || (user.group_ids ?? []).includes(groupId)));
    const listing = `users:${dir.id}:${groupId ?? ""}:${String(request.query.updated_after ?? "")}`;
    const page = pageOf(request, response, tenant, matching, listing, MAX_DIRECTORY_PAGE_SIZE);
    if (!page) return;
    const includeDetail = request.query.include_detail === "true";
    const users = page.items.map(({ directory_id: _dir, group_ids, detail, ...user }) => ({
      ...user,
      groups: (group_ids ?? []).flatMap((id) => {
        const group = tenant.groups.get(id);
        return group ? [{ id: group.id, display_name: group.display_name, updated_at: group.updated_at }] : [];
      }),
      ...(includeDetail ? { user_detail: { ...detail, email: user.email, given_name: user.given_name, family_name: user.family_name } } : {}),
    }));
    response.json({ users, ...page.body });
    // After the page is sent: the upstream changes between this page and the next.
    tenant.usersPagesServed++;
    const change = tenant.quirks.afterUsersPage;
    if (change && tenant.usersPagesServed === change.page) {
      upsertUsers(tenant, change.upsert ?? []);
      removeUsers(tenant, change.remove ?? []);
    }
  });

  app.get("/t/:tenant/api/v1/organizations/:organizationId/directories/:directoryId/groups", (request, response) => {
    const tenant = response.locals.tenant as TenantState;
    const dir = directoryOf(request, response);
    if (!dir) return;
    const updatedAfter = updatedAfterFilter(request, response);
    if (!updatedAfter) return;
    const members = (groupId: string) => [...tenant.users.values()].filter((user) => (user.group_ids ?? []).includes(groupId)).length;
    const matching = [...tenant.groups.values()].filter((group) => group.directory_id === dir.id && updatedAfter(group)).sort(byId);
    const page = pageOf(request, response, tenant, matching, `groups:${dir.id}:${String(request.query.updated_after ?? "")}`, MAX_DIRECTORY_PAGE_SIZE);
    if (!page) return;
    const includeDetail = request.query.include_detail === "true";
    const groups = page.items.map(({ directory_id: _dir, detail, ...group }) => ({
      ...group,
      total_users: members(group.id),
      ...(includeDetail ? { group_detail: detail ?? {} } : {}),
    }));
    response.json({ groups, ...page.body });
  });

  return app;
}

/** Starts the server on 127.0.0.1. `keepAlive: false` (tests) lets the process exit around it. */
export async function startScalekitApi(port = 0, options: { host?: string; keepAlive?: boolean } = {}): Promise<{ url: string; close: () => Promise<void> }> {
  const app = createScalekitApiApp();
  const host = options.host ?? "127.0.0.1";
  return new Promise((resolve) => {
    const server = app.listen(port, host, () => {
      const address = server.address() as AddressInfo;
      if (!options.keepAlive) server.unref();
      resolve({ url: `http://${host}:${address.port}`, close: () => new Promise((done) => server.close(() => done())) });
    });
  });
}
