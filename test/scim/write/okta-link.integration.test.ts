import { describe, expect, it } from "vitest";
import { changesOf, filterQuery, GROUP_SCHEMA, groupsOf, membersOfProvider, newConnection, PATCH_OP, scim, tickingClock, USER_SCHEMA, usersOf } from "../../support/scim-connection";

/**
 * Okta's Group Push linking an Okta group to a group that already exists in the app, replayed
 * against a connection. Okta imports the app's groups (GET /Groups?startIndex=1&count=100, then
 * startIndex+100 until totalResults), the admin picks "Link Group" for one of them, and from then
 * on Okta sends PATCH /Groups/{id} for its membership and name, and DELETE when the admin unlinks
 * with "Delete the group in the target app".
 *
 * OKTA_GROUP_PUSH: Okta Help, "Group Push operations",
 *   https://help.okta.com/oie/en-us/Content/Topics/users-groups-profiles/usgp-group-push-operations.htm
 *   (create a mapping for an existing group: group linking; unlink and delete a group in the target app).
 * OKTA_SCIM20: "Okta and SCIM Version 2.0", https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/
 *   ("Retrieve Groups": count=100 paging, integers, the same order whatever startIndex and count;
 *   "Retrieve specific Groups"; "Update a specific Group name"; "Update specific Group membership";
 *   "Delete a specific Group"), the same source as okta-session.integration.test.ts.
 */

const T0 = Date.parse("2026-12-03T09:00:00Z");
/** More than one of Okta's pages of 100. */
const EXISTING_GROUPS = 130;

