import { describe, expect, it } from "vitest";
import {
  changesOf,
  ENTERPRISE,
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
 * A Microsoft Entra ID provisioning session replayed end to end through the Worker, once in the
 * default form and once with the `aadOptscim062020` flag: lookups by userName, externalId and
 * work email (200 with totalResults 0 on no match), create, multi-attribute update, disable,
 * group create and lookup without members, member add and remove, delete. Bodies are Microsoft's
 * published ones (same sources as test/scim/write/patch.unit.test.ts), ids replaced by ours:
 *
 * - ENTRA_TUTORIAL: https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
 * - ENTRA_KNOWN_ISSUES ("Flags to alter the SCIM behavior"):
 *   https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
 */

const T0 = Date.parse("2026-12-03T09:00:00Z");

// ENTRA_TUTORIAL, "Create User", the request.
const createUser = {
  schemas: [USER_SCHEMA, ENTERPRISE],
  externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
  userName: "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
  active: true,
  emails: [{ primary: true, type: "work", value: "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com" }],
  meta: { resourceType: "User" },
  name: { formatted: "givenName familyName", familyName: "familyName", givenName: "givenName" },
  roles: [],
};

// ENTRA_TUTORIAL, "Create Group", the request.
const createGroup = {
  schemas: [GROUP_SCHEMA, "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
  externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
  displayName: "displayName",
  meta: { resourceType: "Group" },
};

interface Dialect {
  name: string;
  /** The flag rides on the Tenant URL's query string (ENTRA_KNOWN_ISSUES): Entra sends it on every request. */
  query: string;
  /** ENTRA_KNOWN_ISSUES, "Requests to replace multiple attributes". */
  replaceMany: unknown;
  expected: { email: string; givenName: string; familyName: string; employeeNumber: string; externalId: string };
  /** ENTRA_KNOWN_ISSUES, "Requests made to disable users". */
  disable: unknown;
  /** ENTRA_TUTORIAL "Update Group [Add Members]" (both forms send it). */
  addMember: (userId: string) => unknown;
  /** ENTRA_KNOWN_ISSUES, "Requests made to remove a group member". */
  removeMember: (userId: string) => unknown;
}

const dialects: Dialect[] = [
  {
    name: "without aadOptscim062020",
    query: "",
    replaceMany: {
      schemas: [PATCH_OP],
      Operations: [
        { op: "Replace", path: "displayName", value: "Pvlo" },
        { op: "Replace", path: 'emails[type eq "work"].value', value: "TestBcwqnm@test.microsoft.com" },
        { op: "Replace", path: "name.givenName", value: "Gtfd" },
        { op: "Replace", path: "name.familyName", value: "Pkqf" },
        { op: "Replace", path: "externalId", value: "Eqpj" },
        { op: "Replace", path: `${ENTERPRISE}:employeeNumber`, value: "Eqpj" },
      ],
    },
    expected: { email: "TestBcwqnm@test.microsoft.com", givenName: "Gtfd", familyName: "Pkqf", employeeNumber: "Eqpj", externalId: "Eqpj" },
    disable: { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "active", value: "False" }] },
    addMember: (userId) => ({ schemas: [PATCH_OP], Operations: [{ op: "Add", path: "members", value: [{ $ref: null, value: userId }] }] }),
    removeMember: (userId) => ({ schemas: [PATCH_OP], Operations: [{ op: "Remove", path: "members", value: [{ value: userId }] }] }),
  },
  {
    name: "with aadOptscim062020",
    query: "aadOptscim062020",
    replaceMany: {
      schemas: [PATCH_OP],
      Operations: [
        { op: "replace", path: 'emails[type eq "work"].value', value: "TestMhvaes@test.microsoft.com" },
        { op: "replace", value: { displayName: "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua", [`${ENTERPRISE}:employeeNumber`]: "Aklq" } },
      ],
    },
    expected: { email: "TestMhvaes@test.microsoft.com", givenName: "Kkom", familyName: "Unua", employeeNumber: "Aklq", externalId: createUser.externalId },
    disable: { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "active", value: false }] },
    addMember: (userId) => ({ schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ $ref: null, value: userId }] }] }),
    removeMember: (userId) => ({ schemas: [PATCH_OP], Operations: [{ op: "remove", path: `members[value eq "${userId}"]` }] }),
  },
];

