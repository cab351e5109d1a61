import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app";
import { isConsolePath } from "../../src/http/console/paths";
import { relayChanges } from "../../src/notify/relay";
import { runAtomically } from "../../src/d1";
import { directoryWrites } from "../../src/directory/writes";
import type { DirectoryEvent } from "../../src/events";
import { createConnection } from "../../src/scim/connections";
import { MAX_RESULTS } from "../../src/scim/discovery";
import { countingD1 } from "../support/d1";
import { LARGE_PROVIDER, MEMBERSHIP_COUNT, ORG_NORD, ORG_SUD, seedLargeDirectory, type LargeDirectory, type SeededUser } from "../support/large-directory";
import { callApp } from "../support/worker";

/**
 * Every list route, through the Worker, over a directory of 1,200 users, 300 groups and 10,000
 * memberships (test/support/large-directory.ts): at the largest page size (and a few others), with
 * an admin token and organization-scoped read tokens, cursors and startIndex followed to the end.
 * Each walk asserts no 5xx, the right total, and no duplicate or missing row across pages. Then
 * what a page costs in D1 round trips, and that a 500 under /scim/v2 is still a SCIM error.
 */

const BASE = "https://sync.example.com";
const ADMIN = { authorization: "Bearer test-admin-token" };
const NORD = { authorization: "Bearer read-nord" };
const SUD = { authorization: "Bearer read-sud" };
const READ_TOKENS = `${ORG_NORD}:read-nord ${ORG_SUD}:read-sud`;
const ROLE_MAPPING = JSON.stringify([
  { provider: LARGE_PROVIDER, organization_id: ORG_NORD, group_id: "g000", roles: ["all-hands"] },
  { provider: LARGE_PROVIDER, organization_id: ORG_SUD, group_name: "Équipe 7", roles: ["équipe"] },
]);
const V1_MAX = 200;
const ADMIN_EVENTS_MAX = 200;
const RUNS_MAX = 100;
const SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";

type AuthHeaders = Record<string, string>;
const scopes = [
  { name: "admin", headers: ADMIN, organizationId: null },
  { name: ORG_NORD, headers: NORD, organizationId: ORG_NORD },
  { name: ORG_SUD, headers: SUD, organizationId: ORG_SUD },
] as const;

let directory: LargeDirectory;

function get(path: string, headers: AuthHeaders, overrides: Partial<Env> = {}) {
  return callApp(new Request(BASE + path, { headers }), { READ_TOKENS, ROLE_MAPPING, ...overrides });
}

/** One page: never a 5xx, and a 200 for every walk here. */
async function page<T>(path: string, headers: AuthHeaders): Promise<T> {
  const response = await get(path, headers);
  expect(response.status, `${path}: ${response.status}`).toBeLessThan(500);
  expect(response.status, path).toBe(200);
  return (await response.json()) as T;
}

/** Follows `next_cursor` to the end; every page but the last is full. */
async function walkCursor<T>(path: string, key: string, limit: number, headers: AuthHeaders): Promise<T[]> {
  const items: T[] = [];
  let cursor: string | null = null;
  for (let pages = 0; ; pages++) {
    expect(pages, "the walk ends").toBeLessThan(2_000);
    const separator = path.includes("?") ? "&" : "?";
    const body: Record<string, unknown> = await page(`${path}${separator}limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`, headers);
    const rows = body[key] as T[];
    cursor = body.next_cursor as string | null;
    if (cursor !== null) expect(rows).toHaveLength(limit);
    items.push(...rows);
    if (cursor === null) return items;
  }
}

interface ScimList<T> {
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: T[];
}

const SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/**
 * Follows startIndex to totalResults (totalResults the same on every page), by GET with `path`'s
 * query, or by POST to `path` with `search` as the SearchRequest body (RFC 7644 §3.4.3).
 */
async function walkScim<T>(path: string, count: number, headers: AuthHeaders, search?: Record<string, unknown>): Promise<{ total: number; resources: T[] }> {
  const resources: T[] = [];
  let total = -1;
  for (let startIndex = 1; total === -1 || startIndex <= total; startIndex += count) {
    const body = search
      ? await post<ScimList<T>>(path, { schemas: [SEARCH_REQUEST], ...search, startIndex, count }, headers)
      : await page<ScimList<T>>(`${path}${path.includes("?") ? "&" : "?"}count=${count}&startIndex=${startIndex}`, headers);
    if (total === -1) total = body.totalResults;
    expect(body.totalResults).toBe(total);
    expect(body.startIndex).toBe(startIndex);
    expect(body.itemsPerPage).toBe(body.Resources.length);
    expect(body.Resources.length).toBe(Math.min(count, total - startIndex + 1));
    resources.push(...body.Resources);
  }
  return { total, resources };
}

