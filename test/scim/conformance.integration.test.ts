import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { expectScimError, scimList, scimRequest, searchRequest, type ScimList } from "../support/scim-conformance";
import { seedDirectory } from "../support/seed";
import { callApp } from "../support/worker";

/**
 * SCIM conformance (issue 10): what independent clients and conformance tools found, each point
 * checked through the Worker and every response validated by SCIMMY (test/support/scim-conformance.ts).
 *
 * Directory: seedDirectory's alice, bob, carol (inactive), dave (deleted), erin (org_2), plus
 * - slash: userName `back\slash@x.example` (a literal backslash), enterprise department "R&D";
 * - quote: userName `quote"d@x.example`;
 * - ghost: forgotten (personal data erased, tombstone kept).
 */

const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const t = Date.parse("2026-02-01T00:00:00Z");
const q = encodeURIComponent;

const ids = (body: ScimList) => body.Resources.map((resource) => String(resource.id).replace("scalekit:", ""));
const filtered = async (filter: string, resource = "Users") => ids(await scimList(`/${resource}?filter=${q(filter)}`));

function user(externalId: string, fields: { userName?: string; email?: string; attributes?: Record<string, string> }): DirectoryEvent {
  const event = events.userUpserted(externalId, t, { email: fields.email ?? `${externalId}@x.example`, firstName: externalId });
  return { ...event, user: { ...(event as { user: object }).user, userName: fields.userName ?? null, attributes: fields.attributes ?? null } } as DirectoryEvent;
}

beforeAll(async () => {
  await seedDirectory();
  const { result } = await deliverBatch(
    [
      user("slash", { userName: "back\\slash@x.example", attributes: { department: "R&D", costCenter: "42" } }),
      user("quote", { userName: 'quote"d@x.example' }),
      user("ghost", {}),
      { provider: "scalekit", sourceType: "test", eventId: "evt_forget_ghost", occurredAt: t + 100, kind: "user_forgotten", externalId: "ghost" } as DirectoryEvent,
    ].map((event) => eventMessage(event)),
  );
  if (result.retryMessages.length) throw new Error("seeding failed");
  // Distinct creation and modification times, in an order unlike the id order, for sorting.
  const times: Record<string, [number, number]> = { alice: [5, 1], bob: [4, 5], carol: [3, 2], dave: [2, 4], erin: [1, 3], slash: [6, 6], quote: [7, 7], ghost: [8, 8] };
  for (const [id, [created, updated]] of Object.entries(times)) {
    await env.DB.prepare("UPDATE users SET created_at = ?, updated_at = ? WHERE external_id = ?").bind(t + created * 1000, t + updated * 1000, id).run();
  }
});

describe("discovery documents that real clients accept", () => {
  it("/Schemas: every reference declares referenceTypes, every attribute its RFC 7643 §7 characteristics, as SCIMMY defines them", async () => {
    const schemas = await scimList("/Schemas");
    expect(schemas.totalResults).toBe(3);
    const references: string[] = [];
    const walk = (attributes: Record<string, unknown>[], prefix: string) => {
      for (const attribute of attributes) {
        const path = `${prefix}${String(attribute.name)}`;
        if (attribute.type === "reference") {
          references.push(path);
          expect(attribute.referenceTypes, path).toEqual(expect.any(Array));
        }
        walk((attribute.subAttributes as Record<string, unknown>[] | undefined) ?? [], `${path}.`);
      }
    };
    for (const schema of schemas.Resources) walk(schema.attributes as Record<string, unknown>[], "");
    expect(references).toEqual(expect.arrayContaining(["groups.$ref", "members.$ref", "manager.$ref"]));
    // One schema alone, also validated.
    expect((await scimRequest(`/Schemas/${CORE_USER}`)).status).toBe(200);
  });

  it("ServiceProviderConfig says sorting is supported; ResourceTypes pass SCIMMY's schema", async () => {
    const { body } = await scimRequest("/ServiceProviderConfig");
    expect(body).toMatchObject({ sort: { supported: true }, filter: { supported: true, maxResults: 200 } });
    await scimList("/ResourceTypes");
    expect((await scimRequest("/ResourceTypes/User")).status).toBe(200);
  });
});

