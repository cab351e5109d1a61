import { describe, expect, it } from "vitest";
import { GROUP_PATCH_SCHEMA, USER_PATCH_SCHEMA } from "../../../src/scim/write/attributes";
import { normalizePatch } from "../../../src/scim/write/normalize-patch";
import { pathOf } from "../../../src/scim/write/patch-path";

/**
 * The normalization step alone: client dialects in, one-attribute RFC 7644 operations out.
 * Bodies marked ENTRA_KNOWN_ISSUES / ENTRA_TUTORIAL / OKTA_SCIM20 are copied from the docs cited in
 * patch.unit.test.ts (same URLs):
 * - ENTRA_KNOWN_ISSUES: https://learn.microsoft.com/en-us/entra/identity/app-provisioning/application-provisioning-config-problem-scim-compatibility
 * - ENTRA_TUTORIAL: https://learn.microsoft.com/en-us/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
 * - OKTA_SCIM20: https://developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20/
 */

const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const patchOp = (...operations: unknown[]) => ({ schemas: [PATCH_OP], Operations: operations });

/** The normalized operations as plain `{op, path, value}` for comparison. */
function normalized(body: unknown, schema = USER_PATCH_SCHEMA) {
  const result = normalizePatch(body, schema);
  if (!result.ok) throw new Error(`expected the body to normalize, got ${result.scimType}: ${result.detail}`);
  return result.operations.map((operation) => ({ op: operation.op, path: pathOf(operation.target), ...(operation.value === undefined ? {} : { value: operation.value }) }));
}