async function post<T>(path: string, body: unknown, headers: AuthHeaders): Promise<T> {
  const init = { method: "POST", headers: { ...headers, "content-type": "application/scim+json" }, body: JSON.stringify(body) };
  const response = await callApp(new Request(BASE + path, init), { READ_TOKENS, ROLE_MAPPING });
  expect(response.status, `POST ${path}`).toBe(200);
  return (await response.json()) as T;
}

/** The same ids, each exactly once. */
function expectExactly(actual: string[], expected: string[]) {
  expect(new Set(actual).size, "no duplicates").toBe(actual.length);
  expect([...actual].sort()).toEqual([...expected].sort());
}

const visible = (organizationId: string | null) => (row: { organizationId: string | null }) => organizationId === null || row.organizationId === organizationId;
const key = (row: { provider: string; externalId: string }) => `${row.provider}:${row.externalId}`;

/** Memberships by user key and by group id, built once (10,000 rows, read per row of every page). */
let groupsByUser: Map<string, string[]>;
let membersByGroup: Map<string, string[]>;

function indexMemberships() {
  groupsByUser = new Map();
  membersByGroup = new Map();
  for (const m of directory.memberships) {
    const user = `${m.provider}:${m.userExternalId}`;
    groupsByUser.set(user, [...(groupsByUser.get(user) ?? []), m.groupExternalId]);
    membersByGroup.set(m.groupExternalId, [...(membersByGroup.get(m.groupExternalId) ?? []), m.userExternalId]);
  }
}

/** A user's current groups as a reader of `organizationId` sees them: live groups of that organization. */
function groupsOf(user: { provider: string; externalId: string }, organizationId: string | null): string[] {
  const live = new Map(directory.groups.filter((g) => !g.deleted && visible(organizationId)(g)).map((g) => [g.externalId, g]));
  return (groupsByUser.get(key(user)) ?? []).filter((id) => live.has(id));
}

/** A group's members as a reader of `organizationId` sees them: users of that organization. */
function membersOf(groupExternalId: string, organizationId: string | null): string[] {
  const users = new Map(directory.users.map((u) => [key(u), u]));
  return (membersByGroup.get(groupExternalId) ?? []).filter((id) => visible(organizationId)(users.get(`${LARGE_PROVIDER}:${id}`)!));
}

/** ROLE_MAPPING above, applied by hand: a group grants only within its own organization. */
function expectedRoles(user: SeededUser): string[] {
  if (user.organizationId === null) return [];
  const groups = new Map(directory.groups.map((g) => [g.externalId, g]));
  const roles = new Set<string>();
  for (const id of groupsOf(user, null)) {
    const group = groups.get(id)!;
    if (group.organizationId !== user.organizationId) continue;
    if (user.organizationId === ORG_NORD && id === "g000") roles.add("all-hands");
    if (user.organizationId === ORG_SUD && group.name === "Équipe 7") roles.add("équipe");
  }
  return [...roles].sort();
}

beforeAll(async () => {
  directory = await seedLargeDirectory(env.DB);
  indexMemberships();
});

describe("the seeded directory", () => {
  it("is as large as promised", async () => {
    const count = async (table: string) => (await env.DB.prepare(`SELECT count(*) AS n FROM ${table}`).first<{ n: number }>())?.n;
    expect(await count("users")).toBe(1_200);
    expect(await count("groups")).toBe(300);
    expect(directory.memberships).toHaveLength(MEMBERSHIP_COUNT);
    expect(membersOf(directory.bigGroup, null).length).toBeGreaterThan(V1_MAX);
    expect(groupsOf({ provider: LARGE_PROVIDER, externalId: directory.busyUser }, null).length).toBeGreaterThan(100);
    expect(directory.users.some((u) => u.forgotten) && directory.users.some((u) => u.deleted)).toBe(true);
  });
});

