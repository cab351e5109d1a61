import { describe, expect, it } from "vitest";
import { applyPatch, type ScimResource } from "../../../src/scim/write/patch";

/**
 * SCIM PATCH as Microsoft Entra ID and Okta send it. Request bodies are copied from the providers'
 * published docs (source cited above each); starting resources are the docs' own responses where
 * they fit, and say so where they are built for the test.
 *
 * Sources:
 * - ENTRA_TUTORIAL: "Tutorial: Develop and plan provisioning for a SCIM endpoint in Microsoft Entra ID",
 *   https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
 *   (markdown: github.com/MicrosoftDocs/entra-docs, docs/identity/app-provisioning/use-scim-to-provision-users-and-groups.md)
 * - ENTRA_KNOWN_ISSUES: "Known issues and resolutions with SCIM 2.0 protocol compliance of the Microsoft Entra
 *   user provisioning service", section "Flags to alter the SCIM behavior" (aadOptscim062020),
 *   https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
 *   (markdown: same repository, docs/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility.md)
 * - OKTA_SCIM20: "Okta and SCIM Version 2.0" (SCIM 2.0 protocol reference),
 *   https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/ (formerly /docs/reference/scim/scim-20/;
 *   markdown: github.com/okta/okta-developer-docs, packages/@okta/vuepress-site/docs/reference/scim/scim-20/index.md,
 *   read at the commit before 0bc6c4d8, which moved the page to the API portal and commented the markdown out)
 */

const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/** ENTRA_TUTORIAL, "Create User", the response (a trailing comma in the doc's `name` dropped). */
const entraUser = (): ScimResource => ({
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
  id: "48af03ac28ad4fb88478",
  externalId: "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
  meta: {
    resourceType: "User",
    created: "2018-03-27T19:59:26.000Z",
    lastModified: "2018-03-27T19:59:26.000Z",
  },
  userName: "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
  name: {
    formatted: "givenName familyName",
    familyName: "familyName",
    givenName: "givenName",
  },
  active: true,
  emails: [
    {
      value: "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com",
      type: "work",
      primary: true,
    },
  ],
});

/** ENTRA_TUTORIAL, "Create Group", the response. */
const entraGroup = (): ScimResource => ({
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  id: "927fa2c08dcb4a7fae9e",
  externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
  meta: {
    resourceType: "Group",
    created: "2018-03-27T19:59:26.000Z",
    lastModified: "2018-03-27T19:59:26.000Z",
  },
  displayName: "displayName",
  members: [],
});

/** OKTA_SCIM20, "Create the User", the response. */
const oktaUser = (): ScimResource => ({
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
  id: "23a35c27-23d3-4c03-b4c5-6443c09e7173",
  userName: "test.user@okta.local",
  name: {
    givenName: "Test",
    familyName: "User",
  },
  emails: [
    {
      primary: true,
      value: "test.user@okta.local",
      type: "work",
    },
  ],
  displayName: "Test User",
  locale: "en-US",
  externalId: "00ujl29u0le5T6Aj10h7",
  active: true,
  groups: [],
  meta: {
    resourceType: "User",
  },
});

/**
 * OKTA_SCIM20, "Retrieve specific Groups", the response, with the member that "Update specific
 * Group membership" removes (89bb1940-…) added for the test, and the name it had before a rename.
 */
const oktaGroup = (): ScimResource => ({
  schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"],
  id: "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
  displayName: "Test SCIMv1",
  members: [
    { value: "b1c794f24f4c49f4b5d503a4cb2686ea", display: "SCIM 2 Group A" },
    { value: "89bb1940-b905-4575-9e7f-6f887cfb368e", display: "test.user@okta.local" },
  ],
  meta: {
    resourceType: "Group",
  },
});

const patchOp = (...operations: unknown[]) => ({ schemas: [PATCH_OP], Operations: operations });