describe("attributes and excludedAttributes", () => {
  it("excludedAttributes removes sub-attributes: emails.type, name.givenName", async () => {
    const { body } = await scimRequest("/Users/scalekit:bob?excludedAttributes=emails.type,name.givenName");
    expect(body.emails).toEqual([{ value: "bob@example.com", primary: true }]);
    expect(body.name).toEqual({ familyName: "Last" });
    expect(body).toMatchObject({ userName: "bob@example.com", displayName: "Bob Last", active: true });
  });

  it("a complex attribute left empty by its exclusions is left out", async () => {
    const { body } = await scimRequest("/Users/scalekit:bob?excludedAttributes=name.givenName,name.familyName");
    expect(body).not.toHaveProperty("name");
  });

  it("attributes takes full URN paths: the enterprise extension's department, the core userName", async () => {
    const department = (await scimList(`/Users?filter=${q('externalId eq "slash"')}&attributes=${ENTERPRISE}:department`)).Resources[0];
    expect(department).toEqual({ schemas: [CORE_USER, ENTERPRISE], id: "scalekit:slash", [ENTERPRISE]: { department: "R&D" } });
    const { body: userName } = await scimRequest(`/Users/scalekit:bob?attributes=${CORE_USER}:userName`);
    expect(userName).toEqual({ schemas: [CORE_USER], id: "scalekit:bob", userName: "bob@example.com" });
    const { body: whole } = await scimRequest(`/Users/scalekit:slash?attributes=${ENTERPRISE}`);
    expect(whole[ENTERPRISE]).toEqual({ department: "R&D", costCenter: "42" });
  });

  it("excludedAttributes takes full URN paths too", async () => {
    const { body } = await scimRequest(`/Users/scalekit:slash?excludedAttributes=${ENTERPRISE}:department,${CORE_USER}:emails`);
    expect(body[ENTERPRISE]).toEqual({ costCenter: "42" });
    expect(body).not.toHaveProperty("emails");
    expect(body).toHaveProperty("userName");
  });

  it("attribute names are case-insensitive (RFC 7643 §2.1)", async () => {
    const { body } = await scimRequest(`/Users/scalekit:bob?attributes=USERNAME,Name.GIVENNAME,${CORE_USER.toUpperCase()}:ACTIVE`);
    expect(body).toEqual({ schemas: [CORE_USER], id: "scalekit:bob", userName: "bob@example.com", name: { givenName: "Bob" }, active: true });
    const { body: excluded } = await scimRequest("/Users/scalekit:bob?excludedAttributes=EMAILS.TYPE,Groups");
    expect(excluded.emails).toEqual([{ value: "bob@example.com", primary: true }]);
    expect(excluded).not.toHaveProperty("groups");
  });

  it("id and schemas are always returned", async () => {
    const { body } = await scimRequest("/Users/scalekit:bob?excludedAttributes=id,schemas,userName");
    expect(body).toMatchObject({ id: "scalekit:bob", schemas: [CORE_USER] });
    expect(body).not.toHaveProperty("userName");
  });
});