describe("every list route is covered here", () => {
  /** GET routes that return one resource or a fixed document, not a list that grows with the directory. */
  const notLists = (path: string) =>
    /\/:[A-Za-z]+$/.test(path) ||
    ["/scim/v2/ServiceProviderConfig", "/scim/v2/connections/:connectionId/ServiceProviderConfig", "/openapi.json", "/healthz", "/healthz/", "/admin/notifications"].includes(path) ||
    // The console's HTML pages: bounded by test/console (100k events seeded).
    isConsolePath(path);
  const walked = [
    "/v1/users",
    "/v1/groups",
    "/v1/groups/:provider/:externalId/members",
    "/v1/directories",
    "/v1/changes",
    "/scim/v2/Users",
    "/scim/v2/Groups",
    "/scim/v2/Users/.search",
    "/scim/v2/Groups/.search",
    "/scim/v2/ResourceTypes",
    "/scim/v2/Schemas",
    "/admin/events",
    "/admin/dead-letters",
    "/admin/reconcile/runs",
    "/admin/directories",
    "/admin/notifications/deliveries",
    "/admin/scim-connections",
    "/admin/imports",
    "/scim/v2/connections/:connectionId/Users",
    "/scim/v2/connections/:connectionId/Groups",
    "/scim/v2/connections/:connectionId/ResourceTypes",
    "/scim/v2/connections/:connectionId/Schemas",
    "/scim/v2/connections/:connectionId/Users/.search",
    "/scim/v2/connections/:connectionId/Groups/.search",
  ];

  it("a new list route (GET, or POST /.search) fails this test until it is walked below", () => {
    const lists = createApp()
      .routes.filter((route) => (route.method === "GET" && !route.path.endsWith("*") && !notLists(route.path)) || (route.method === "POST" && route.path.endsWith("/.search")))
      .map((route) => route.path);
    expect([...new Set(lists)].sort()).toEqual([...walked].sort());
  });
});

describe("/v1/changes, followed to the end", () => {
  it.each(scopes)("GET /v1/changes?limit=500 ($name): every change of the seeding once, in order", async ({ headers, organizationId }) => {
    const seen: number[] = [];
    let after = 0;
    for (let pages = 0; ; pages++) {
      expect(pages, "the walk ends").toBeLessThan(2_000);
      const body = await page<{ changes: { seq: number; organization_id: string | null }[]; next: number }>(`/v1/changes?after=${after}&limit=500`, headers);
      expect(body.changes.length).toBeLessThanOrEqual(500);
      seen.push(...body.changes.map((change) => change.seq));
      if (body.next === after) break;
      after = body.next;
    }
    const expected = await env.DB.prepare("SELECT seq FROM changes WHERE ?1 IS NULL OR organization_id = ?1 ORDER BY seq").bind(organizationId).all<{ seq: number }>();
    expect(expected.results.length).toBeGreaterThan(1_000);
    expect(seen).toEqual(expected.results.map((row) => row.seq));
  });
});

describe("/admin/notifications/deliveries, followed to the end", () => {
  it("GET /admin/notifications/deliveries?limit=200: every change's delivery once, in seq order", async () => {
    // Relays the whole seeded feed (notifications on; the queue messages are dropped), then pages.
    const deps = { d1: env.DB, queue: { sendBatch: async () => undefined } as unknown as Queue, now: Date.now, webhookUrl: "https://app.example.com/hook" };
    while ((await relayChanges(deps)).relayed > 0);
    const seen: number[] = [];
    let after = 0;
    for (let pages = 0; ; pages++) {
      expect(pages, "the walk ends").toBeLessThan(100);
      const body = await page<{ deliveries: { seq: number }[]; next_after: number | null }>(`/admin/notifications/deliveries?after=${after}&limit=200`, ADMIN);
      expect(body.deliveries.length).toBeLessThanOrEqual(200);
      seen.push(...body.deliveries.map((delivery) => delivery.seq));
      if (body.next_after === null) break;
      after = body.next_after;
    }
    const expected = await env.DB.prepare("SELECT seq FROM changes ORDER BY seq").all<{ seq: number }>();
    expect(expected.results.length).toBeGreaterThan(1_000);
    expect(seen).toEqual(expected.results.map((row) => row.seq));
  });
});

