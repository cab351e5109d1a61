import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { runAtomically } from "../../../src/d1";
import { createApp } from "../../../src/http/app";
import { directoryWrites } from "../../../src/directory/writes";
import { commit } from "../../../src/scim/write/store";
import {
  changesOf,
  filterQuery,
  GROUP_SCHEMA,
  membersOfProvider,
  newConnection,
  PATCH_OP,
  scim,
  tickingClock,
  USER_SCHEMA,
  usersOf,
  type TestConnection,
} from "../../support/scim-connection";

/**
 * Tenant isolation of the write endpoints, retried requests (an identity provider's timeout and
 * resend), ETag/If-Match, ServiceProviderConfig and request validation, through the Worker.
 */

const T0 = Date.parse("2026-12-04T09:00:00Z");

const userBody = (userName: string, extra: Record<string, unknown> = {}) => ({
  schemas: [USER_SCHEMA],
  userName,
  name: { givenName: "Ada", familyName: "Lovelace" },
  emails: [{ value: userName, type: "work", primary: true }],
  active: true,
  ...extra,
});
const deactivate = { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { active: false } }] };

async function webhookUser(externalId: string, now: number) {
  await runAtomically(
    env.DB,
    directoryWrites(
      [
        {
          provider: "scalekit",
          eventId: `evt-${externalId}`,
          occurredAt: now,
          sourceType: "organization.directory.user_created",
          kind: "user_upserted",
          user: { externalId, email: `${externalId}@example.com`, firstName: "Web", lastName: "Hook", active: true, organizationId: "org_a", directoryId: "dir_1", userName: `${externalId}@example.com`, scimExternalId: null, attributes: null },
        },
      ],
      now,
    ),
  );
}

describe("isolation between connections and other providers", () => {
  it("refuses A's token on B's URL and never reaches B's or a webhook provider's records by id", async () => {
    const clock = tickingClock(T0);
    // Same organization on purpose: isolation is by connection, not only by organization.
    const a = await newConnection("org_a", T0);
    const b = await newConnection("org_a", T0);
    await webhookUser("dirusr_web", T0);
    const callA = (method: string, path: string, body?: unknown) => scim(a, clock, method, path, body);
    const bUser = (await scim(b, clock, "POST", "/Users", userBody("bee@example.com"))).body;
    const bGroup = (await scim(b, clock, "POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "B team", members: [{ value: bUser.id }] })).body;

    // A's token on B's base URL: 401 on every route the app serves there (read from the router, so
    // a route added later is walked too), with B's real ids in the path.
    const prefix = "/scim/v2/connections/:connectionId";
    const routes = createApp()
      .routes.filter((route) => route.path.startsWith(`${prefix}/`) && !route.path.endsWith("*") && route.method !== "ALL")
      .map((route) => [route.method, route.path.slice(prefix.length).replace(/^\/(Users|Groups)\/:id$/, (_m, type: string) => `/${type}/${type === "Users" ? bUser.id : bGroup.id}`)] as const);
    expect(routes.length).toBeGreaterThanOrEqual(18);
    for (const [method, path] of routes) {
      const reply = await scim(b, clock, method, path.replace(/:id$/, "User"), method === "GET" || method === "DELETE" ? undefined : userBody("x@example.com"), { token: a.token });
      expect([method, path, reply.status]).toStrictEqual([method, path, 401]);
    }
    expect(await usersOf(b.provider)).toHaveLength(1);

    // B's ids, the webhook user's id and the read server's provider-qualified ids are unknown under A.
    for (const id of [bUser.id, "dirusr_web", "scalekit:dirusr_web", `${b.provider}:${bUser.id}`]) {
      const path = `/Users/${encodeURIComponent(id)}`;
      expect((await callA("GET", path)).status).toBe(404);
      expect((await callA("PUT", path, userBody("steal@example.com"))).status).toBe(404);
      expect((await callA("PATCH", path, deactivate)).status).toBe(404);
      expect((await callA("DELETE", path)).status).toBe(404);
    }
    for (const path of [`/Groups/${bGroup.id}`]) {
      expect((await callA("GET", path)).status).toBe(404);
      expect((await callA("PATCH", path, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: "x" }] })).status).toBe(404);
      expect((await callA("PUT", path, { schemas: [GROUP_SCHEMA], displayName: "x" })).status).toBe(404);
      expect((await callA("DELETE", path)).status).toBe(404);
    }
    // Lists and filters see only A's own.
    expect((await callA("GET", "/Users")).body.totalResults).toBe(0);
    expect((await callA("GET", "/Users" + filterQuery('userName eq "bee@example.com"'))).body.totalResults).toBe(0);
    expect((await callA("GET", "/Users" + filterQuery('userName eq "dirusr_web@example.com"'))).body.totalResults).toBe(0);
    expect((await callA("GET", "/Groups")).body.totalResults).toBe(0);
    // A userName taken in B (or by a webhook user) is free in A.
    expect((await callA("POST", "/Users", userBody("bee@example.com"))).status).toBe(201);
    expect((await callA("POST", "/Users", userBody("dirusr_web@example.com"))).status).toBe(201);
    // A's group cannot take in B's or the webhook provider's users.
    const aGroup = await callA("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "A team", members: [{ value: bUser.id }] });
    expect(aGroup.status).toBe(400);
    expect(aGroup.body.scimType).toBe("invalidValue");
    const emptyGroup = (await callA("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "A team" })).body;
    const add = await callA("PATCH", `/Groups/${emptyGroup.id}`, { schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: "dirusr_web" }] }] });
    expect(add.status).toBe(400);

    // B and the webhook provider are exactly as they were.
    expect((await usersOf(b.provider)).map((u) => [u.user_name, u.active, u.deleted_at])).toStrictEqual([["bee@example.com", 1, null]]);
    expect(await membersOfProvider(b.provider)).toStrictEqual([[bGroup.id, bUser.id]]);
    expect((await usersOf("scalekit")).find((u) => u.external_id === "dirusr_web")).toMatchObject({ active: 1, deleted_at: null, first_name: "Web" });
    expect(await membersOfProvider(a.provider)).toStrictEqual([]);
  });
});