describe("filter string literals are JSON strings (RFC 7644 §3.4.2.2)", () => {
  it.each([
    ['userName eq "back\\\\slash@x.example"', ["slash"]],
    ['userName sw "back\\\\"', ["slash"]],
    ['userName co "\\\\"', ["slash"]],
    ['userName eq "quote\\"d@x.example"', ["quote"]],
    ['userName eq "\\u0041lice@example.com"', ["alice"]],
    ['externalId eq "\\u0062ob"', ["bob"]],
    ['userName eq "\\/"', []],
    ['userName eq "back\\slash@x.example"', "invalidFilter"],
    ['userName eq "\\q"', "invalidFilter"],
    ['userName eq "\\u00"', "invalidFilter"],
    ['userName eq "unterminated\\"', "invalidFilter"],
  ])("%s", async (filter, expected) => {
    if (expected === "invalidFilter") {
      const { status, body } = await scimRequest(`/Users?filter=${q(filter)}`);
      expect(status).toBe(400);
      expectScimError(body, 400, "invalidFilter");
    } else expect(await filtered(filter)).toEqual(expected);
  });

  // Every filter example of RFC 7644 §3.4.2.2, verbatim. The ones on attributes this directory has
  // parse and run; the others (title, userType, ims, schemas) are 400 invalidFilter, never a 500.
  it.each([
    ['userName eq "bjensen"', []],
    ['name.familyName co "O\'Malley"', []],
    ['userName sw "J"', []],
    [`${CORE_USER}:userName sw "J"`, []],
    ["title pr", null],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', "all"],
    ['meta.lastModified ge "2011-05-13T04:42:34Z"', "all"],
    ['meta.lastModified lt "2011-05-13T04:42:34Z"', []],
    ['meta.lastModified le "2011-05-13T04:42:34Z"', []],
    ['title pr and userType eq "Employee"', null],
    ['title pr or userType eq "Intern"', null],
    [`schemas eq "${ENTERPRISE}"`, null],
    ['userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', null],
    ['userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', null],
    ['userType eq "Employee" and (emails.type eq "work")', null],
    ['userType eq "Employee" and emails[type eq "work" and value co "@example.com"]', null],
    ['emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]', null],
    // The same examples without the attributes this directory does not have.
    ['emails co "example.com" or emails.value co "example.org"', ["alice", "bob", "carol", "dave", "erin"]],
    ['not (emails co "example.com" or emails.value co "example.org")', ["ghost", "quote", "slash"]],
    ['emails.type eq "work"', ["alice", "bob", "carol", "dave", "erin", "quote", "slash"]],
    ['emails[type eq "work" and value co "@example.com"]', ["alice", "bob", "carol", "dave", "erin"]],
  ])("RFC example %s", async (filter, expected) => {
    const { status, body } = await scimRequest(`/Users?filter=${q(filter)}`);
    if (expected === null) {
      expect(status).toBe(400);
      expectScimError(body, 400, "invalidFilter");
      return;
    }
    expect(status).toBe(200);
    const found = ids(body as ScimList).sort();
    if (expected === "all") expect(found.length).toBe((body as ScimList).totalResults);
    else expect(found).toEqual(expected);
  });
});

describe("forgotten users", () => {
  it("are served with a userName (RFC 7643 §4.1.1): their SCIM id, nothing personal", async () => {
    const { status, body } = await scimRequest("/Users/scalekit:ghost");
    expect(status).toBe(200);
    expect(body.userName).toBe("scalekit:ghost");
    expect(Object.keys(body).sort()).toEqual(["active", "externalId", "id", "meta", "schemas", "userName"]);
    expect(body.active).toBe(false);
    // Lists and lookups agree with the representation.
    expect(await filtered('userName eq "scalekit:ghost"')).toEqual(["ghost"]);
    expect(await filtered("userName pr")).toContain("ghost");
  });
});

describe("startIndex and count", () => {
  it.each(["startIndex=abc", "startIndex=1.5", "startIndex=1e2", "startIndex=", "count=abc", "count=2.0", "count=0x10", "startIndex=1&count=ten"])("%s → 400 invalidValue", async (query) => {
    const { status, body } = await scimRequest(`/Users?${query}`);
    expect(status).toBe(400);
    expectScimError(body, 400, "invalidValue");
    expect((await scimRequest(`/Groups?${query}`)).status).toBe(400);
  });

  it("out-of-range integers are clamped as RFC 7644 §3.4.2.4 says, and paging numbers are JSON integers", async () => {
    expect(await scimList("/Users?startIndex=0&count=1")).toMatchObject({ startIndex: 1, itemsPerPage: 1 });
    expect(await scimList("/Users?startIndex=-7&count=1")).toMatchObject({ startIndex: 1, itemsPerPage: 1 });
    expect(await scimList("/Users?count=-3")).toMatchObject({ itemsPerPage: 0, Resources: [], totalResults: 8 });
    expect(await scimList("/Users?count=99999999999999999999")).toMatchObject({ itemsPerPage: 8 });
    expect(await scimList("/Users?startIndex=100")).toMatchObject({ startIndex: 100, itemsPerPage: 0, totalResults: 8 });
    // Past any page there could be: still an empty page, never a 500 from the database.
    const far = await scimList(`/Users?startIndex=1${"0".repeat(30)}`);
    expect(far).toMatchObject({ itemsPerPage: 0, totalResults: 8 });
    expect(Number.isSafeInteger(far.startIndex)).toBe(true);
  });
});