describe("/v1 lists, followed to the end", () => {
  it.each(scopes)("GET /v1/users?limit=200 ($name): every user once, with roles from its memberships", async ({ headers, organizationId }) => {
    const rows = await walkCursor<{ provider: string; external_id: string; roles: string[] }>("/v1/users", "users", V1_MAX, headers);
    const expected = directory.users.filter(visible(organizationId));
    expectExactly(
      rows.map((row) => `${row.provider}:${row.external_id}`),
      expected.map(key),
    );
    const byKey = new Map(expected.map((u) => [key(u), u]));
    for (const row of rows) expect(row.roles, row.external_id).toEqual(expectedRoles(byKey.get(`${row.provider}:${row.external_id}`)!));
    expect(rows.some((row) => row.roles.length > 0)).toBe(true);
  });

  it.each([37, 100, 101])("GET /v1/users?limit=%i (admin): the same users at other page sizes", async (limit) => {
    const rows = await walkCursor<{ provider: string; external_id: string }>("/v1/users", "users", limit, ADMIN);
    expectExactly(
      rows.map((row) => `${row.provider}:${row.external_id}`),
      directory.users.map(key),
    );
  });

  it.each(scopes)("GET /v1/groups?limit=200 ($name): every group once", async ({ headers, organizationId }) => {
    const rows = await walkCursor<{ provider: string; external_id: string }>("/v1/groups", "groups", V1_MAX, headers);
    expectExactly(
      rows.map((row) => `${row.provider}:${row.external_id}`),
      directory.groups.filter(visible(organizationId)).map(key),
    );
  });

  it.each(scopes)("GET /v1/groups/:p/:id/members?limit=200 of a group of 480 ($name)", async ({ name, headers, organizationId }) => {
    const path = `/v1/groups/${LARGE_PROVIDER}/${encodeURIComponent(directory.bigGroup)}/members`;
    if (name === ORG_SUD) {
      // The group belongs to org_nord: to an org_süd reader it does not exist.
      expect((await get(`${path}?limit=${V1_MAX}`, headers)).status).toBe(404);
      return;
    }
    const rows = await walkCursor<{ external_id: string }>(path, "members", V1_MAX, headers);
    const expected = membersOf(directory.bigGroup, organizationId);
    expect(expected.length).toBeGreaterThan(2 * V1_MAX);
    expectExactly(
      rows.map((row) => row.external_id),
      expected,
    );
  });

  it.each(scopes)("GET /v1/users/:p/:id of a user in 165 groups ($name)", async ({ name, headers, organizationId }) => {
    const response = await get(`/v1/users/${LARGE_PROVIDER}/${encodeURIComponent(directory.busyUser)}`, headers);
    if (name === ORG_NORD) {
      expect(response.status).toBe(404);
      return;
    }
    expect(response.status).toBe(200);
    const body = (await response.json()) as { groups: { external_id: string }[]; roles: string[] };
    const expected = groupsOf({ provider: LARGE_PROVIDER, externalId: directory.busyUser }, organizationId);
    expect(expected.length).toBeGreaterThan(100);
    expectExactly(
      body.groups.map((group) => group.external_id),
      expected,
    );
    expect(body.roles).toEqual(["équipe"]);
  });
});

/** 450 directories over both organizations and none (the seed has none), every third disabled. */
const DIRECTORY_COUNT = 450;
const seededDirectories = Array.from({ length: DIRECTORY_COUNT }, (_, i) => ({
  provider: LARGE_PROVIDER,
  externalId: `dir_${String(i).padStart(4, "0")}`,
  organizationId: [ORG_NORD, ORG_SUD, null][i % 3] ?? null,
  enabled: i % 3 !== 0,
}));

async function seedDirectories() {
  const rows = JSON.stringify(seededDirectories);
  await env.DB.prepare(
    `INSERT INTO directories (provider, id, organization_id, directory_type, idp_provider, enabled, status, last_event_at, last_event_version, created_at, updated_at)
     SELECT r.value ->> 'provider', r.value ->> 'externalId', r.value ->> 'organizationId', 'SCIM', 'OKTA', r.value ->> 'enabled', NULL, 0, '0', 0, 0
     FROM json_each(?) AS r`,
  )
    .bind(rows)
    .run();
}

describe("directory lists, followed to the end", () => {
  beforeAll(seedDirectories);

  it.each(scopes)("GET /v1/directories?limit=200 ($name): every directory once", async ({ headers, organizationId }) => {
    const rows = await walkCursor<{ provider: string; directory_id: string }>("/v1/directories", "directories", V1_MAX, headers);
    expectExactly(
      rows.map((row) => `${row.provider}:${row.directory_id}`),
      seededDirectories.filter(visible(organizationId)).map(key),
    );
  });

  it("GET /admin/directories?limit=200: every directory once", async () => {
    const rows = await walkCursor<{ id: string }>("/admin/directories", "directories", V1_MAX, ADMIN);
    expectExactly(
      rows.map((row) => row.id),
      seededDirectories.map(key),
    );
  });

  it("GET /v1/directories?enabled=false&limit=37 (admin): the filter holds across pages", async () => {
    const rows = await walkCursor<{ id: string }>("/v1/directories?enabled=false", "directories", 37, ADMIN);
    expectExactly(
      rows.map((row) => row.id),
      seededDirectories.filter((d) => !d.enabled).map(key),
    );
  });
});

