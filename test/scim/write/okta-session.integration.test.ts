import { describe, expect, it } from "vitest";
import {
  changesOf,
  eventLogOf,
  filterQuery,
  GROUP_SCHEMA,
  groupsOf,
  membersOfProvider,
  newConnection,
  PATCH_OP,
  scim,
  tickingClock,
  USER_SCHEMA,
  usersOf,
} from "../../support/scim-connection";

/**
 * An Okta provisioning session replayed end to end through the Worker, against a connection's
 * base URL: lookup, create, duplicate create, read, profile update with PUT, group push, rename
 * and membership PATCHes, deactivation, group delete. Bodies are Okta's published ones, with the
 * ids replaced by the ones this server assigned.
 *
 * OKTA_SCIM20: "Okta and SCIM Version 2.0", https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/
 * (formerly /docs/reference/scim/scim-20/; markdown: github.com/okta/okta-developer-docs,
 * packages/@okta/vuepress-site/docs/reference/scim/scim-20/index.md), the same source as
 * test/scim/write/patch.unit.test.ts.
 */

const T0 = Date.parse("2026-12-02T09:00:00Z");

describe("an Okta session (OKTA_SCIM20)", () => {
  it("leaves the right users, groups, memberships and change events", async () => {
    const clock = tickingClock(T0);
    const connection = await newConnection("org_okta", T0);
    const call = (method: string, path: string, body?: unknown) => scim(connection, clock, method, path, body);

    // "Determine if the User already exists": GET /Users?filter=userName eq "…"&startIndex=1&count=100.
    const lookup = await call("GET", "/Users" + filterQuery('userName eq "test.user@okta.local"', "&startIndex=1&count=100"));
    expect(lookup.status).toBe(200);
    expect(lookup.body).toStrictEqual({ schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] });

    // "Create the User", the request.
    const createBody = {
      schemas: [USER_SCHEMA],
      userName: "test.user@okta.local",
      name: { givenName: "Test", familyName: "User" },
      emails: [{ primary: true, value: "test.user@okta.local", type: "work" }],
      displayName: "Test User",
      locale: "en-US",
      externalId: "00ujl29u0le5T6Aj10h7",
      groups: [],
      password: "1mz050nq",
      active: true,
    };
    const created = await call("POST", "/Users", createBody);
    expect(created.status).toBe(201);
    const userId = created.body.id as string;
    expect(created.headers.get("location")).toBe(`${connection.base}/Users/${userId}`);
    expect(created.headers.get("etag")).toBe(created.body.meta.version);
    expect(created.body).toMatchObject({
      schemas: [USER_SCHEMA],
      userName: "test.user@okta.local",
      externalId: "00ujl29u0le5T6Aj10h7",
      name: { givenName: "Test", familyName: "User" },
      emails: [{ value: "test.user@okta.local", type: "work", primary: true }],
      active: true,
      displayName: "Test User",
      locale: "en-US",
      meta: { resourceType: "User", location: `${connection.base}/Users/${userId}` },
    });
    expect(created.body.password).toBeUndefined();

    // Okta expects 409 uniqueness for an existing userName (any case).
    const duplicate = await call("POST", "/Users", { ...createBody, userName: "Test.User@OKTA.local" });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toMatchObject({ status: "409", scimType: "uniqueness" });

    // The lookup now finds the user; paging numbers are integers.
    const found = await call("GET", "/Users" + filterQuery('userName eq "test.user@okta.local"', "&startIndex=1&count=100"));
    expect(found.body).toMatchObject({ totalResults: 1, startIndex: 1, itemsPerPage: 1, Resources: [{ id: userId }] });

    // "Retrieve the User".
    const read = await call("GET", `/Users/${userId}`);
    expect(read.status).toBe(200);
    expect(read.body).toStrictEqual(created.body);

    // "Update a specific User (PUT)": Okta sends the whole profile.
    const updated = await call("PUT", `/Users/${userId}`, {
      schemas: [USER_SCHEMA],
      id: userId,
      userName: "test.user@okta.local",
      name: { givenName: "Another", middleName: "Fictional", familyName: "User" },
      emails: [{ primary: true, value: "test.user@okta.local", type: "work" }],
      displayName: "Another User",
      locale: "en-US",
      externalId: "00ujl29u0le5T6Aj10h7",
      groups: [],
      password: "1mz050nq",
      active: true,
      meta: { resourceType: "User", created: "2019-10-21T20:22:53.000Z", lastModified: "2019-10-21T20:22:53.000Z" },
    });
    expect(updated.status).toBe(200);
    expect(updated.body.name).toStrictEqual({ givenName: "Another", familyName: "User", middleName: "Fictional" });
    expect(updated.body).toMatchObject({ displayName: "Another User", locale: "en-US" });
    expect(updated.headers.get("etag")).not.toBe(created.headers.get("etag"));

    // A second user for the membership changes.
    const other = await call("POST", "/Users", { ...createBody, userName: "other.user@okta.local", externalId: "00uother", emails: [{ primary: true, value: "other.user@okta.local", type: "work" }] });
    expect(other.status).toBe(201);
    const otherId = other.body.id as string;

    // "Create Groups": Okta pushes a group with POST (here with the first member in it).
    const group = await call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "Test SCIMv1", members: [{ value: otherId, display: "other.user@okta.local" }] });
    expect(group.status).toBe(201);
    const groupId = group.body.id as string;
    expect(group.body.members).toStrictEqual([{ value: otherId, type: "User", $ref: `${connection.base}/Users/${otherId}` }]);

    // "Update a specific Group name": a path-less replace restating the id.
    const renamed = await call("PATCH", `/Groups/${groupId}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { id: groupId, displayName: "Test SCIMv2" } }] });
    expect(renamed.status).toBe(200);
    expect(renamed.body.displayName).toBe("Test SCIMv2");

    // "Update specific Group membership": remove one member and add another in one request.
    const membership = await call("PATCH", `/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "remove", path: `members[value eq "${otherId}"]` },
        { op: "add", path: "members", value: [{ value: userId, display: "test.user@okta.local" }] },
      ],
    });
    expect(membership.status).toBe(200);
    expect(membership.body.members.map((m: { value: string }) => m.value)).toStrictEqual([userId]);

    // Group lookup by name without members.
    const groupLookup = await call("GET", "/Groups" + filterQuery('displayName eq "test scimv2"', "&excludedAttributes=members"));
    expect(groupLookup.body).toMatchObject({ totalResults: 1, Resources: [{ id: groupId, displayName: "Test SCIMv2" }] });
    expect(groupLookup.body.Resources[0].members).toBeUndefined();

    // "Update a specific User (PATCH)": the deactivation.
    const deactivated = await call("PATCH", `/Users/${userId}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { active: false } }] });
    expect(deactivated.status).toBe(200);
    expect(deactivated.body.active).toBe(false);
    expect(deactivated.body.groups).toStrictEqual([{ value: groupId, display: "Test SCIMv2", $ref: `${connection.base}/Groups/${groupId}` }]);

    // "Delete a specific Group".
    const second = await call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "Short-lived", members: [] });
    expect((await call("DELETE", `/Groups/${second.body.id}`)).status).toBe(204);
    expect((await call("GET", `/Groups/${second.body.id}`)).status).toBe(404);

    // The directory, as the app reads it.
    expect(await usersOf(connection.provider)).toStrictEqual([
      { external_id: otherId, user_name: "other.user@okta.local", scim_external_id: "00uother", email: "other.user@okta.local", first_name: "Test", last_name: "User", active: 1, deleted_at: null, attributes: null },
      { external_id: userId, user_name: "test.user@okta.local", scim_external_id: "00ujl29u0le5T6Aj10h7", email: "test.user@okta.local", first_name: "Another", last_name: "User", active: 0, deleted_at: null, attributes: null },
    ]);
    expect(await groupsOf(connection.provider)).toStrictEqual([
      { external_id: second.body.id, name: "Short-lived", organization_id: "org_okta", deleted_at: expect.any(Number) },
      { external_id: groupId, name: "Test SCIMv2", organization_id: "org_okta", deleted_at: null },
    ]);
    expect(await membersOfProvider(connection.provider)).toStrictEqual([[groupId, userId]]);

    // The change feed: what the app is told.
    const recorded = await changesOf(connection.provider);
    expect(new Set(recorded.map((change) => change.source))).toEqual(new Set(["scim"]));
    const changes = recorded.map((change) => `${change.type} ${change.subject}`);
    expect(changes).toStrictEqual([
      `user.created ${userId}`,
      `user.updated ${userId}`,
      `user.created ${otherId}`,
      `group.created ${groupId}`,
      `group.member_added ${otherId}`,
      `group.updated ${groupId}`,
      `group.member_removed ${otherId}`,
      `group.member_added ${userId}`,
      `user.deactivated ${userId}`,
      `group.created ${second.body.id}`,
      `group.deleted ${second.body.id}`,
    ]);
    // Every write is in the event log, applied.
    const log = await eventLogOf(connection.provider);
    expect(log.every((row) => row.status === "applied")).toBe(true);
    expect(log.length).toBe(10);
  });
});