describe("sortBy and sortOrder", () => {
  const sorted = async (query: string, resource = "Users") => ids(await scimList(`/${resource}?${query}`));

  it("userName, ascending by default and descending on request, case-insensitively", async () => {
    // userNames: alice@…, back\slash@…, bob@…, carol@…, dave@…, erin+tag@…, quote"d@…, scalekit:ghost
    const ascending = ["alice", "slash", "bob", "carol", "dave", "erin", "quote", "ghost"];
    expect(await sorted("sortBy=userName")).toEqual(ascending);
    expect(await sorted("sortBy=userName&sortOrder=ascending")).toEqual(ascending);
    expect(await sorted("sortBy=username&sortOrder=descending")).toEqual([...ascending].reverse());
  });

  it("displayName: users without one sort last ascending, first descending", async () => {
    // Alice Last, Bob Last, Carol Last, Erin Last, Gone Last (dave), quote, slash; ghost has none.
    expect(await sorted("sortBy=displayName")).toEqual(["alice", "bob", "carol", "erin", "dave", "quote", "slash", "ghost"]);
    expect(await sorted("sortBy=displayName&sortOrder=descending")).toEqual(["ghost", "slash", "quote", "dave", "erin", "carol", "bob", "alice"]);
  });

  it("meta.created and meta.lastModified, also with full URN paths", async () => {
    expect(await sorted("sortBy=meta.created")).toEqual(["erin", "dave", "carol", "bob", "alice", "slash", "quote", "ghost"]);
    expect(await sorted("sortBy=meta.lastModified&sortOrder=descending")).toEqual(["ghost", "quote", "slash", "bob", "dave", "erin", "carol", "alice"]);
    expect(await sorted(`sortBy=${CORE_USER}:meta.lastModified`)).toEqual(["alice", "carol", "erin", "dave", "bob", "slash", "quote", "ghost"]);
  });

  it("pages of a sorted listing join up to the whole sorted listing, ties broken by id", async () => {
    await env.DB.prepare("UPDATE groups SET created_at = ?").bind(t).run();
    const whole = await sorted("sortBy=meta.created&sortOrder=descending");
    const pages = [];
    for (let start = 1; start <= 8; start += 3) pages.push(...(await sorted(`sortBy=meta.created&sortOrder=descending&startIndex=${start}&count=3`)));
    expect(pages).toEqual(whole);
    // Equal values: id order, both directions.
    expect(await sorted("sortBy=meta.created", "Groups")).toEqual(["grp_admins", "grp_eng"]);
    expect(await sorted("sortBy=meta.created&sortOrder=descending", "Groups")).toEqual(["grp_admins", "grp_eng"]);
    expect(await sorted("sortBy=displayName&sortOrder=descending", "Groups")).toEqual(["grp_eng", "grp_admins"]);
  });

  it.each(["sortBy=password", "sortBy=title", "sortBy=userName&sortOrder=sideways", "sortBy="])("%s → 400 invalidValue", async (query) => {
    const { status, body } = await scimRequest(`/Users?${query}`);
    expect(status).toBe(400);
    expectScimError(body, 400, "invalidValue");
  });
});