/** 450 SCIM connections over both organizations (the walk never needs their tokens). */
const CONNECTION_COUNT = 450;
const seededConnections = Array.from({ length: CONNECTION_COUNT }, (_, i) => ({
  id: `scn_${i.toString(16).padStart(24, "0")}`,
  organizationId: i % 3 === 0 ? ORG_SUD : ORG_NORD,
}));

describe("/admin/scim-connections, followed to the end", () => {
  beforeAll(async () => {
    await env.DB.prepare(
      `INSERT INTO scim_connections (id, organization_id, name, provider, token_hash, created_at, updated_at)
       SELECT r.value ->> 'id', r.value ->> 'organizationId', NULL, 'scim-' || (r.value ->> 'id'), hex(randomblob(32)), 0, 0
       FROM json_each(?) AS r`,
    )
      .bind(JSON.stringify(seededConnections))
      .run();
  });

  it("GET /admin/scim-connections?limit=200: every connection once", async () => {
    const rows = await walkCursor<{ id: string }>("/admin/scim-connections", "connections", V1_MAX, ADMIN);
    expectExactly(
      rows.map((row) => row.id),
      seededConnections.map((connection) => connection.id),
    );
  });

  it(`GET /admin/scim-connections?organization_id=${ORG_SUD}&limit=37: the filter holds across pages`, async () => {
    const rows = await walkCursor<{ id: string; organization_id: string }>(`/admin/scim-connections?organization_id=${encodeURIComponent(ORG_SUD)}`, "connections", 37, ADMIN);
    expectExactly(
      rows.map((row) => row.id),
      seededConnections.filter((connection) => connection.organizationId === ORG_SUD).map((connection) => connection.id),
    );
  });
});

describe("/scim/v2 lists, followed to totalResults", () => {
  type ScimUser = { id: string; groups?: { value: string }[] };
  type ScimGroup = { id: string; members?: { value: string }[] };

  it.each(scopes)(`GET /scim/v2/Users?count=${MAX_RESULTS} ($name): every user once, each with its groups`, async ({ headers, organizationId }) => {
    const { total, resources } = await walkScim<ScimUser>("/scim/v2/Users", MAX_RESULTS, headers);
    const expected = directory.users.filter(visible(organizationId));
    expect(total).toBe(expected.length);
    expectExactly(
      resources.map((user) => user.id),
      expected.map(key),
    );
    const byKey = new Map(expected.map((u) => [key(u), u]));
    for (const user of resources) {
      const seeded = byKey.get(user.id)!;
      expectExactly(
        (user.groups ?? []).map((group) => group.value),
        groupsOf(seeded, organizationId).map((id) => `${seeded.provider}:${id}`),
      );
    }
  });

  it("GET /scim/v2/Users at other page sizes (admin): the same users", async () => {
    for (const count of [101, 199]) {
      const { resources } = await walkScim<ScimUser>("/scim/v2/Users?attributes=userName", count, ADMIN);
      expectExactly(
        resources.map((user) => user.id),
        directory.users.map(key),
      );
    }
  });

  it.each(scopes)(`GET /scim/v2/Groups?count=${MAX_RESULTS} ($name): every group once, each with its members`, async ({ headers, organizationId }) => {
    const { total, resources } = await walkScim<ScimGroup>("/scim/v2/Groups", MAX_RESULTS, headers);
    const expected = directory.groups.filter(visible(organizationId));
    expect(total).toBe(expected.length);
    expectExactly(
      resources.map((group) => group.id),
      expected.map(key),
    );
    for (const group of resources) {
      const externalId = group.id.slice(LARGE_PROVIDER.length + 1);
      expectExactly(
        (group.members ?? []).map((member) => member.value),
        membersOf(externalId, organizationId).map((id) => `${LARGE_PROVIDER}:${id}`),
      );
    }
  });

  it.each(scopes)(`GET /scim/v2/Groups?count=${MAX_RESULTS}&excludedAttributes=members ($name): no member lists`, async ({ headers, organizationId }) => {
    const { total, resources } = await walkScim<ScimGroup>("/scim/v2/Groups?excludedAttributes=members", MAX_RESULTS, headers);
    expect(total).toBe(directory.groups.filter(visible(organizationId)).length);
    expect(new Set(resources.map((group) => group.id)).size).toBe(total);
    expect(resources.every((group) => group.members === undefined)).toBe(true);
  });

  it.each(scopes)(`POST /scim/v2/Users/.search and Groups/.search, count ${MAX_RESULTS} ($name): the same rows as GET`, async ({ headers, organizationId }) => {
    const people = await walkScim<ScimUser>("/scim/v2/Users/.search", MAX_RESULTS, headers, { attributes: ["userName"] });
    expectExactly(
      people.resources.map((user) => user.id),
      directory.users.filter(visible(organizationId)).map(key),
    );
    const teams = await walkScim<ScimGroup>("/scim/v2/Groups/.search", MAX_RESULTS, headers, { excludedAttributes: ["members"] });
    expectExactly(
      teams.resources.map((group) => group.id),
      directory.groups.filter(visible(organizationId)).map(key),
    );
  });

  // Sorted pages repeat values (users without a userName, equal names): ties must not move rows between pages.
  it.each([
    ["/scim/v2/Users?sortBy=userName&sortOrder=descending", "users"],
    ["/scim/v2/Users?sortBy=displayName&sortOrder=descending&attributes=displayName", "users"],
    ["/scim/v2/Users?sortBy=meta.created", "users"],
    ["/scim/v2/Users?sortBy=meta.lastModified&excludedAttributes=groups", "users"],
    ["/scim/v2/Groups?sortBy=displayName&excludedAttributes=members", "groups"],
  ] as const)("GET %s, count 200 and 101 (admin): every row once", async (path, table) => {
    for (const count of [MAX_RESULTS, 101]) {
      const { resources } = await walkScim<{ id: string }>(path, count, ADMIN);
      expectExactly(
        resources.map((row) => row.id),
        (table === "users" ? directory.users : directory.groups).map(key),
      );
    }
  });

  it("a filter at its term limit binds two parameters a term, under D1's 100 with the scope and paging", async () => {
    // 20 `ew` terms (the most a filter may have), each binding its value twice: 40 + scope + limit + offset.
    const filter = Array.from({ length: 20 }, (_, i) => `userName ew "${i}@example.com"`).join(" or ");
    const { total, resources } = await walkScim<ScimUser>(`/scim/v2/Users?filter=${encodeURIComponent(filter)}&attributes=userName`, 7, SUD);
    expect(total).toBeGreaterThan(0);
    expect(new Set(resources.map((user) => user.id)).size).toBe(total);
  });

  it.each(["/scim/v2/ResourceTypes", "/scim/v2/Schemas"])("GET %s answers its fixed list", async (path) => {
    const body = await page<ScimList<unknown>>(path, SUD);
    expect(body.Resources.length).toBe(body.totalResults);
  });
});

