import { describe, expect, it } from "vitest";
import { ENTERPRISE, GROUP_SCHEMA, newConnection, PATCH_OP, scim, tickingClock, USER_SCHEMA, type TestConnection } from "../../support/scim-connection";

/**
 * A CRUD conformance pass over a connection's base URL in the style of the public SCIM validators
 * (discovery; create, read, replace, patch, delete for Users and Groups; every attribute kind:
 * simple, complex, multi-valued, extension). Deliberate omissions (README, "SCIM connections"):
 * x509Certificates are accepted and not returned; no /Bulk, no /Me, no password.
 */

const T0 = Date.parse("2026-12-05T09:00:00Z");

async function session(organizationId: string) {
  const clock = tickingClock(T0);
  const connection: TestConnection = await newConnection(organizationId, T0);
  return (method: string, path: string, body?: unknown, headers?: Record<string, string>) => scim(connection, clock, method, path, body, { headers });
}

describe("discovery", () => {
  it("serves ServiceProviderConfig, ResourceTypes and Schemas at the connection's base URL", async () => {
    const call = await session("org_conf_discovery");
    const config = await call("GET", "/ServiceProviderConfig");
    expect(config.body).toMatchObject({ patch: { supported: true }, bulk: { supported: false }, filter: { supported: true }, etag: { supported: true }, sort: { supported: true }, changePassword: { supported: false } });
    const types = await call("GET", "/ResourceTypes");
    expect(types.body.Resources.map((type: { id: string; endpoint: string }) => [type.id, type.endpoint])).toStrictEqual([
      ["User", "/Users"],
      ["Group", "/Groups"],
    ]);
    expect((await call("GET", "/ResourceTypes/User")).body.schemaExtensions).toStrictEqual([{ schema: ENTERPRISE, required: false }]);
    const userSchema = (await call("GET", `/Schemas/${USER_SCHEMA}`)).body;
    const mutability = Object.fromEntries(userSchema.attributes.map((attribute: { name: string; mutability: string }) => [attribute.name, attribute.mutability]));
    expect(mutability).toMatchObject({ userName: "readWrite", name: "readWrite", emails: "readWrite", active: "readWrite", groups: "readOnly" });
    // What a connection stores is advertised (its profile), and nothing it drops (certificates).
    expect(mutability).toMatchObject({ title: "readWrite", phoneNumbers: "readWrite", addresses: "readWrite", nickName: "readWrite", locale: "readWrite" });
    expect(mutability).not.toHaveProperty("x509Certificates");
    expect(mutability).not.toHaveProperty("password");
    const nameParts = userSchema.attributes.find((attribute: { name: string }) => attribute.name === "name").subAttributes.map((sub: { name: string }) => sub.name);
    expect(nameParts).toEqual(expect.arrayContaining(["givenName", "familyName", "middleName", "formatted", "honorificPrefix"]));
    const addressParts = userSchema.attributes.find((attribute: { name: string }) => attribute.name === "addresses").subAttributes.map((sub: { name: string; mutability: string }) => [sub.name, sub.mutability]);
    expect(addressParts).toContainEqual(["streetAddress", "readWrite"]);
    const groupSchema = (await call("GET", `/Schemas/${GROUP_SCHEMA}`)).body;
    expect(groupSchema.attributes.map((attribute: { name: string }) => attribute.name)).toEqual(expect.arrayContaining(["displayName", "externalId", "members"]));
    expect((await call("GET", "/Schemas")).body.totalResults).toBe(3);
    expect((await call("GET", "/Schemas/urn:nope")).status).toBe(404);
  });
});