describe("normalizePatch", () => {
  it("lowercases Entra's capitalized ops and turns its \"False\" into false", () => {
    // ENTRA_KNOWN_ISSUES, "Requests made to disable users", without the feature flag.
    const body = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [
        {
          op: "Replace",
          path: "active",
          value: "False",
        },
      ],
    };
    expect(normalized(body)).toStrictEqual([{ op: "replace", path: "active", value: false }]);
  });

  it.each([
    ["True", true],
    ["TRUE", true],
    ["false", false],
  ])("reads the boolean string %s as %s", (text, value) => {
    expect(normalized(patchOp({ op: "Replace", path: "active", value: text }))).toStrictEqual([{ op: "replace", path: "active", value }]);
  });

  it("splits the flagged path-less replace into one operation per dotted or URN key", () => {
    // ENTRA_KNOWN_ISSUES, "Requests to replace multiple attributes", with the feature flag.
    const body = {
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
    expect(normalized(body)).toStrictEqual([
      { op: "replace", path: 'emails[type eq "work"].value', value: "TestMhvaes@test.microsoft.com" },
      { op: "replace", path: "displayName", value: "Bjfe" },
      { op: "replace", path: "name.givenName", value: "Kkom" },
      { op: "replace", path: "name.familyName", value: "Unua" },
      { op: "replace", path: `${ENTERPRISE}:employeeNumber`, value: "Aklq" },
    ]);
  });

  it("splits Okta's path-less deactivation and rename the same way", () => {
    // OKTA_SCIM20, "Update a specific User (PATCH)" and "Update a specific Group name".
    expect(normalized({ schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], Operations: [{ op: "replace", value: { active: false } }] })).toStrictEqual([
      { op: "replace", path: "active", value: false },
    ]);
    const rename = {
      schemas: ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
      Operations: [{ op: "replace", value: { id: "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", displayName: "Test SCIMv2" } }],
    };
    expect(normalized(rename, GROUP_PATCH_SCHEMA)).toStrictEqual([
      { op: "replace", path: "id", value: "abf4dd94-a4c0-4f67-89c9-76b03340cb9b" },
      { op: "replace", path: "displayName", value: "Test SCIMv2" },
    ]);
  });

  it("drops Entra's null $ref from member values, for add and remove", () => {
    // ENTRA_TUTORIAL, "Update Group [Add Members]" and "Update Group [Remove Members]".
    const value = [{ $ref: null, value: "f648f8d5ea4e4cd38e9c" }];
    expect(normalized(patchOp({ op: "Add", path: "members", value }), GROUP_PATCH_SCHEMA)).toStrictEqual([{ op: "add", path: "members", value: [{ value: "f648f8d5ea4e4cd38e9c" }] }]);
    expect(normalized(patchOp({ op: "Remove", path: "members", value }), GROUP_PATCH_SCHEMA)).toStrictEqual([{ op: "remove", path: "members", value: [{ value: "f648f8d5ea4e4cd38e9c" }] }]);
  });

  it("keeps a member filter as sent, colon and all", () => {
    expect(normalized(patchOp({ op: "remove", path: 'members[value eq "scalekit:user_1"]' }), GROUP_PATCH_SCHEMA)).toStrictEqual([
      { op: "remove", path: 'members[value eq "scalekit:user_1"]' },
    ]);
  });

  it("puts an unprefixed manager under the enterprise extension and unwraps the one-element array", () => {
    // ENTRA_TUTORIAL, Example 5.
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
    expect(normalized(body)).toStrictEqual([
      { op: "add", path: `${ENTERPRISE}:manager`, value: { $ref: "http://.../scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee", value: "00aa00aa-bb11-cc22-dd33-44ee44ee44ee" } },
    ]);
  });

  it("wraps a manager sent as a bare id", () => {
    expect(normalized(patchOp({ op: "Add", path: `${ENTERPRISE}:manager`, value: "45619541-95de-4d5e-9872-571b5d2c5577" }))).toStrictEqual([
      { op: "add", path: `${ENTERPRISE}:manager`, value: { value: "45619541-95de-4d5e-9872-571b5d2c5577" } },
    ]);
  });

  it("spells attribute names, sub-attributes and schema URNs canonically", () => {
    // `emails[type eq "other"].Value` is how ENTRA_TUTORIAL's attribute table writes proxy-Addresses.
    expect(
      normalized(
        patchOp(
          { op: "Add", path: 'emails[type eq "other"].Value', value: "alias@testuser.com" },
          { op: "Replace", path: "NAME.GIVENNAME", value: "Barbara" },
          { op: "Replace", path: "urn:ietf:params:scim:schemas:core:2.0:User:userName", value: "bjensen" },
          { op: "Replace", path: "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:Department", value: "Finance" },
        ),
      ),
    ).toStrictEqual([
      { op: "add", path: 'emails[type eq "other"].value', value: "alias@testuser.com" },
      { op: "replace", path: "name.givenName", value: "Barbara" },
      { op: "replace", path: "userName", value: "bjensen" },
      { op: "replace", path: `${ENTERPRISE}:department`, value: "Finance" },
    ]);
  });

  it("splits a whole enterprise object into its attributes, canonically spelled", () => {
    expect(normalized(patchOp({ op: "add", value: { [ENTERPRISE]: { Department: "Finance", manager: { value: "m1" } } } }))).toStrictEqual([
      { op: "add", path: `${ENTERPRISE}:department`, value: "Finance" },
      { op: "add", path: `${ENTERPRISE}:manager`, value: { value: "m1" } },
    ]);
  });

  it("turns null into unassigned: replace clears, add adds nothing", () => {
    expect(normalized(patchOp({ op: "replace", path: "title", value: null }))).toStrictEqual([{ op: "remove", path: "title" }]);
    expect(normalized(patchOp({ op: "add", path: "title", value: null }))).toStrictEqual([]);
    expect(normalized(patchOp({ op: "replace", path: "name", value: { givenName: "Barbara", middleName: null } }))).toStrictEqual([
      { op: "replace", path: "name", value: { givenName: "Barbara" } },
      { op: "remove", path: "name.middleName" },
    ]);
  });

  it("reads an empty path as no path", () => {
    expect(normalized(patchOp({ op: "replace", path: "", value: { active: "True" } }))).toStrictEqual([{ op: "replace", path: "active", value: true }]);
  });

  it("refuses with the RFC's scimType, naming the operation", () => {
    expect(normalizePatch(patchOp({ op: "replace", path: "active", value: false }, { op: "replace", path: "favoriteColor", value: "blue" }), USER_PATCH_SCHEMA)).toStrictEqual({
      ok: false,
      status: 400,
      scimType: "invalidPath",
      detail: 'Operations.1: path "favoriteColor" names no attribute of a User',
    });
  });
});