describe("/admin lists at their largest page, followed to the end", () => {
  type EventJson = { provider: string; event_id: string; received_at: string; status: string };

  it("GET /admin/events?limit=200: every event once, in key order (no index orders applied events by time)", async () => {
    const rows = await walkCursor<EventJson>("/admin/events", "events", ADMIN_EVENTS_MAX, ADMIN);
    const keys = rows.map((row) => `${row.provider}\u0000${row.event_id}`);
    expectExactly(keys, directory.events);
    // SQLite's order: BINARY collation on UTF-8 bytes, the same as code-point order here.
    expect(keys).toEqual([...keys].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
  });

  it("GET /admin/events?status=failed&limit=200: the filter holds across pages", async () => {
    const rows = await walkCursor<EventJson>("/admin/events?status=failed", "events", ADMIN_EVENTS_MAX, ADMIN);
    const failed = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE status = 'failed'").first<{ n: number }>();
    expect(rows.length).toBe(failed?.n);
    expect(rows.every((row) => row.status === "failed")).toBe(true);
    expect(new Set(rows.map((row) => `${row.provider}\u0000${row.event_id}`)).size).toBe(rows.length);
  });

  it("GET /admin/dead-letters?limit=200: every dead letter once", async () => {
    const rows = await walkCursor<{ message_id: string }>("/admin/dead-letters", "dead_letters", ADMIN_EVENTS_MAX, ADMIN);
    expectExactly(
      rows.map((row) => row.message_id),
      directory.deadLetters,
    );
  });

  it("GET /admin/reconcile/runs?limit=100: the newest 100 runs, newest first", async () => {
    const body = await page<{ runs: { id: string }[] }>(`/admin/reconcile/runs?limit=${RUNS_MAX}`, ADMIN);
    expect(body.runs.map((run) => run.id)).toEqual(directory.runs.slice(0, RUNS_MAX));
  });

  it("GET /admin/imports?limit=100: every import once, newest first, past two full pages", async () => {
    // 250 imports, more than two of the largest page, two of them at the same instant (the id breaks the tie).
    const count = 250;
    await env.DB.prepare(
      `WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?1)
       INSERT INTO imports (id, provider, organization_id, format, status, request_hash, rows_total, rows_valid, rows_invalid, chunks_total, chunks_queued, created_at, updated_at)
       SELECT printf('imp_walk_%04d', i), 'import-org_walk', 'org_walk', 'ndjson', 'done', 'h', 1, 1, 0, 1, 1, 1700000000000 + min(i, ?1 - 1) * 1000, 1700000000000 FROM n`,
    )
      .bind(count)
      .run();
    const rows = await walkCursor<{ id: string }>("/admin/imports", "imports", 100, ADMIN);
    const ids = rows.map((row) => row.id).filter((id) => id.startsWith("imp_walk_"));
    expect(new Set(ids).size).toBe(count);
    expect(ids.length).toBe(count);
    // Newest first: the created_at order, ties broken by id, descending.
    const expected = Array.from({ length: count }, (_, index) => index + 1)
      .map((i) => ({ id: `imp_walk_${String(i).padStart(4, "0")}`, at: Math.min(i, count - 1) }))
      .sort((a, b) => b.at - a.at || (a.id < b.id ? 1 : -1))
      .map((row) => row.id);
    expect(ids).toEqual(expected);
  });

  it.each([NORD, SUD])("every admin list refuses a read token with 403, never a 5xx (%j)", async (headers) => {
    for (const path of ["/admin/events?limit=200", "/admin/dead-letters?limit=200", "/admin/reconcile/runs?limit=100", "/admin/directories?limit=200", "/admin/imports?limit=100"]) {
      expect((await get(path, headers)).status, path).toBe(403);
    }
  });
});

describe("what a page costs in D1 round trips", () => {
  /** Round trips one request makes through a counting D1 binding. */
  async function roundTrips(path: string, headers: AuthHeaders = ADMIN): Promise<number> {
    const d1 = countingD1(env.DB);
    const response = await get(path, headers, { DB: d1.db });
    expect(response.status, path).toBe(200);
    await response.arrayBuffer();
    return d1.roundTrips();
  }

  // `reader`: a scoped token that can see the listed rows (admin lists take admin tokens only).
  it.each([
    { route: "/v1/users (page, then memberships and roles)", small: "/v1/users?limit=10", large: `/v1/users?limit=${V1_MAX}`, reader: SUD, trips: 2 },
    { route: "/v1/groups", small: "/v1/groups?limit=10", large: `/v1/groups?limit=${V1_MAX}`, reader: SUD, trips: 1 },
    { route: "/v1/groups/:p/:id/members (group, then page)", small: "/v1/groups/scalekit/g000/members?limit=10", large: `/v1/groups/scalekit/g000/members?limit=${V1_MAX}`, reader: NORD, trips: 2 },
    { route: "/scim/v2/Users (page and count in one batch, then groups)", small: "/scim/v2/Users?count=10", large: `/scim/v2/Users?count=${MAX_RESULTS}`, reader: SUD, trips: 2 },
    { route: "/scim/v2/Groups (page and count in one batch, then members)", small: "/scim/v2/Groups?count=10", large: `/scim/v2/Groups?count=${MAX_RESULTS}`, reader: SUD, trips: 2 },
    { route: "/scim/v2/Groups?excludedAttributes=members", small: "/scim/v2/Groups?count=10&excludedAttributes=members", large: `/scim/v2/Groups?count=${MAX_RESULTS}&excludedAttributes=members`, reader: SUD, trips: 1 },
    { route: "/v1/directories", small: "/v1/directories?limit=10", large: `/v1/directories?limit=${V1_MAX}`, reader: SUD, trips: 1 },
    { route: "/admin/events", small: "/admin/events?limit=10", large: `/admin/events?limit=${ADMIN_EVENTS_MAX}`, reader: ADMIN, trips: 1 },
  ])("$route: $trips, whatever the page size", async ({ small, large, reader, trips }) => {
    expect(await roundTrips(small)).toBe(trips);
    expect(await roundTrips(large)).toBe(trips);
    expect(await roundTrips(large, reader)).toBe(trips);
  });

  it("/v1/users/:p/:id of a user in 165 groups: 2 (the user, then its groups)", async () => {
    expect(await roundTrips(`/v1/users/${LARGE_PROVIDER}/${encodeURIComponent(directory.busyUser)}`)).toBe(2);
  });
});

describe("a 500 under /scim/v2 is a SCIM error", () => {
  /** A D1 binding whose every call fails, as an outage would. */
  const failing = {
    prepare() {
      throw new Error("D1_ERROR: simulated outage (secret-looking detail)");
    },
    batch() {
      throw new Error("D1_ERROR: simulated outage (secret-looking detail)");
    },
  } as unknown as D1Database;

  it.each(["/scim/v2/Users?count=200", "/scim/v2/Groups", `/scim/v2/Users/${LARGE_PROVIDER}:u0000`, `/scim/v2/Groups/${LARGE_PROVIDER}:g000`])("GET %s with D1 down", async (path) => {
    const response = await get(path, ADMIN, { DB: failing });
    expect(response.status).toBe(500);
    expect(response.headers.get("content-type")).toContain("application/scim+json");
    const text = await response.text();
    expect(JSON.parse(text)).toMatchObject({ schemas: [SCIM_ERROR], status: "500" });
    expect(text).not.toContain("simulated");
  });

  it("auth failures under /scim/v2 stay 401 and 403, never that 500", async () => {
    expect((await get("/scim/v2/Users", {}, { DB: failing })).status).toBe(401);
    const write = await callApp(new Request(`${BASE}/scim/v2/Users`, { method: "POST", headers: SUD, body: "{}" }), { READ_TOKENS, DB: failing });
    expect(write.status).toBe(403);
  });

  it("outside /scim/v2 the same failure stays the JSON API's error", async () => {
    const response = await get("/v1/users", ADMIN, { DB: failing });
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: "internal_error" });
  });
});