describe("retried requests", () => {
  async function setup() {
    const clock = tickingClock(T0);
    const connection = await newConnection("org_retry", T0);
    const call = (method: string, path: string, body?: unknown, headers?: Record<string, string>) => scim(connection, clock, method, path, body, { headers });
    return { connection, call };
  }
  const typesOf = async (connection: TestConnection) => (await changesOf(connection.provider)).map((change) => change.type);

  it("a retried POST is 409 uniqueness and creates nothing", async () => {
    const { connection, call } = await setup();
    expect((await call("POST", "/Users", userBody("ada@example.com"))).status).toBe(201);
    const retry = await call("POST", "/Users", userBody("ada@example.com"));
    expect(retry.status).toBe(409);
    expect(retry.body).toMatchObject({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "409", scimType: "uniqueness" });
    expect(await usersOf(connection.provider)).toHaveLength(1);
    expect(await typesOf(connection)).toStrictEqual(["user.created"]);
  });

  it("concurrent POSTs of one userName: exactly one is created", async () => {
    const { connection, call } = await setup();
    const replies = await Promise.all([0, 1, 2, 3, 4].map(() => call("POST", "/Users", userBody("race@example.com"))));
    expect(replies.map((reply) => reply.status).sort()).toStrictEqual([201, 409, 409, 409, 409]);
    expect(await usersOf(connection.provider)).toHaveLength(1);
  });

  it("the batch guard refuses a second holder of a userName even when the check before it passed", async () => {
    const provider = "scim-guard-test";
    const event = (eventId: string, externalId: string) => ({
      provider,
      eventId,
      occurredAt: T0,
      sourceType: "scim.user.create",
      kind: "user_upserted" as const,
      user: { externalId, email: null, firstName: null, lastName: null, active: true, organizationId: "org_guard", directoryId: null, userName: "Same@Example.com", scimExternalId: null, attributes: null },
    });
    expect(await commit(env.DB, [event("scim:1", "u1")], T0, { table: "users", provider, name: "same@example.com" })).toBe(true);
    // As if a concurrent POST had checked before u1 was stored.
    expect(await commit(env.DB, [event("scim:2", "u2")], T0, { table: "users", provider, name: "same@example.com" })).toBe(false);
    expect((await usersOf(provider)).map((user) => user.external_id)).toStrictEqual(["u1"]);
    const logged = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE provider = ?").bind(provider).first<{ n: number }>();
    expect(logged?.n).toBe(1);
  });

  it("a retried group POST is 409 uniqueness (displayName), concurrent ones create one group", async () => {
    const { connection, call } = await setup();
    const replies = await Promise.all([0, 1, 2].map(() => call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "Pushed" })));
    expect(replies.map((reply) => reply.status).sort()).toStrictEqual([201, 409, 409]);
    expect(replies.find((reply) => reply.status === 409)!.body.scimType).toBe("uniqueness");
    const retry = await call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "PUSHED" });
    expect(retry.status).toBe(409);
    const other = (await call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "Other" })).body;
    expect((await call("PATCH", `/Groups/${other.id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: "pushed" }] })).status).toBe(409);
    expect((await call("GET", "/Groups")).body.totalResults).toBe(2);
  });

  it("a retried PATCH or PUT lands on the same state: no second change", async () => {
    const { connection, call } = await setup();
    const user = (await call("POST", "/Users", userBody("ada@example.com"))).body;
    const first = await call("PATCH", `/Users/${user.id}`, deactivate);
    const second = await call("PATCH", `/Users/${user.id}`, deactivate);
    expect([first.status, second.status]).toStrictEqual([200, 200]);
    expect(second.body).toStrictEqual(first.body);
    expect(second.headers.get("etag")).toBe(first.headers.get("etag"));
    const put = userBody("ada@example.com", { name: { givenName: "Augusta", familyName: "King" }, active: false });
    // A PUT that leaves `active` out does not reactivate.
    const { active: _left, ...withoutActive } = userBody("ada@example.com");
    expect((await call("PUT", `/Users/${user.id}`, withoutActive)).body.active).toBe(false);
    const put1 = await call("PUT", `/Users/${user.id}`, put);
    const put2 = await call("PUT", `/Users/${user.id}`, put);
    expect(put2.body).toStrictEqual(put1.body);
    const group = (await call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "G" })).body;
    const addMember = { schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: user.id }] }] };
    expect((await call("PATCH", `/Groups/${group.id}`, addMember)).status).toBe(200);
    expect((await call("PATCH", `/Groups/${group.id}`, addMember)).status).toBe(200);
    const removeMember = { schemas: [PATCH_OP], Operations: [{ op: "remove", path: `members[value eq "${user.id}"]` }] };
    expect((await call("PATCH", `/Groups/${group.id}`, removeMember)).status).toBe(200);
    expect((await call("PATCH", `/Groups/${group.id}`, removeMember)).status).toBe(200);
    expect(await typesOf(connection)).toStrictEqual(["user.created", "user.deactivated", "user.updated", "group.created", "group.member_added", "group.member_removed"]);
  });

  it("a retried DELETE is 404, and nothing after a DELETE resurrects the user or the group", async () => {
    const { connection, call } = await setup();
    const user = (await call("POST", "/Users", userBody("ada@example.com"))).body;
    const group = (await call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "G", members: [{ value: user.id }] })).body;
    expect((await call("DELETE", `/Users/${user.id}`)).status).toBe(204);
    expect((await call("DELETE", `/Users/${user.id}`)).status).toBe(404);
    expect((await call("PATCH", `/Users/${user.id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "active", value: true }] })).status).toBe(404);
    expect((await call("PUT", `/Users/${user.id}`, userBody("ada@example.com"))).status).toBe(404);
    expect((await call("PATCH", `/Groups/${group.id}`, { schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: user.id }] }] })).status).toBe(400);
    expect((await call("DELETE", `/Groups/${group.id}`)).status).toBe(204);
    expect((await call("DELETE", `/Groups/${group.id}`)).status).toBe(404);
    expect((await call("PATCH", `/Groups/${group.id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: "H" }] })).status).toBe(404);
    const [row] = await usersOf(connection.provider);
    expect(row).toMatchObject({ active: 0, deleted_at: expect.any(Number) });
    expect(await membersOfProvider(connection.provider)).toStrictEqual([]);
    expect(await typesOf(connection)).toStrictEqual(["user.created", "group.created", "group.member_added", "user.deleted", "group.member_removed", "group.deleted"]);
    // A new POST of the same userName is a new user (a new id), not the old one brought back.
    const again = await call("POST", "/Users", userBody("ada@example.com"));
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(user.id);
  });

  it("two writes in the same millisecond: the later request wins", async () => {
    const connection = await newConnection("org_same_ms", T0);
    const frozen = () => T0;
    const user = (await scim(connection, frozen, "POST", "/Users", userBody("ada@example.com"))).body;
    for (let round = 0; round < 5; round++) {
      expect((await scim(connection, frozen, "PATCH", `/Users/${user.id}`, deactivate)).body.active).toBe(false);
      const reactivated = await scim(connection, frozen, "PATCH", `/Users/${user.id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "active", value: true }] });
      expect(reactivated.body.active).toBe(true);
    }
    const group = (await scim(connection, frozen, "POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "G" })).body;
    for (const op of ["add", "remove", "add"]) {
      const body = op === "add" ? { schemas: [PATCH_OP], Operations: [{ op, path: "members", value: [{ value: user.id }] }] } : { schemas: [PATCH_OP], Operations: [{ op, path: `members[value eq "${user.id}"]` }] };
      expect((await scim(connection, frozen, "PATCH", `/Groups/${group.id}`, body)).status).toBe(200);
    }
    expect(await membersOfProvider(connection.provider)).toStrictEqual([[group.id, user.id]]);
  });
});