describe("the lookups identity providers send", () => {
  it("externalId eq: a match, and 200 with totalResults 0 on no match", async () => {
    expect(await filtered('externalId eq "bob"')).toEqual(["bob"]);
    expect(await scimList(`/Users?filter=${q('externalId eq "nobody"')}`)).toMatchObject({ totalResults: 0, itemsPerPage: 0, Resources: [] });
  });

  it('emails[type eq "work"].value eq (Entra ID)', async () => {
    expect(await filtered('emails[type eq "work"].value eq "BOB@example.com"')).toEqual(["bob"]);
    expect(await scimList(`/Users?filter=${q('emails[type eq "work"].value eq "nobody@example.com"')}`)).toMatchObject({ totalResults: 0, Resources: [] });
    expect(await filtered('emails[type eq "home"].value eq "bob@example.com"')).toEqual([]);
  });

  it("displayName eq on Groups with excludedAttributes=members", async () => {
    const found = await scimList(`/Groups?filter=${q('displayName eq "Engineering"')}&excludedAttributes=members`);
    expect(found).toMatchObject({ totalResults: 1, Resources: [{ id: "scalekit:grp_eng", displayName: "Engineering" }] });
    expect(found.Resources[0]).not.toHaveProperty("members");
    expect(await scimList(`/Groups?filter=${q('displayName eq "Nobody"')}&excludedAttributes=members`)).toMatchObject({ totalResults: 0, Resources: [] });
  });
});

describe("POST /Users/.search and /Groups/.search (RFC 7644 §3.4.3)", () => {
  const READ_TOKENS = "read-all org_2:read-org2";

  it("answers what the same GET answers: filter, paging, attributes, sorting", async () => {
    const cases: [string, Parameters<typeof searchRequest>[0]][] = [
      [`filter=${q('userName sw "b"')}`, { filter: 'userName sw "b"' }],
      ["startIndex=2&count=3&sortBy=displayName&sortOrder=descending", { startIndex: 2, count: 3, sortBy: "displayName", sortOrder: "descending" }],
      ["attributes=userName,emails.value", { attributes: ["userName", "emails.value"] }],
      ["excludedAttributes=groups,name.givenName", { excludedAttributes: ["groups", "name.givenName"] }],
      [`filter=${q("active eq true")}&count=2&attributes=${ENTERPRISE}:department`, { filter: "active eq true", count: 2, attributes: [`${ENTERPRISE}:department`] }],
    ];
    // An empty attribute list names nothing, as if it were not sent.
    expect(await scimList("/Users/.search", { search: { attributes: [], excludedAttributes: [] } })).toEqual(await scimList("/Users"));
    for (const [query, search] of cases) {
      const viaGet = await scimList(`/Users?${query}`);
      const viaPost = await scimList("/Users/.search", { search: searchRequest(search) });
      expect(viaPost, query).toEqual(viaGet);
    }
    const groups = await scimList("/Groups/.search", { search: searchRequest({ filter: 'displayName eq "engineering"', excludedAttributes: ["members"] }) });
    expect(groups).toEqual(await scimList(`/Groups?filter=${q('displayName eq "engineering"')}&excludedAttributes=members`));
    expect(ids(groups)).toEqual(["grp_eng"]);
  });

  it("is a read: read tokens may search, an organization-scoped token sees its organization only", async () => {
    const everyone = await scimList("/Users/.search", { search: searchRequest({}), headers: { authorization: "Bearer read-all" }, env: { READ_TOKENS } });
    expect(everyone.totalResults).toBe(8);
    const scoped = await scimList("/Users/.search", { search: searchRequest({ filter: "userName pr or not (userName pr)" }), headers: { authorization: "Bearer read-org2" }, env: { READ_TOKENS } });
    expect(ids(scoped)).toEqual(["erin"]);
    const groups = await scimList("/Groups/.search", { search: searchRequest({}), headers: { authorization: "Bearer read-org2" }, env: { READ_TOKENS } });
    expect(groups.totalResults).toBe(0);
    const anonymous = await scimRequest("/Users/.search", { search: {}, headers: { authorization: "" }, env: { READ_TOKENS } });
    expect(anonymous.status).toBe(401);
  });

  it.each([
    ["not JSON", "{", "invalidSyntax"],
    ["a JSON array", "[]", "invalidSyntax"],
    ["another message's schema", JSON.stringify({ schemas: ["urn:ietf:params:scim:api:messages:2.0:ListResponse"] }), "invalidSyntax"],
    ["a non-integer startIndex", JSON.stringify({ startIndex: "abc" }), "invalidValue"],
    ["a fractional count", JSON.stringify({ count: 1.5 }), "invalidValue"],
    ["a filter that is not a string", JSON.stringify({ filter: 5 }), "invalidValue"],
    ["attributes that are not strings", JSON.stringify({ attributes: [1] }), "invalidValue"],
    ["an unknown sortOrder", JSON.stringify({ sortBy: "userName", sortOrder: "up" }), "invalidValue"],
    ["a filter that does not parse", JSON.stringify({ filter: "userName eq" }), "invalidFilter"],
  ])("rejects %s with 400 %s", async (_label, body, scimType) => {
    const response = await scimRequest("/Users/.search", { body, method: "POST", headers: { "content-type": "application/scim+json" } });
    expect(response.status).toBe(400);
    expectScimError(response.body, 400, scimType);
  });

  it("rejects a body over 64 KiB with 413", async () => {
    const response = await scimRequest("/Users/.search", { body: JSON.stringify({ filter: "x".repeat(70_000) }), method: "POST" });
    expect(response.status).toBe(413);
    expectScimError(response.body, 413);
  });
});