function patched(resource: ScimResource, body: unknown, kind: "User" | "Group" = "User"): ScimResource {
  const result = applyPatch(resource, body, kind);
  if (!result.ok) throw new Error(`expected the patch to apply, got ${result.scimType}: ${result.detail}`);
  return result.resource;
}

describe("Entra ID without and with aadOptscim062020 (ENTRA_KNOWN_ISSUES)", () => {
  it("disables a user from the string \"False\" and from the boolean alike", () => {
    // ENTRA_KNOWN_ISSUES, "Requests made to disable users", without the feature flag.
    const withoutFlag = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "Replace",
          path: "active",
          value: "False",
        },
      ],
    };
    // Same section, with the feature flag.
    const withFlag = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "replace",
          path: "active",
          value: false,
        },
      ],
    };
    const expected = { ...entraUser(), active: false };
    expect(patched(entraUser(), withoutFlag)).toStrictEqual(expected);
    expect(patched(entraUser(), withFlag)).toStrictEqual(expected);
  });

  it("adds a single-valued string attribute from \"Add\" and \"add\" alike", () => {
    // ENTRA_KNOWN_ISSUES, "Requests made to add a single-value string attribute", without the flag.
    const withoutFlag = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "Add",
          path: "nickName",
          value: "Babs",
        },
      ],
    };
    // Same section, with the flag.
    const withFlag = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "add",
          path: "nickName",
          value: "Babs",
        },
      ],
    };
    const expected = { ...entraUser(), nickName: "Babs" };
    expect(patched(entraUser(), withoutFlag)).toStrictEqual(expected);
    expect(patched(entraUser(), withFlag)).toStrictEqual(expected);
  });

  // ENTRA_KNOWN_ISSUES, "Requests to replace multiple attributes", without the flag.
  const replaceManyWithoutFlag = {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [
      {
        op: "Replace",
        path: "displayName",
        value: "Pvlo",
      },
      {
        op: "Replace",
        path: 'emails[type eq "work"].value',
        value: "TestBcwqnm@test.microsoft.com",
      },
      {
        op: "Replace",
        path: "name.givenName",
        value: "Gtfd",
      },
      {
        op: "Replace",
        path: "name.familyName",
        value: "Pkqf",
      },
      {
        op: "Replace",
        path: "externalId",
        value: "Eqpj",
      },
      {
        op: "Replace",
        path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
        value: "Eqpj",
      },
    ],
  };
  // Same section, with the flag: the path-less replace with dotted and extension-URN keys.
  const replaceManyWithFlag = {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [
      {
        op: "replace",
        path: 'emails[type eq "work"].value',
        value: "TestMhvaes@test.microsoft.com",
      },
      {
        op: "replace",
        value: {
          displayName: "Bjfe",
          "name.givenName": "Kkom",
          "name.familyName": "Unua",
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
        },
      },
    ],
  };

  const replacedUser = (values: { displayName: string; email: string; givenName: string; familyName: string; employeeNumber: string; externalId?: string }) => {
    const user = entraUser();
    return {
      ...user,
      schemas: [USER_SCHEMA, ENTERPRISE],
      externalId: values.externalId ?? user.externalId,
      name: { formatted: "givenName familyName", familyName: values.familyName, givenName: values.givenName },
      emails: [{ value: values.email, type: "work", primary: true }],
      displayName: values.displayName,
      [ENTERPRISE]: { employeeNumber: values.employeeNumber },
    };
  };

  it("replaces several attributes sent one path each (without the flag)", () => {
    expect(patched(entraUser(), replaceManyWithoutFlag)).toStrictEqual(
      replacedUser({ displayName: "Pvlo", email: "TestBcwqnm@test.microsoft.com", givenName: "Gtfd", familyName: "Pkqf", employeeNumber: "Eqpj", externalId: "Eqpj" }),
    );
  });

  it("replaces several attributes sent as one path-less value (with the flag)", () => {
    expect(patched(entraUser(), replaceManyWithFlag)).toStrictEqual(
      replacedUser({ displayName: "Bjfe", email: "TestMhvaes@test.microsoft.com", givenName: "Kkom", familyName: "Unua", employeeNumber: "Aklq" }),
    );
  });

  it("gives the same resource for both forms when they carry the same values", () => {
    // Derived, not copied: the doc's two bodies carry different values (and only the old one sets
    // externalId), so this is the flagged body's shape filled with the unflagged body's values.
    const flaggedShapeOldValues = patchOp(
      { op: "replace", path: 'emails[type eq "work"].value', value: "TestBcwqnm@test.microsoft.com" },
      {
        op: "replace",
        value: {
          displayName: "Pvlo",
          "name.givenName": "Gtfd",
          "name.familyName": "Pkqf",
          externalId: "Eqpj",
          "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Eqpj",
        },
      },
    );
    expect(patched(entraUser(), flaggedShapeOldValues)).toStrictEqual(patched(entraUser(), replaceManyWithoutFlag));
  });

  describe("removing a group member", () => {
    // The Entra "Create Group" response, with both members the doc's two bodies remove (built for the test).
    const group = () => ({
      ...entraGroup(),
      members: [
        { value: "u1091", type: "User" },
        { value: "7f4bc1a3-285e-48ae-8202-5accb43efb0e", type: "User" },
        { value: "f648f8d5ea4e4cd38e9c", type: "User" },
      ],
    });
    // ENTRA_KNOWN_ISSUES, "Requests made to remove a group member", without the flag.
    const withoutFlag = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "Remove",
          path: "members",
          value: [
            {
              value: "u1091",
            },
          ],
        },
      ],
    };
    // Same section, with the flag.
    const withFlag = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "remove",
          path: 'members[value eq "7f4bc1a3-285e-48ae-8202-5accb43efb0e"]',
        },
      ],
    };

    it("removes by value list (without the flag)", () => {
      expect(applyPatch(group(), withoutFlag, "Group")).toStrictEqual({
        ok: true,
        resource: {
          ...group(),
          members: [
            { value: "7f4bc1a3-285e-48ae-8202-5accb43efb0e", type: "User" },
            { value: "f648f8d5ea4e4cd38e9c", type: "User" },
          ],
        },
        changedMembers: { added: [], removed: ["u1091"] },
      });
    });

    it("removes by value filter (with the flag)", () => {
      expect(applyPatch(group(), withFlag, "Group")).toStrictEqual({
        ok: true,
        resource: {
          ...group(),
          members: [
            { value: "u1091", type: "User" },
            { value: "f648f8d5ea4e4cd38e9c", type: "User" },
          ],
        },
        changedMembers: { added: [], removed: ["7f4bc1a3-285e-48ae-8202-5accb43efb0e"] },
      });
    });

    it("gives the same resource for both forms when they name the same member", () => {
      // Derived: the flagged body's shape naming the unflagged body's member.
      const flaggedShape = patchOp({ op: "remove", path: 'members[value eq "u1091"]' });
      expect(applyPatch(group(), flaggedShape, "Group")).toStrictEqual(applyPatch(group(), withoutFlag, "Group"));
    });
  });
});