describe("ETag and If-Match", () => {
  it("answers 412 on a stale If-Match and applies on a current one", async () => {
    const clock = tickingClock(T0);
    const connection = await newConnection("org_etag", T0);
    const created = await scim(connection, clock, "POST", "/Users", userBody("ada@example.com"));
    const etag = created.headers.get("etag")!;
    expect(etag).toMatch(/^W\/"[0-9a-f]{32}"$/);
    const changed = await scim(connection, clock, "PATCH", `/Users/${created.body.id}`, deactivate, { headers: { "if-match": etag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get("etag")).not.toBe(etag);
    const stale = await scim(connection, clock, "PUT", `/Users/${created.body.id}`, userBody("ada@example.com"), { headers: { "if-match": etag } });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ status: "412" });
    expect((await scim(connection, clock, "DELETE", `/Users/${created.body.id}`, undefined, { headers: { "if-match": etag } })).status).toBe(412);
    expect((await scim(connection, clock, "GET", `/Users/${created.body.id}`)).body.active).toBe(false);
    expect((await scim(connection, clock, "DELETE", `/Users/${created.body.id}`, undefined, { headers: { "if-match": "*" } })).status).toBe(204);
  });
});

describe("discovery, paging and validation", () => {
  it("ServiceProviderConfig tells the truth", async () => {
    const connection = await newConnection("org_spc", T0);
    const config = (await scim(connection, () => T0, "GET", "/ServiceProviderConfig")).body;
    expect(config).toMatchObject({
      patch: { supported: true },
      bulk: { supported: false },
      filter: { supported: true },
      changePassword: { supported: false },
      sort: { supported: true },
      etag: { supported: true },
    });
  });

  it("pages with integers and sorts", async () => {
    const clock = tickingClock(T0);
    const connection = await newConnection("org_paging", T0);
    for (const name of ["c@example.com", "a@example.com", "b@example.com"]) await scim(connection, clock, "POST", "/Users", userBody(name));
    const page = await scim(connection, clock, "GET", "/Users?startIndex=2&count=1&sortBy=userName");
    expect(page.body).toMatchObject({ totalResults: 3, startIndex: 2, itemsPerPage: 1, Resources: [{ userName: "b@example.com" }] });
    const bad = await scim(connection, clock, "GET", "/Users?startIndex=abc");
    expect(bad.status).toBe(400);
    expect(bad.body.scimType).toBe("invalidValue");
    const badFilter = await scim(connection, clock, "GET", "/Users" + filterQuery("userName eq"));
    expect(badFilter.body.scimType).toBe("invalidFilter");
  });

  it("refuses bodies that are not JSON, not a User, too large, or a bad patch, in SCIM form", async () => {
    const clock = tickingClock(T0);
    const connection = await newConnection("org_bad", T0);
    const notJson = await scim(connection, clock, "POST", "/Users", undefined, { raw: "{not json" });
    expect([notJson.status, notJson.body.scimType]).toStrictEqual([400, "invalidSyntax"]);
    const noUserName = await scim(connection, clock, "POST", "/Users", { schemas: [USER_SCHEMA], active: true });
    expect([noUserName.status, noUserName.body.scimType]).toStrictEqual([400, "invalidValue"]);
    const huge = await scim(connection, clock, "POST", "/Users", userBody("a@example.com", { title: "x".repeat(1024 * 1024 + 1) }));
    expect(huge.status).toBe(413);
    const user = (await scim(connection, clock, "POST", "/Users", userBody("a@example.com"))).body;
    const badPatch = await scim(connection, clock, "PATCH", `/Users/${user.id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "id", value: "other" }] });
    expect([badPatch.status, badPatch.body.scimType]).toStrictEqual([400, "mutability"]);
    const taken = (await scim(connection, clock, "POST", "/Users", userBody("b@example.com"))).body;
    const rename = await scim(connection, clock, "PATCH", `/Users/${taken.id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "userName", value: "A@example.com" }] });
    expect([rename.status, rename.body.scimType]).toStrictEqual([409, "uniqueness"]);
  });
});