describe("Users: create, read, replace, patch, delete", () => {
  it("round-trips every attribute kind", async () => {
    const call = await session("org_conf_users");
    const sent = {
      schemas: [USER_SCHEMA, ENTERPRISE],
      userName: "grace@example.com", // simple
      externalId: "hr-1815",
      active: true,
      name: { formatted: "Rear Admiral Grace M. Hopper", givenName: "Grace", middleName: "Murray", familyName: "Hopper", honorificPrefix: "Rear Admiral", honorificSuffix: "PhD" }, // complex
      displayName: "Grace Hopper",
      nickName: "Amazing Grace",
      profileUrl: "https://example.com/grace",
      title: "Director",
      userType: "Employee",
      preferredLanguage: "en-US",
      locale: "en-US",
      timezone: "America/New_York",
      // multi-valued: all kept; the primary one is also the user's email
      emails: [
        { value: "home@example.com", type: "home" },
        { value: "grace@example.com", type: "work", primary: true },
      ],
      phoneNumbers: [
        { value: "+1 555 0100", type: "work" },
        { value: "+1 555 0199", type: "mobile" },
      ],
      ims: [{ value: "ghopper", type: "xmpp" }],
      photos: [{ value: "https://example.com/grace.jpg", type: "photo" }],
      addresses: [{ type: "work", streetAddress: "100 Universal City Plaza", locality: "Hollywood", region: "CA", postalCode: "91608", country: "US", formatted: "100 Universal City Plaza\nHollywood, CA 91608 USA", primary: true }],
      entitlements: [{ value: "Navy" }],
      roles: [{ value: "Computing", primary: true }],
      x509Certificates: [{ value: "MIIDQzCCAqygAwIBAgICEAAwDQYJKoZIhvcNAQEFBQAwTjELMAkGA1UEBhMCVVMx" }], // accepted, deliberately not kept
      [ENTERPRISE]: { department: "Navy", employeeNumber: "1906", manager: { value: "mgr-1" } }, // extension
    };
    const created = await call("POST", "/Users", sent);
    expect(created.status).toBe(201);
    const id = created.body.id;
    const { x509Certificates: _notKept, ...kept } = sent;
    expect(created.body).toStrictEqual({
      ...kept,
      id,
      meta: { resourceType: "User", created: expect.any(String), lastModified: expect.any(String), location: expect.stringMatching(new RegExp(`/Users/${id}$`)), version: expect.stringMatching(/^W\//) },
    });
    expect((await call("GET", `/Users/${id}`)).body).toStrictEqual(created.body);
    expect((await call("GET", `/Users/${id}?attributes=userName`)).body).toStrictEqual({ schemas: created.body.schemas, id, userName: "grace@example.com" });
    expect((await call("GET", `/Users/${id}?attributes=phoneNumbers.value,title`)).body).toStrictEqual({
      schemas: created.body.schemas,
      id,
      title: "Director",
      phoneNumbers: [{ value: "+1 555 0100" }, { value: "+1 555 0199" }],
    });

    // Replace: every kind changes, and what is not sent is gone.
    const replaced = await call("PUT", `/Users/${id}`, {
      schemas: [USER_SCHEMA],
      userName: "rear.admiral@example.com",
      active: true,
      name: { givenName: "Amazing" },
      title: "Rear Admiral",
      emails: [{ value: "ra@example.com", type: "work" }],
      addresses: [{ type: "home", locality: "Arlington" }],
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toStrictEqual({
      schemas: [USER_SCHEMA],
      id,
      userName: "rear.admiral@example.com",
      name: { givenName: "Amazing" },
      displayName: "Amazing", // derived from the name: the PUT sent none
      title: "Rear Admiral",
      active: true,
      emails: [{ value: "ra@example.com", type: "work" }],
      addresses: [{ type: "home", locality: "Arlington" }],
      meta: expect.objectContaining({ resourceType: "User" }),
    });

    // Patch: add, replace and remove on each kind, with Entra's filtered paths.
    const patched = await call("PATCH", `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "add", path: "externalId", value: "hr-1906" },
        { op: "replace", path: "name.familyName", value: "Hopper" },
        { op: "add", path: "name.honorificPrefix", value: "Rear Admiral" },
        { op: "replace", path: "title", value: "Commodore" },
        { op: "add", path: "nickName", value: "Grandma COBOL" },
        { op: "replace", path: 'emails[type eq "work"].value', value: "grace.hopper@example.com" },
        { op: "add", path: 'phoneNumbers[type eq "mobile"].value', value: "+1 555 0123" },
        { op: "add", path: 'addresses[type eq "work"].streetAddress', value: "1 Navy Pentagon" },
        { op: "add", path: `${ENTERPRISE}:department`, value: "Computing" },
        { op: "add", path: `${ENTERPRISE}:costCenter`, value: "CC-1" },
      ],
    });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({
      schemas: [USER_SCHEMA, ENTERPRISE],
      externalId: "hr-1906",
      name: { givenName: "Amazing", familyName: "Hopper", honorificPrefix: "Rear Admiral" },
      displayName: "Amazing Hopper", // still derived: no request set it
      nickName: "Grandma COBOL",
      title: "Commodore",
      emails: [{ value: "grace.hopper@example.com", type: "work" }],
      phoneNumbers: [{ value: "+1 555 0123", type: "mobile" }],
      addresses: [
        { type: "home", locality: "Arlington" },
        { type: "work", streetAddress: "1 Navy Pentagon" },
      ],
      [ENTERPRISE]: { department: "Computing", costCenter: "CC-1" },
    });
    const filtered = await call("PATCH", `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "replace", path: 'addresses[type eq "work"].streetAddress', value: "2 Navy Pentagon" },
        { op: "replace", path: 'phoneNumbers[type eq "mobile"].value', value: "+1 555 0124" },
      ],
    });
    expect(filtered.body.addresses).toStrictEqual([
      { type: "home", locality: "Arlington" },
      { type: "work", streetAddress: "2 Navy Pentagon" },
    ]);
    expect(filtered.body.phoneNumbers).toStrictEqual([{ value: "+1 555 0124", type: "mobile" }]);
    const removed = await call("PATCH", `/Users/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "remove", path: `${ENTERPRISE}:costCenter` },
        { op: "remove", path: "name.givenName" },
        { op: "remove", path: "nickName" },
        { op: "remove", path: 'addresses[type eq "home"]' },
        { op: "remove", path: "phoneNumbers" },
      ],
    });
    expect(removed.status).toBe(200);
    expect(removed.body[ENTERPRISE]).toStrictEqual({ department: "Computing" });
    expect(removed.body.name).toStrictEqual({ familyName: "Hopper", honorificPrefix: "Rear Admiral" });
    expect(removed.body.nickName).toBeUndefined();
    expect(removed.body.phoneNumbers).toBeUndefined();
    expect(removed.body.addresses).toStrictEqual([{ type: "work", streetAddress: "2 Navy Pentagon" }]);
    expect((await call("GET", `/Users/${id}`)).body).toStrictEqual(removed.body);

    expect((await call("DELETE", `/Users/${id}`)).status).toBe(204);
    expect((await call("GET", `/Users/${id}`)).status).toBe(404);
    expect((await call("GET", "/Users")).body.totalResults).toBe(0);
  });
});

describe("Groups: create, read, replace, patch, delete", () => {
  it("round-trips displayName and members", async () => {
    const call = await session("org_conf_groups");
    const [u1, u2, u3] = await Promise.all(["a", "b", "c"].map(async (name) => (await call("POST", "/Users", { schemas: [USER_SCHEMA], userName: `${name}@example.com` })).body.id as string));
    const created = await call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "Engineering", members: [{ value: u1 }, { value: u2 }] });
    expect(created.status).toBe(201);
    const id = created.body.id;
    const values = (body: { members?: { value: string }[] }) => (body.members ?? []).map((member) => member.value).sort();
    expect(values(created.body)).toStrictEqual([u1, u2].sort());
    expect((await call("GET", `/Groups/${id}`)).body).toStrictEqual(created.body);
    expect((await call("GET", `/Groups/${id}?excludedAttributes=members`)).body.members).toBeUndefined();

    const replaced = await call("PUT", `/Groups/${id}`, { schemas: [GROUP_SCHEMA], displayName: "Eng", members: [{ value: u2 }, { value: u3 }] });
    expect(replaced.body.displayName).toBe("Eng");
    expect(values(replaced.body)).toStrictEqual([u2, u3].sort());

    const patched = await call("PATCH", `/Groups/${id}`, {
      schemas: [PATCH_OP],
      Operations: [
        { op: "replace", path: "displayName", value: "Engineering" },
        { op: "add", path: "members", value: [{ value: u1 }] },
        { op: "remove", path: `members[value eq "${u3}"]` },
      ],
    });
    expect(patched.body.displayName).toBe("Engineering");
    expect(values(patched.body)).toStrictEqual([u1, u2].sort());
    // The users show their groups.
    expect((await call("GET", `/Users/${u1}`)).body.groups).toMatchObject([{ value: id, display: "Engineering" }]);
    expect((await call("GET", `/Users/${u3}`)).body.groups).toBeUndefined();

    const cleared = await call("PATCH", `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "remove", path: "members" }] });
    expect(cleared.status).toBe(200);
    expect(values(cleared.body)).toStrictEqual([]);

    expect((await call("DELETE", `/Groups/${id}`)).status).toBe(204);
    expect((await call("GET", `/Groups/${id}`)).status).toBe(404);
    expect((await call("GET", "/Groups")).body.totalResults).toBe(0);
  });
});
