import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/http/app";
import { ADMIN } from "../support/seed";
import { ALL_GROUPS, ALL_USERS, FOREIGN_MARKERS, seedTenants, TENANT_A_GROUPS, TENANT_A_USERS } from "../support/tenants";
import { callApp } from "../support/worker";

const BASE = "https://sync.example.com";
const READ_TOKENS = "read-everything tenant_a:read-tenant-a tenant_b:read-tenant-b";
const TENANT_A = { authorization: "Bearer read-tenant-a" };
const EVERYTHING = { authorization: "Bearer read-everything" };

const get = (path: string, headers: Record<string, string>, overrides: Partial<Env> = {}) =>
  callApp(new Request(BASE + path, { headers }), { READ_TOKENS, ...overrides });
const json = async <T>(response: Response) => (await response.json()) as T;

type UserJson = { external_id: string; roles: string[]; groups?: { external_id: string }[] };
type ScimList = { totalResults: number; Resources: { id: string; members?: { value: string }[]; groups?: { value: string }[] }[] };

/**
 * Every GET route of the read API, from the app itself, so a new route is walked without editing this test.
 * SCIM connection routes (/scim/v2/connections/…) take no read token at all: a connection's own
 * token reaches only its own records (test/scim/connections.integration.test.ts).
 */
const readRoutes = createApp()
  .routes.filter(
    (route) => route.method === "GET" && (route.path.startsWith("/v1/") || route.path.startsWith("/scim/v2/")) && !route.path.startsWith("/scim/v2/connections/") && !route.path.endsWith("*"),
  )
  .map((route) => route.path);

const scimIds = [...ALL_USERS, ...ALL_GROUPS].map((id) => `scalekit:${id}`);
const candidates: Record<string, string[]> = {
  provider: ["scalekit"],
  externalId: [...ALL_USERS, ...ALL_GROUPS],
  id: [...scimIds, "User", "Group", "urn:ietf:params:scim:schemas:core:2.0:User"],
};
const filters = ["userName pr or not (userName pr)", 'externalId sw "orgb_" or externalId sw "noorg_"', 'displayName eq "Admins"', 'id eq "scalekit:orgb_carol"', 'emails.value co "orgb_"'];
const queries = [
  "",
  "?limit=200&count=200",
  "?organization_id=tenant_b",
  "?organization_id=tenant_a",
  "?email=orgb_carol%40example.com",
  "?attributes=members,groups,displayName",
  ...filters.map((filter) => `?count=200&filter=${encodeURIComponent(filter)}`),
];

/** Every concrete path for a route pattern: each parameter takes every candidate value. */
function expand(pattern: string): string[] {
  const match = /:([A-Za-z]+)/.exec(pattern);
  if (!match) return [pattern];
  const values = candidates[match[1]!];
  if (!values) throw new Error(`no candidate values for :${match[1]} in ${pattern}`);
  return values.flatMap((value) => expand(pattern.replace(match[0], encodeURIComponent(value))));
}