describe.each(dialects)("an Entra ID session $name", (dialect) => {
  it("leaves the right users, groups, memberships and change events", async () => {
    const clock = tickingClock(T0);
    const connection = await newConnection("org_entra", T0);
    const withFlag = (path: string) => (dialect.query === "" ? path : `${path}${path.includes("?") ? "&" : "?"}${dialect.query}`);
    const call = (method: string, path: string, body?: unknown) => scim(connection, clock, method, withFlag(path), body);
    const empty = { schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], totalResults: 0, startIndex: 1, itemsPerPage: 0, Resources: [] };

    // ENTRA_TUTORIAL "Get User by query" / "Get User by query - Zero results": Entra looks up by externalId and userName first.
    expect((await call("GET", "/Users" + filterQuery(`externalId eq "${createUser.externalId}"`))).body).toStrictEqual(empty);
    expect((await call("GET", "/Users" + filterQuery(`userName eq "${createUser.userName}"`))).body).toStrictEqual(empty);

    const created = await call("POST", "/Users", createUser);
    expect(created.status).toBe(201);
    const userId = created.body.id as string;
    expect(created.body).toMatchObject({ userName: createUser.userName, externalId: createUser.externalId, active: true, name: { givenName: "givenName", familyName: "familyName" } });

    const byExternalId = await call("GET", "/Users" + filterQuery(`externalId eq "${createUser.externalId}"`));
    expect(byExternalId.body).toMatchObject({ totalResults: 1, Resources: [{ id: userId }] });
    const byEmail = await call("GET", "/Users" + filterQuery(`emails[type eq "work"].value eq "${createUser.emails[0]!.value.toUpperCase()}"`));
    expect(byEmail.body).toMatchObject({ totalResults: 1, Resources: [{ id: userId }] });

    // A second user, for the membership changes.
    const other = await call("POST", "/Users", { ...createUser, externalId: "other-ext", userName: "Test_User_other", emails: [{ primary: true, type: "work", value: "other@testuser.com" }] });
    expect(other.status).toBe(201);
    const otherId = other.body.id as string;

    const updated = await call("PATCH", `/Users/${userId}`, dialect.replaceMany);
    expect(updated.status).toBe(200);
    expect(updated.body).toMatchObject({
      schemas: [USER_SCHEMA, ENTERPRISE],
      externalId: dialect.expected.externalId,
      name: { givenName: dialect.expected.givenName, familyName: dialect.expected.familyName },
      emails: [{ value: dialect.expected.email, type: "work", primary: true }],
      [ENTERPRISE]: { employeeNumber: dialect.expected.employeeNumber },
    });

    const group = await call("POST", "/Groups", createGroup);
    expect(group.status).toBe(201);
    const groupId = group.body.id as string;
    // ENTRA_TUTORIAL "Get Group by displayName": filter=displayName eq "…"&excludedAttributes=members.
    const groupLookup = await call("GET", "/Groups" + filterQuery('displayName eq "displayName"', "&excludedAttributes=members"));
    expect(groupLookup.body).toMatchObject({ totalResults: 1, Resources: [{ id: groupId, displayName: "displayName" }] });
    expect(groupLookup.body.Resources[0].members).toBeUndefined();

    expect((await call("PATCH", `/Groups/${groupId}`, dialect.addMember(userId))).status).toBe(200);
    const both = await call("PATCH", `/Groups/${groupId}`, dialect.addMember(otherId));
    expect(both.body.members.map((m: { value: string }) => m.value).sort()).toStrictEqual([userId, otherId].sort());
    const removed = await call("PATCH", `/Groups/${groupId}`, dialect.removeMember(otherId));
    expect(removed.status).toBe(200);
    expect(removed.body.members.map((m: { value: string }) => m.value)).toStrictEqual([userId]);

    const disabled = await call("PATCH", `/Users/${userId}`, dialect.disable);
    expect(disabled.status).toBe(200);
    expect(disabled.body.active).toBe(false);

    // ENTRA_TUTORIAL "Delete User": 204, then the user is gone.
    expect((await call("DELETE", `/Users/${otherId}`)).status).toBe(204);
    expect((await call("GET", `/Users/${otherId}`)).status).toBe(404);
    expect((await call("GET", "/Users" + filterQuery('userName eq "Test_User_other"'))).body).toStrictEqual(empty);

    const users = await usersOf(connection.provider);
    expect(users).toStrictEqual([
      {
        external_id: userId,
        user_name: createUser.userName,
        scim_external_id: dialect.expected.externalId,
        email: dialect.expected.email,
        first_name: dialect.expected.givenName,
        last_name: dialect.expected.familyName,
        active: 0,
        deleted_at: null,
        attributes: JSON.stringify({ employeeNumber: dialect.expected.employeeNumber }),
      },
      expect.objectContaining({ external_id: otherId, active: 0, deleted_at: expect.any(Number) }),
    ]);
    expect(await groupsOf(connection.provider)).toStrictEqual([{ external_id: groupId, name: "displayName", organization_id: "org_entra", deleted_at: null }]);
    expect(await membersOfProvider(connection.provider)).toStrictEqual([[groupId, userId]]);

    const changes = (await changesOf(connection.provider)).map((change) => `${change.type} ${change.subject}`);
    expect(changes).toStrictEqual([
      `user.created ${userId}`,
      `user.created ${otherId}`,
      `user.updated ${userId}`,
      `group.created ${groupId}`,
      `group.member_added ${userId}`,
      `group.member_added ${otherId}`,
      `group.member_removed ${otherId}`,
      `user.deactivated ${userId}`,
      `user.deleted ${otherId}`,
    ]);
  });
});