describe("unexpected failures", () => {
  const brokenDatabase = {
    prepare() {
      throw new Error("D1_ERROR: database unavailable");
    },
    batch() {
      throw new Error("D1_ERROR: database unavailable");
    },
  } as unknown as D1Database;

  it.each(["/Users", "/Users/scalekit:bob", "/Groups", "/Groups/scalekit:grp_eng"])("GET %s answers 500 in the SCIM error schema", async (path) => {
    const { status, body } = await scimRequest(path, { env: { DB: brokenDatabase } });
    expect(status).toBe(500);
    expectScimError(body, 500);
    expect(JSON.stringify(body)).not.toContain("D1_ERROR");
  });

  it("POST /.search too", async () => {
    const { status, body } = await scimRequest("/Groups/.search", { search: searchRequest({}), env: { DB: brokenDatabase } });
    expect(status).toBe(500);
    expectScimError(body, 500);
  });
});

describe("every response of a representative set passes SCIMMY", () => {
  it.each([
    "/Users",
    "/Users?count=3&startIndex=2",
    `/Users?filter=${q('userName sw "a" or active eq false')}`,
    "/Users?attributes=userName,name.familyName,groups.display",
    `/Users?excludedAttributes=emails,${ENTERPRISE}:costCenter`,
    "/Users?sortBy=meta.lastModified&sortOrder=descending",
    "/Users/scalekit:alice",
    "/Users/scalekit:slash",
    "/Users/scalekit:dave",
    "/Users/scalekit:nobody",
    "/Groups",
    "/Groups?attributes=displayName",
    "/Groups/scalekit:grp_eng",
    "/Groups/scalekit:grp_eng?excludedAttributes=members",
    "/Schemas",
    "/ResourceTypes",
    "/ServiceProviderConfig",
    "/Nothing",
  ])("GET %s", async (path) => {
    const { status } = await scimRequest(path);
    expect([200, 404]).toContain(status);
  });
});

describe("hardening from review", () => {
  const get = (path: string) => callApp(new Request(`https://sync.example.com/scim/v2${path}`, { headers: { authorization: "Bearer test-admin-token" } }));
  it("a path in another resource's schema is an unknown attribute (400), not a match on its last segment", async () => {
    const group = encodeURIComponent("urn:ietf:params:scim:schemas:core:2.0:Group:displayName");
    expect((await get(`/Users?sortBy=${group}`)).status).toBe(400);
    expect((await get(`/Users?filter=${encodeURIComponent(`${decodeURIComponent(group)} pr`)}`)).status).toBe(400);
    expect((await get(`/Users?sortBy=foo:userName`)).status).toBe(400);
    const own = encodeURIComponent("urn:ietf:params:scim:schemas:core:2.0:User:userName");
    expect((await get(`/Users?sortBy=${own}`)).status).toBe(200);
  });

  it("caps the number of attribute names (a CPU amplification otherwise), after de-duplicating them", async () => {
    expect((await get(`/Groups?attributes=${Array.from({ length: 500 }, () => "members.value").join(",")}`)).status).toBe(200);
    const distinct = Array.from({ length: 60 }, (_, i) => `x${i}`).join(",");
    const response = await get(`/Groups?attributes=${distinct}`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ scimType: "invalidValue" });
  });
});