describe("Entra ID requests from the SCIM tutorial (ENTRA_TUTORIAL)", () => {
  it("Update User [Multi-valued properties]", () => {
    // ENTRA_TUTORIAL, "Update User [Multi-valued properties]", the request (PATCH /Users/6764549bef60420686bc).
    const body = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "Replace",
          path: 'emails[type eq "work"].value',
          value: "updatedEmail@microsoft.com",
        },
        {
          op: "Replace",
          path: "name.familyName",
          value: "updatedFamilyName",
        },
      ],
    };
    // As the doc's response, except name.formatted: we keep what the client last set (the doc's
    // server recomputes it to "givenName updatedFamilyName").
    expect(patched(entraUser(), body)).toStrictEqual({
      ...entraUser(),
      name: { formatted: "givenName familyName", familyName: "updatedFamilyName", givenName: "givenName" },
      emails: [{ value: "updatedEmail@microsoft.com", type: "work", primary: true }],
    });
  });

  it("Update User [Single-valued properties]", () => {
    // ENTRA_TUTORIAL, "Update User [Single-valued properties]", the request.
    const body = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "Replace",
          path: "userName",
          value: "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com",
        },
      ],
    };
    expect(patched(entraUser(), body)).toStrictEqual({ ...entraUser(), userName: "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com" });
  });

  it("Disable User", () => {
    // ENTRA_TUTORIAL, "Disable User", the request: capitalized op, boolean value, Operations first.
    const body = {
      Operations: [
        {
          op: "Replace",
          path: "active",
          value: false,
        },
      ],
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    };
    expect(patched(entraUser(), body)).toStrictEqual({ ...entraUser(), active: false });
  });

  it("Update Group [Non-member attributes]", () => {
    // ENTRA_TUTORIAL, "Update Group [Non-member attributes]", the request.
    const body = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "Replace",
          path: "displayName",
          value: "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName",
        },
      ],
    };
    expect(applyPatch(entraGroup(), body, "Group")).toStrictEqual({
      ok: true,
      resource: { ...entraGroup(), displayName: "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName" },
      changedMembers: { added: [], removed: [] },
    });
  });

  // ENTRA_TUTORIAL, "Update Group [Add Members]", the request.
  const addMembers = {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [
      {
        op: "Add",
        path: "members",
        value: [
          {
            $ref: null,
            value: "f648f8d5ea4e4cd38e9c",
          },
        ],
      },
    ],
  };
  // ENTRA_TUTORIAL, "Update Group [Remove Members]", the request.
  const removeMembers = {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [
      {
        op: "Remove",
        path: "members",
        value: [
          {
            $ref: null,
            value: "f648f8d5ea4e4cd38e9c",
          },
        ],
      },
    ],
  };

  it("Update Group [Add Members]: the null $ref is dropped, the id reported as added", () => {
    expect(applyPatch(entraGroup(), addMembers, "Group")).toStrictEqual({
      ok: true,
      resource: { ...entraGroup(), members: [{ value: "f648f8d5ea4e4cd38e9c" }] },
      changedMembers: { added: ["f648f8d5ea4e4cd38e9c"], removed: [] },
    });
  });

  it("Update Group [Add Members] again is a no-op that keeps the stored member as it was", () => {
    const group = { ...entraGroup(), members: [{ value: "f648f8d5ea4e4cd38e9c", type: "User", $ref: "https://edge.example/scim/v2/Users/f648f8d5ea4e4cd38e9c" }] };
    expect(applyPatch(group, addMembers, "Group")).toStrictEqual({ ok: true, resource: group, changedMembers: { added: [], removed: [] } });
  });

  it("Update Group [Remove Members]: removing the last member leaves members unassigned", () => {
    const group = { ...entraGroup(), members: [{ value: "f648f8d5ea4e4cd38e9c", type: "User" }] };
    const { members: _gone, ...withoutMembers } = group;
    expect(applyPatch(group, removeMembers, "Group")).toStrictEqual({
      ok: true,
      resource: withoutMembers,
      changedMembers: { added: [], removed: ["f648f8d5ea4e4cd38e9c"] },
    });
  });

  it("Example 5 (update a user's manager): unprefixed path and a one-element array", () => {
    // ENTRA_TUTORIAL, "Handling provisioning and deprovisioning of users", Example 5, the request body.
    const body = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "Add",
          path: "manager",
          value: [
            {
              $ref: "http://.../scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
              value: "00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
            },
          ],
        },
      ],
    };
    expect(patched(entraUser(), body)).toStrictEqual({
      ...entraUser(),
      schemas: [USER_SCHEMA, ENTERPRISE],
      [ENTERPRISE]: { manager: { $ref: "http://.../scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee", value: "00aa00aa-bb11-cc22-dd33-44ee44ee44ee" } },
    });
  });

  it("writes through the filtered paths of the tutorial's attribute table, creating the value when missing", () => {
    // ENTRA_TUTORIAL, "Design your user and group schema", the user attribute table gives these
    // paths (mobile, streetAddress, proxy-Addresses with its capital "Value"); the table has paths,
    // not bodies, so the bodies are built around them in Entra's unflagged style.
    const body = patchOp(
      { op: "Add", path: 'phoneNumbers[type eq "mobile"].value', value: "+1 555 0100" },
      { op: "Add", path: 'addresses[type eq "work"].streetAddress', value: "1 Main St" },
      { op: "Add", path: 'emails[type eq "other"].Value', value: "alias@testuser.com" },
    );
    expect(patched(entraUser(), body)).toStrictEqual({
      ...entraUser(),
      emails: [
        { value: "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com", type: "work", primary: true },
        { type: "other", value: "alias@testuser.com" },
      ],
      phoneNumbers: [{ type: "mobile", value: "+1 555 0100" }],
      addresses: [{ type: "work", streetAddress: "1 Main St" }],
    });
  });

  it("replaces a work street address in place", () => {
    const user = { ...entraUser(), addresses: [{ type: "work", streetAddress: "1 Main St", country: "ML", primary: true }] };
    const body = patchOp({ op: "Replace", path: 'addresses[type eq "work"].streetAddress', value: "2 Side St" });
    expect(patched(user, body)).toStrictEqual({ ...user, addresses: [{ type: "work", streetAddress: "2 Side St", country: "ML", primary: true }] });
  });

  it("takes a manager sent as a bare id (older Entra jobs)", () => {
    // Not in Microsoft's docs: this body is quoted from a report of what Entra sent,
    // https://github.com/imulab/go-scim/issues/75 ("Azure AD Patch request issues").
    const body = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "Add", path: "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", value: "45619541-95de-4d5e-9872-571b5d2c5577" }],
    };
    expect(patched(entraUser(), body)).toStrictEqual({
      ...entraUser(),
      schemas: [USER_SCHEMA, ENTERPRISE],
      [ENTERPRISE]: { manager: { value: "45619541-95de-4d5e-9872-571b5d2c5577" } },
    });
  });

  it("takes the flagged form of a manager, {value}, and a department, in one path-less replace", () => {
    // Built for the test in the flagged style of ENTRA_KNOWN_ISSUES (path-less replace, URN keys).
    const body = patchOp({
      op: "replace",
      value: {
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Finance",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": { value: "45619541-95de-4d5e-9872-571b5d2c5577" },
      },
    });
    expect(patched(entraUser(), body)).toStrictEqual({
      ...entraUser(),
      schemas: [USER_SCHEMA, ENTERPRISE],
      [ENTERPRISE]: { department: "Finance", manager: { value: "45619541-95de-4d5e-9872-571b5d2c5577" } },
    });
  });
});