// Last in the file: the connection's users are in ORG_NORD, which the walks above compare with the seeding.
describe("a SCIM connection's /Users and /Groups, followed to the end", () => {
  it(`GET …/Users and …/Groups?excludedAttributes=members, count ${MAX_RESULTS}: every record of the connection once, none of the large directory`, async () => {
    const now = Date.now();
    const { connection, token } = await createConnection(env.DB, { organizationId: ORG_NORD, name: null }, now);
    const provider = connection.provider;
    const userIds = Array.from({ length: 450 }, (_, i) => `u${String(i).padStart(4, "0")}`);
    const groupIds = Array.from({ length: 250 }, (_, i) => `g${String(i).padStart(4, "0")}`);
    const base = { provider, occurredAt: now, sourceType: "scim.seed" };
    const events: DirectoryEvent[] = [
      ...userIds.map((id): DirectoryEvent => ({
        ...base,
        eventId: `seed-${id}`,
        kind: "user_upserted",
        user: { externalId: id, email: `${id}@nord.example`, firstName: null, lastName: null, active: true, organizationId: ORG_NORD, directoryId: null, userName: `${id}@nord.example`, scimExternalId: null, attributes: null },
      })),
      ...groupIds.map((id): DirectoryEvent => ({ ...base, eventId: `seed-${id}`, kind: "group_upserted", group: { externalId: id, name: id, organizationId: ORG_NORD, directoryId: null } })),
    ];
    await runAtomically(env.DB, directoryWrites(events, now));
    const headers = { authorization: `Bearer ${token}` };
    const users = await walkScim<{ id: string }>(`/scim/v2/connections/${connection.id}/Users`, MAX_RESULTS, headers);
    expect(users.total).toBe(userIds.length);
    expectExactly(users.resources.map((user) => user.id), userIds);
    const groups = await walkScim<{ id: string; members?: unknown }>(`/scim/v2/connections/${connection.id}/Groups?excludedAttributes=members`, MAX_RESULTS, headers);
    expectExactly(groups.resources.map((group) => group.id), groupIds);
    expect(groups.resources.every((group) => group.members === undefined)).toBe(true);
    const searched = await walkScim<{ id: string }>(`/scim/v2/connections/${connection.id}/Users/.search`, MAX_RESULTS, headers, { attributes: ["userName"] });
    expectExactly(searched.resources.map((user) => user.id), userIds);
    const searchedGroups = await walkScim<{ id: string }>(`/scim/v2/connections/${connection.id}/Groups/.search`, MAX_RESULTS, headers, { excludedAttributes: ["members"] });
    expectExactly(searchedGroups.resources.map((group) => group.id), groupIds);
    // The fixed lists: every entry on the one page.
    for (const path of ["ResourceTypes", "Schemas"]) {
      const body = await page<ScimList<unknown>>(`/scim/v2/connections/${connection.id}/${path}`, headers);
      expect(body.totalResults).toBe(body.Resources.length);
      expect(body.Resources.length).toBeGreaterThan(1);
    }
  });
});