describe("Okta linking a pushed group to an existing app group (OKTA_GROUP_PUSH)", () => {
  it("imports every group across pages, then drives the linked one by id until unlink-and-delete", { timeout: 60_000 }, async () => {
    const clock = tickingClock(T0);
    const connection = await newConnection("org_okta_link", T0);
    const call = (method: string, path: string, body?: unknown) => scim(connection, clock, method, path, body);

    // Users Okta already provisioned.
    const userIds: Record<string, string> = {};
    for (const name of ["ada", "grace", "linus"]) {
      const created = await call("POST", "/Users", { schemas: [USER_SCHEMA], userName: `${name}@okta.local`, emails: [{ primary: true, value: `${name}@okta.local`, type: "work" }], active: true });
      expect(created.status).toBe(201);
      userIds[name] = created.body.id as string;
    }
    const { ada, grace, linus } = userIds as { ada: string; grace: string; linus: string };

    // The app's groups, created earlier by a POST (as another admin's push, or another tool, would have):
    // "Engineering" with one member, and enough others for a second page.
    const engineering = await call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "Engineering", members: [{ value: ada }] });
    expect(engineering.status).toBe(201);
    const groupId = engineering.body.id as string;
    const existing = new Set([groupId]);
    for (let first = 0; first < EXISTING_GROUPS - 1; first += 16) {
      const batch = Array.from({ length: Math.min(16, EXISTING_GROUPS - 1 - first) }, (_, offset) =>
        call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: `Team ${String(first + offset).padStart(3, "0")}`, members: [] }),
      );
      for (const created of await Promise.all(batch)) {
        expect(created.status).toBe(201);
        existing.add(created.body.id as string);
      }
    }

    // "Create Group" for a name the app already has is refused by design: displayName is unique in a
    // connection, so a retried POST cannot make a second group. The admin picks "Link Group" instead.
    const duplicate = await call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "Engineering", members: [] });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body).toMatchObject({ status: "409", scimType: "uniqueness" });
    const sameNameAnyCase = await call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "ENGINEERING", members: [] });
    expect(sameNameAnyCase.status).toBe(409);

    // Okta's import: pages of 100 from startIndex 1, then startIndex + 100 until totalResults, paging numbers as integers.
    const imported: { id: string; displayName: string; members?: { value: string }[] }[] = [];
    let pages = 0;
    for (let startIndex = 1; ; startIndex += 100) {
      const page = await call("GET", `/Groups?startIndex=${startIndex}&count=100`);
      pages++;
      expect(page.status).toBe(200);
      expect(page.body.schemas).toStrictEqual(["urn:ietf:params:scim:api:messages:2.0:ListResponse"]);
      expect(page.body).toMatchObject({ totalResults: EXISTING_GROUPS, startIndex, itemsPerPage: Math.min(100, EXISTING_GROUPS - startIndex + 1) });
      for (const key of ["totalResults", "startIndex", "itemsPerPage"]) expect(Number.isInteger(page.body[key])).toBe(true);
      imported.push(...page.body.Resources);
      if (startIndex + 100 > page.body.totalResults) break;
    }
    expect(pages).toBe(2);
    // Every group exactly once: the order holds from one page to the next.
    expect(imported.map((group) => group.id).sort()).toStrictEqual([...existing].sort());
    const importedEngineering = imported.find((group) => group.displayName === "Engineering")!;
    expect(importedEngineering.id).toBe(groupId);
    expect(importedEngineering.members?.map((member) => member.value)).toStrictEqual([ada]);
    // The same order whatever count is used (OKTA_SCIM20): a page of 7 from startIndex 99 is the same slice.
    const slice = await call("GET", "/Groups?startIndex=99&count=7");
    expect(slice.body.Resources.map((group: { id: string }) => group.id)).toStrictEqual(imported.slice(98, 105).map((group) => group.id));

    // Okta's lookup by name, as before a push, finds the same group.
    const byName = await call("GET", "/Groups" + filterQuery('displayName eq "Engineering"', "&startIndex=1&count=100"));
    expect(byName.body).toMatchObject({ totalResults: 1, Resources: [{ id: groupId, displayName: "Engineering" }] });

    // Linked by id: Okta checks the group still exists ("Retrieve specific Groups").
    const linked = await call("GET", `/Groups/${groupId}`);
    expect(linked.status).toBe(200);
    expect(linked.body).toMatchObject({ id: groupId, displayName: "Engineering" });

    // The Okta group's members are pushed with Okta's add form; the app's existing member stays.
    const added = await call("PATCH", `/Groups/${groupId}`, {
      schemas: [PATCH_OP],
      Operations: [{ op: "add", path: "members", value: [{ value: grace, display: "grace@okta.local" }, { value: linus, display: "linus@okta.local" }] }],
    });
    expect(added.status).toBe(200);
    expect(added.body.members.map((member: { value: string }) => member.value)).toStrictEqual([ada, grace, linus].sort());

    // Okta's rename: a path-less replace restating the id.
    const renamed = await call("PATCH", `/Groups/${groupId}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { id: groupId, displayName: "Engineering (Okta)" } }] });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id: groupId, displayName: "Engineering (Okta)" });
    expect(renamed.body.members).toHaveLength(3);

    // A member leaves the Okta group.
    const removed = await call("PATCH", `/Groups/${groupId}`, { schemas: [PATCH_OP], Operations: [{ op: "remove", path: `members[value eq "${ada}"]` }] });
    expect(removed.status).toBe(200);
    expect(removed.body.members.map((member: { value: string }) => member.value)).toStrictEqual([grace, linus].sort());
    expect(await membersOfProvider(connection.provider)).toStrictEqual([grace, linus].sort().map((userId) => [groupId, userId]));

    // Unlink, choosing "Delete the group in the target app".
    expect((await call("DELETE", `/Groups/${groupId}`)).status).toBe(204);
    expect((await call("GET", `/Groups/${groupId}`)).status).toBe(404);
    const afterImport = await call("GET", "/Groups?startIndex=1&count=100&excludedAttributes=members");
    expect(afterImport.body.totalResults).toBe(EXISTING_GROUPS - 1);
    expect(await membersOfProvider(connection.provider)).toStrictEqual([]);
    // The members themselves are untouched: deleting a group deactivates no one.
    const users = await usersOf(connection.provider);
    expect(users.map((user) => [user.external_id, user.active, user.deleted_at])).toStrictEqual(
      [ada, grace, linus].map((userId) => [userId, 1, null]),
    );
    const stored = (await groupsOf(connection.provider)).find((group) => group.external_id === groupId);
    expect(stored).toMatchObject({ name: "Engineering (Okta)", deleted_at: expect.any(Number) });

    // What the app is told, in order, leaving out the users' and the other groups' creations.
    const recorded = (await changesOf(connection.provider)).filter((change) => change.type !== "user.created" && !(change.type === "group.created" && change.subject !== groupId));
    // One request's changes, in any order among themselves; the requests' in order.
    const byRequest = [
      [`group.created ${groupId}`, `group.member_added ${ada}`],
      [`group.member_added ${grace}`, `group.member_added ${linus}`],
      [`group.updated ${groupId}`],
      [`group.member_removed ${ada}`],
      [`group.deleted ${groupId}`, `group.member_removed ${grace}`, `group.member_removed ${linus}`],
    ];
    const told = recorded.map((change) => `${change.type} ${change.subject}`);
    expect(told).toHaveLength(byRequest.flat().length);
    let at = 0;
    for (const changes of byRequest) {
      expect(told.slice(at, at + changes.length).sort()).toStrictEqual([...changes].sort());
      at += changes.length;
    }
  });
});