describe("organization-scoped read tokens", () => {
  beforeAll(seedTenants);

  it("walks every read route: a tenant_a token never sees another organization's rows, or rows of none", async () => {
    expect(readRoutes.length).toBeGreaterThanOrEqual(11);
    let calls = 0;
    let ownRowsSeen = 0;
    for (const pattern of readRoutes) {
      for (const path of expand(pattern)) {
        for (const query of queries) {
          const response = await get(path + query, TENANT_A);
          const text = await response.text();
          calls++;
          expect([200, 400, 404], `${path}${query}`).toContain(response.status);
          for (const marker of FOREIGN_MARKERS) expect(text, `${path}${query} shows ${marker}`).not.toContain(marker);
          if (response.status === 200 && text.includes("orga_")) ownRowsSeen++;
        }
      }
    }
    expect(calls).toBeGreaterThan(300);
    // The walk saw the tenant's own data, so it checked real answers, not only 404s.
    expect(ownRowsSeen).toBeGreaterThan(50);
  });

  it("the same walk with an unscoped read token does see the other tenants (so the walk can fail)", async () => {
    const text = await (await get("/v1/users?limit=200", EVERYTHING)).text();
    for (const marker of FOREIGN_MARKERS) expect(text).toContain(marker);
    const scim = await json<ScimList>(await get("/scim/v2/Users", EVERYTHING));
    expect(scim.totalResults).toBe(ALL_USERS.length);
  });

  it("lists exactly the tenant's users and groups, in /v1 and SCIM", async () => {
    const users = await json<{ users: UserJson[] }>(await get("/v1/users?limit=200", TENANT_A));
    expect(users.users.map((user) => user.external_id)).toEqual(TENANT_A_USERS);
    const groups = await json<{ groups: { external_id: string }[] }>(await get("/v1/groups", TENANT_A));
    expect(groups.groups.map((group) => group.external_id)).toEqual(TENANT_A_GROUPS);
    const scimUsers = await json<ScimList>(await get("/scim/v2/Users", TENANT_A));
    expect(scimUsers).toMatchObject({ totalResults: TENANT_A_USERS.length });
    expect(scimUsers.Resources.map((resource) => resource.id)).toEqual(TENANT_A_USERS.map((id) => `scalekit:${id}`));
    const scimGroups = await json<ScimList>(await get("/scim/v2/Groups", TENANT_A));
    expect(scimGroups.Resources.map((resource) => resource.id)).toEqual(TENANT_A_GROUPS.map((id) => `scalekit:${id}`));
  });

  it("a filter cannot widen the scope: totalResults counts only the tenant", async () => {
    const everyone = encodeURIComponent('userName pr or not (userName pr) or externalId eq "orgb_carol"');
    expect(await json<ScimList>(await get(`/scim/v2/Users?filter=${everyone}`, TENANT_A))).toMatchObject({ totalResults: TENANT_A_USERS.length });
    const other = encodeURIComponent('externalId eq "orgb_carol"');
    expect(await json<ScimList>(await get(`/scim/v2/Users?filter=${other}`, TENANT_A))).toMatchObject({ totalResults: 0, Resources: [] });
  });

  it("a group's members and a user's groups stop at the organization's edge", async () => {
    const members = await json<{ members: { external_id: string }[] }>(await get("/v1/groups/scalekit/orga_eng/members", TENANT_A));
    expect(members.members.map((member) => member.external_id)).toEqual(["orga_alice", "orga_bob"]);
    const group = await json<{ members: { value: string }[] }>(await get("/scim/v2/Groups/scalekit:orga_eng", TENANT_A));
    expect(group.members.map((member) => member.value)).toEqual(["scalekit:orga_alice", "scalekit:orga_bob"]);
    const bob = await json<UserJson>(await get("/v1/users/scalekit/orga_bob", TENANT_A));
    expect(bob.groups?.map((g) => g.external_id)).toEqual(["orga_eng"]);
    const cross = await json<UserJson>(await get("/v1/users/scalekit/orga_cross", TENANT_A));
    expect(cross.groups).toEqual([]);
    // Unscoped, the cross-tenant rows are there.
    const all = await json<{ members: { external_id: string }[] }>(await get("/v1/groups/scalekit/orga_eng/members", EVERYTHING));
    expect(all.members.map((member) => member.external_id)).toEqual(["noorg_nobody", "orga_alice", "orga_bob", "orgb_dan"]);
  });

  it("another organization's resource answers 404 exactly like a missing one", async () => {
    const missing = await get("/v1/users/scalekit/does_not_exist", TENANT_A);
    for (const path of ["/v1/users/scalekit/orgb_carol", "/v1/users/scalekit/noorg_nobody", "/v1/groups/scalekit/orgb_admins/members", "/v1/groups/scalekit/noorg_group/members"]) {
      const response = await get(path, TENANT_A);
      expect(response.status, path).toBe(404);
      expect(await response.text()).toBe(await missing.clone().text());
    }
    const scimMissing = await (await get("/scim/v2/Users/scalekit:does_not_exist", TENANT_A)).text();
    expect(await (await get("/scim/v2/Users/scalekit:orgb_carol", TENANT_A)).text()).toBe(scimMissing);
    const scimGroupMissing = await (await get("/scim/v2/Groups/scalekit:does_not_exist", TENANT_A)).text();
    expect(await (await get("/scim/v2/Groups/scalekit:orgb_admins", TENANT_A)).text()).toBe(scimGroupMissing);
  });

  it("a tenant_b token sees tenant B only", async () => {
    const users = await json<{ users: UserJson[] }>(await get("/v1/users", { authorization: "Bearer read-tenant-b" }));
    expect(users.users.map((user) => user.external_id)).toEqual(["orgb_carol", "orgb_dan"]);
  });
});