describe("Okta (OKTA_SCIM20)", () => {
  it("deactivates a user with a path-less replace", () => {
    // OKTA_SCIM20, "Update a specific User (PATCH)", the deactivation request.
    const body = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "replace",
          value: {
            active: false,
          },
        },
      ],
    };
    expect(patched(oktaUser(), body)).toStrictEqual({ ...oktaUser(), active: false });
  });

  // OKTA_SCIM20, "Update a specific Group name", the request.
  const rename = {
    schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    Operations: [
      {
        op: "replace",
        value: {
          id: "abf4dd94-a4c0-4f67-89c9-76b03340cb9b",
          displayName: "Test SCIMv2",
        },
      },
    ],
  };

  it("renames a group; the id it restates is the current one and is accepted", () => {
    expect(applyPatch(oktaGroup(), rename, "Group")).toStrictEqual({
      ok: true,
      resource: { ...oktaGroup(), displayName: "Test SCIMv2" },
      changedMembers: { added: [], removed: [] },
    });
  });

  it("refuses the rename when the id it restates is another group's", () => {
    expect(applyPatch({ ...oktaGroup(), id: "another-group" }, rename, "Group")).toMatchObject({ ok: false, status: 400, scimType: "mutability" });
  });

  it("removes and adds members in one request and reports both", () => {
    // OKTA_SCIM20, "Update specific Group membership", the PATCH request.
    const body = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "remove",
          path: 'members[value eq "89bb1940-b905-4575-9e7f-6f887cfb368e"]',
        },
        {
          op: "add",
          path: "members",
          value: [
            {
              value: "23a35c27-23d3-4c03-b4c5-6443c09e7173",
              display: "test.user@okta.local",
            },
          ],
        },
      ],
    };
    expect(applyPatch(oktaGroup(), body, "Group")).toStrictEqual({
      ok: true,
      resource: {
        ...oktaGroup(),
        members: [
          { value: "b1c794f24f4c49f4b5d503a4cb2686ea", display: "SCIM 2 Group A" },
          { value: "23a35c27-23d3-4c03-b4c5-6443c09e7173", display: "test.user@okta.local" },
        ],
      },
      changedMembers: { added: ["23a35c27-23d3-4c03-b4c5-6443c09e7173"], removed: ["89bb1940-b905-4575-9e7f-6f887cfb368e"] },
    });
  });

  it("replaces the whole membership with a full push", () => {
    // OKTA_SCIM20, "Update specific Group membership", the full push with "replace".
    const body = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "replace",
          path: "members",
          value: [
            {
              value: "23a35c27-23d3-4c03-b4c5-6443c09e7173",
              display: "test.user@okta.local",
            },
            {
              value: "89bb1940-b905-4575-9e7f-6f887cfb368e",
              display: "test.user@okta.local",
            },
          ],
        },
      ],
    };
    expect(applyPatch(oktaGroup(), body, "Group")).toStrictEqual({
      ok: true,
      resource: {
        ...oktaGroup(),
        members: [
          { value: "23a35c27-23d3-4c03-b4c5-6443c09e7173", display: "test.user@okta.local" },
          { value: "89bb1940-b905-4575-9e7f-6f887cfb368e", display: "test.user@okta.local" },
        ],
      },
      changedMembers: { added: ["23a35c27-23d3-4c03-b4c5-6443c09e7173"], removed: ["b1c794f24f4c49f4b5d503a4cb2686ea"] },
    });
  });
});

describe("RFC 7644 semantics beyond the client samples", () => {
  it("removes members whose ids contain a colon, as this server's ids do", () => {
    const group = { ...entraGroup(), members: [{ value: "scalekit:user_1" }, { value: "scalekit:user_2" }] };
    const body = patchOp({ op: "remove", path: 'members[value eq "scalekit:user_1"]' });
    expect(applyPatch(group, body, "Group")).toStrictEqual({
      ok: true,
      resource: { ...group, members: [{ value: "scalekit:user_2" }] },
      changedMembers: { added: [], removed: ["scalekit:user_1"] },
    });
  });

  it("treats removing a member that is not there as a no-op (a retried request)", () => {
    const body = patchOp({ op: "remove", path: 'members[value eq "nobody"]' });
    expect(applyPatch(oktaGroup(), body, "Group")).toStrictEqual({ ok: true, resource: oktaGroup(), changedMembers: { added: [], removed: [] } });
  });

  it("makes the newly primary email the only primary one", () => {
    const user = { ...entraUser(), emails: [...(entraUser().emails as object[]), { value: "b@testuser.com", type: "other" }] };
    const body = patchOp({ op: "replace", path: 'emails[type eq "other"].primary', value: true });
    expect(patched(user, body)).toStrictEqual({
      ...user,
      emails: [
        { value: "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com", type: "work", primary: false },
        { value: "b@testuser.com", type: "other", primary: true },
      ],
    });
  });

  it("drops the enterprise schema when the last enterprise attribute is removed", () => {
    const user = { ...entraUser(), schemas: [USER_SCHEMA, ENTERPRISE], [ENTERPRISE]: { department: "Finance" } };
    const body = patchOp({ op: "remove", path: `${ENTERPRISE}:department` });
    expect(patched(user, body)).toStrictEqual(entraUser());
  });

  it("clears an attribute replaced with null", () => {
    const { nickName: _gone, ...expected } = { ...entraUser(), nickName: "Babs" };
    expect(patched({ ...entraUser(), nickName: "Babs" }, patchOp({ op: "replace", path: "nickName", value: null }))).toStrictEqual(expected);
  });

  it("never modifies its input, even when a later operation fails", () => {
    const user = entraUser();
    const body = patchOp({ op: "replace", path: "displayName", value: "Changed" }, { op: "replace", path: "id", value: "other" });
    expect(applyPatch(user, body, "User")).toMatchObject({ ok: false, scimType: "mutability" });
    expect(user).toStrictEqual(entraUser());
  });
});