describe("role mappings are scoped by provider and organization", () => {
  beforeAll(seedTenants);

  const mapping = [
    // tenant_a opts in to name matching for "Admins" only.
    { provider: "scalekit", organization_id: "tenant_a", group_name: "Admins", roles: ["admin"] },
    { provider: "scalekit", organization_id: "tenant_a", group_id: "orga_eng", roles: ["developer"] },
    { provider: "scalekit", organization_id: "tenant_a", directory_id: "dir_a", group_id: "orga_eng", roles: ["reader"] },
    { provider: "scalekit", organization_id: "tenant_a", directory_id: "dir_other", group_id: "orga_eng", roles: ["wrong_directory"] },
    { provider: "firstup", organization_id: "tenant_a", group_name: "Admins", roles: ["wrong_provider"] },
    { provider: "scalekit", organization_id: "tenant_b", group_id: "orgb_admins", roles: ["owner"] },
  ];
  const rolesOf = async (externalId: string, headers = ADMIN) => {
    const response = await get(`/v1/users/scalekit/${externalId}`, headers, { ROLE_MAPPING: JSON.stringify(mapping) });
    expect(response.status).toBe(200);
    return (await json<UserJson>(response)).roles;
  };

  it("grants by group id, and by name only where the organization opted in", async () => {
    expect(await rolesOf("orga_alice")).toEqual(["admin", "developer", "reader"]);
    // orga_eng2 is also called "Engineering", but tenant_a maps Engineering by id only.
    expect(await rolesOf("orga_erin")).toEqual([]);
  });

  it('a group called "Admins" in another organization, or in none, grants nothing from tenant_a\'s mapping', async () => {
    // orgb_carol is in tenant B's "Admins": only tenant B's own (id) mapping applies.
    expect(await rolesOf("orgb_carol")).toEqual(["owner"]);
    // orga_bob is in the organization-less "Admins": no admin.
    expect(await rolesOf("orga_bob")).toEqual(["developer", "reader"]);
  });

  it("a group grants nothing to a member from another organization", async () => {
    // orgb_dan is a member of tenant A's orga_eng; orga_cross of tenant B's orgb_admins.
    expect(await rolesOf("orgb_dan")).toEqual([]);
    expect(await rolesOf("orga_cross")).toEqual([]);
    expect(await rolesOf("noorg_nobody")).toEqual([]);
  });

  it("lists show the same sorted roles, scoped or not", async () => {
    const list = async (headers: Record<string, string>) =>
      Object.fromEntries(
        (await json<{ users: UserJson[] }>(await get("/v1/users?limit=200", headers, { ROLE_MAPPING: JSON.stringify(mapping) }))).users.map((user) => [user.external_id, user.roles]),
      );
    const expected = { orga_alice: ["admin", "developer", "reader"], orga_bob: ["developer", "reader"], orga_cross: [], orga_erin: [] };
    expect(await list(TENANT_A)).toEqual(expected);
    expect(await list(ADMIN)).toEqual({ ...expected, orgb_carol: ["owner"], orgb_dan: [], noorg_nobody: [] });
  });
});