describe("refusals", () => {
  const failure = (resource: ScimResource, body: unknown, kind: "User" | "Group" = "User") => {
    const result = applyPatch(resource, body, kind);
    if (result.ok) throw new Error("expected a refusal");
    expect(result.status).toBe(400);
    return result;
  };

  it.each([
    ["a body that is not an object", "replace active"],
    ["no schemas", { Operations: [{ op: "replace", path: "active", value: false }] }],
    ["a schema other than PatchOp", { schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], Operations: [{ op: "replace", path: "active", value: false }] }],
    ["Operations that is not an array", { schemas: [PATCH_OP], Operations: { op: "replace", path: "active", value: false } }],
    ["no operations", { schemas: [PATCH_OP], Operations: [] }],
    ["an op that is not add, replace or remove", patchOp({ op: "move", path: "active", value: false })],
    ["an op that is not a string", patchOp({ op: 1, path: "active", value: false })],
    ["a path that is not a string", patchOp({ op: "replace", path: ["active"], value: false })],
  ])("refuses %s with invalidSyntax", (_name, body) => {
    expect(failure(entraUser(), body).scimType).toBe("invalidSyntax");
  });

  it("refuses more than 1000 operations with invalidSyntax", () => {
    const ops = Array.from({ length: 1001 }, () => ({ op: "replace", path: "active", value: false }));
    expect(failure(entraUser(), patchOp(...ops))).toMatchObject({ scimType: "invalidSyntax", detail: expect.stringContaining("Operations") });
    // The bound is inclusive: 1000 operations apply.
    expect(applyPatch(entraUser(), patchOp(...ops.slice(1)), "User").ok).toBe(true);
  });

  it("refuses an oversized value with invalidSyntax", () => {
    expect(failure(entraUser(), patchOp({ op: "replace", path: "nickName", value: "x".repeat(16_385) })).scimType).toBe("invalidSyntax");
    const members = Array.from({ length: 50_001 }, (_, index) => ({ value: `user-${index}` }));
    expect(failure(oktaGroup(), patchOp({ op: "add", path: "members", value: members }), "Group").scimType).toBe("invalidSyntax");
  });

  it.each([
    ["an attribute a User does not have", patchOp({ op: "replace", path: "favoriteColor", value: "blue" })],
    ["an unknown sub-attribute", patchOp({ op: "replace", path: "name.nickName", value: "x" })],
    ["an unknown schema URN", patchOp({ op: "replace", path: "urn:example:params:scim:schemas:extension:custom:2.0:User:tag", value: "x" })],
    ["a Group attribute on a User", patchOp({ op: "add", path: "members", value: [{ value: "x" }] })],
    ["a value filter on a single-valued attribute", patchOp({ op: "replace", path: 'userName[value eq "x"]', value: "y" })],
    ["a value filter that does not parse", patchOp({ op: "replace", path: 'emails[type eq "work"', value: "y" })],
    ["a value filter on an unknown sub-attribute", patchOp({ op: "replace", path: 'emails[kind eq "work"].value', value: "y" })],
    ["an unknown key in a path-less value", patchOp({ op: "replace", value: { favoriteColor: "blue" } })],
    ["the password (no credentials are stored)", patchOp({ op: "replace", path: "password", value: "secret" })],
  ])("refuses %s with invalidPath", (_name, body) => {
    expect(failure(entraUser(), body).scimType).toBe("invalidPath");
  });

  it("keeps __proto__ out of the resource and out of Object.prototype", () => {
    const body = JSON.parse(`{"schemas":["${PATCH_OP}"],"Operations":[{"op":"replace","value":{"__proto__":{"polluted":true}}},{"op":"add","path":"__proto__.polluted","value":"yes"}]}`);
    expect(failure(entraUser(), body).scimType).toBe("invalidPath");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it.each([
    ["removing userName (required)", patchOp({ op: "remove", path: "userName" })],
    ["replacing id with another id", patchOp({ op: "replace", path: "id", value: "another-id" })],
    ["an id in a path-less value that is not the current one", patchOp({ op: "replace", value: { id: "another-id", displayName: "x" } })],
    ["removing id", patchOp({ op: "remove", path: "id" })],
    ["changing meta", patchOp({ op: "replace", path: "meta.lastModified", value: "2030-01-01T00:00:00Z" })],
    ["changing schemas", patchOp({ op: "replace", path: "schemas", value: [USER_SCHEMA, ENTERPRISE] })],
    ["writing a user's groups", patchOp({ op: "add", path: "groups", value: [{ value: "g1" }] })],
  ])("refuses %s with mutability", (_name, body) => {
    expect(failure(entraUser(), body).scimType).toBe("mutability");
  });

  it("refuses removing a group's displayName with mutability", () => {
    expect(failure(oktaGroup(), patchOp({ op: "remove", path: "displayName" }), "Group").scimType).toBe("mutability");
  });

  it.each([
    ["a remove without a path", patchOp({ op: "remove" })],
    ["a replace whose value filter matches no value", patchOp({ op: "replace", path: 'emails[type eq "home"]', value: { value: "x@y.z" } })],
  ])("refuses %s with noTarget", (_name, body) => {
    expect(failure(entraUser(), body).scimType).toBe("noTarget");
  });

  it.each([
    ["a boolean attribute given a word", patchOp({ op: "replace", path: "active", value: "maybe" })],
    ["a string attribute given a number", patchOp({ op: "replace", path: "userName", value: 42 })],
    ["an empty userName", patchOp({ op: "replace", path: "userName", value: "" })],
    ["a path-less replace whose value is not an object", patchOp({ op: "replace", value: false })],
    ["an add without a value", patchOp({ op: "add", path: "nickName" })],
    ["two primary emails sent as a whole", patchOp({ op: "replace", path: "emails", value: [{ value: "a@b.c", primary: true }, { value: "d@e.f", primary: "True" }] })],
  ])("refuses %s with invalidValue", (_name, body) => {
    expect(failure(entraUser(), body).scimType).toBe("invalidValue");
  });
});

describe("work bound (hostile review)", () => {
  it("refuses a patch whose operations times the largest multi-valued attribute exceed MAX_PATCH_WORK", async () => {
    const { applyPatch, MAX_PATCH_WORK } = await import("../../../src/scim/write/patch");
    const members = Array.from({ length: 1000 }, (_, i) => ({ value: `u${i}` }));
    const group = { schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], id: "g1", displayName: "Big", members };
    const operations = (n: number) => Array.from({ length: n }, (_, i) => ({ op: "remove", path: `members[value eq "u${i}"]` }));
    const body = (n: number) => ({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: operations(n) });
    const tooMuch = Math.floor(MAX_PATCH_WORK / members.length) + 1;
    expect(applyPatch(group, body(tooMuch), "Group")).toMatchObject({ ok: false, status: 400, scimType: "invalidValue" });
    const allowed = applyPatch(group, body(tooMuch - 1), "Group");
    expect(allowed.ok).toBe(true);
  });
});
