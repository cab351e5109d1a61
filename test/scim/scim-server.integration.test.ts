import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { seededRandom } from "../support/random";
import { ADMIN, seedDirectory } from "../support/seed";
import { scimList, scimRequest } from "../support/scim-conformance";
import { callApp } from "../support/worker";

const BASE = "https://sync.example.com/scim/v2";
const LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
const ERROR = "urn:ietf:params:scim:api:messages:2.0:Error";

type ScimList = { schemas: string[]; totalResults: number; startIndex: number; itemsPerPage: number; Resources: Record<string, unknown>[] };
const scim = (path: string, init: RequestInit = {}) => callApp(new Request(BASE + path, { ...init, headers: { ...ADMIN, ...(init.headers as Record<string, string>) } }));
// Every list read here is also validated by SCIMMY, an independent SCIM implementation.
const list = (path: string): Promise<ScimList> => scimList(path);
const ids = (body: ScimList) => body.Resources.map((resource) => resource.id);
const filtered = async (filter: string, resource = "Users") => ids(await list(`/${resource}?filter=${encodeURIComponent(filter)}`));

describe("SCIM 2.0 server (read-only)", () => {
  beforeAll(seedDirectory);

  describe("discovery", () => {
    it("ServiceProviderConfig says what is supported", async () => {
      const response = await scim("/ServiceProviderConfig");
      expect(response.headers.get("content-type")).toBe("application/scim+json");
      expect(await response.json()).toMatchObject({
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        patch: { supported: false },
        bulk: { supported: false },
        filter: { supported: true, maxResults: 200 },
        changePassword: { supported: false },
        sort: { supported: true },
        etag: { supported: true },
        authenticationSchemes: [{ type: "oauthbearertoken" }],
      });
    });

    it("ResourceTypes and Schemas list User, Group and the enterprise extension", async () => {
      const types = await list("/ResourceTypes");
      expect(types).toMatchObject({ schemas: [LIST], totalResults: 2 });
      expect(types.Resources.map((type) => type.id)).toEqual(["User", "Group"]);
      expect(await (await scim("/ResourceTypes/User")).json()).toMatchObject({ endpoint: "/Users", schema: "urn:ietf:params:scim:schemas:core:2.0:User" });
      const schemas = await list("/Schemas");
      expect(schemas.Resources.map((schema) => schema.id)).toEqual([
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
      ]);
      const user = (await (await scim("/Schemas/urn:ietf:params:scim:schemas:core:2.0:User")).json()) as { attributes: { name: string; mutability: string }[] };
      expect(user.attributes.map((attribute) => attribute.name)).toContain("userName");
      expect(user.attributes.every((attribute) => attribute.mutability === "readOnly")).toBe(true);
    });
  });

  describe("Users and Groups", () => {
    it("lists users as a ListResponse of RFC 7643 User resources", async () => {
      const body = await list("/Users");
      expect(body).toMatchObject({ schemas: [LIST], totalResults: 5, startIndex: 1, itemsPerPage: 5 });
      const alice = body.Resources.find((resource) => resource.id === "scalekit:alice");
      expect(alice).toEqual({
        schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"],
        id: "scalekit:alice",
        externalId: "alice",
        userName: "Alice@Example.com",
        name: { givenName: "Alice", familyName: "Last" },
        displayName: "Alice Last",
        active: true,
        emails: [{ value: "Alice@Example.com", type: "work", primary: true }],
        groups: [
          { value: "scalekit:grp_admins", display: "Admins", $ref: `${BASE}/Groups/scalekit%3Agrp_admins` },
          { value: "scalekit:grp_eng", display: "Engineering", $ref: `${BASE}/Groups/scalekit%3Agrp_eng` },
        ],
        meta: { resourceType: "User", created: expect.any(String), lastModified: expect.any(String), location: `${BASE}/Users/scalekit%3Aalice`, version: expect.stringMatching(/^W\/"[0-9a-f]{32}"$/) },
      });
      expect(body.Resources.find((resource) => resource.id === "scalekit:dave")).toMatchObject({ active: false });
    });

    it("pages with startIndex and count (1-based), capping count at 200", async () => {
      const page = await list("/Users?startIndex=2&count=2");
      expect(page).toMatchObject({ totalResults: 5, startIndex: 2, itemsPerPage: 2 });
      expect(ids(page)).toEqual(["scalekit:bob", "scalekit:carol"]);
      expect(ids(await list("/Users?startIndex=5&count=2"))).toEqual(["scalekit:erin"]);
      expect(await list("/Users?count=0")).toMatchObject({ totalResults: 5, itemsPerPage: 0, Resources: [] });
      expect(await list("/Users?startIndex=0&count=1")).toMatchObject({ startIndex: 1, itemsPerPage: 1 });
      expect((await list("/Users?count=100000")).itemsPerPage).toBe(5);
    });

    it("gets one user and one group, 404 in the SCIM error schema otherwise", async () => {
      expect((await scimRequest("/Users/scalekit:bob")).body).toMatchObject({ id: "scalekit:bob", userName: "bob@example.com" });
      const group = (await scimRequest("/Groups/scalekit:grp_eng")).body as { members: { value: string }[] };
      expect(group).toMatchObject({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:Group"], displayName: "Engineering" });
      expect(group.members.map((member) => member.value)).toEqual(["scalekit:alice", "scalekit:bob"]);
      for (const path of ["/Users/scalekit:nobody", "/Users/no-provider", "/Groups/scalekit:nope", "/Nothing"]) {
        const { status, body } = await scimRequest(path);
        expect(status).toBe(404);
        expect(body).toMatchObject({ schemas: [ERROR], status: "404" });
      }
    });

    it("lists groups, and skips member lists when excludedAttributes=members", async () => {
      const groups = await list("/Groups");
      expect(groups.Resources.map((group) => group.displayName)).toEqual(["Admins", "Engineering"]);
      const lean = await list("/Groups?excludedAttributes=members");
      expect(lean.Resources.every((group) => !("members" in group))).toBe(true);
    });
  });

  describe("filters", () => {
    it.each([
      ['userName eq "alice@example.com"', ["scalekit:alice"]],
      ['userName eq "ALICE@EXAMPLE.COM"', ["scalekit:alice"]],
      ['userName ne "alice@example.com"', ["scalekit:bob", "scalekit:carol", "scalekit:dave", "scalekit:erin"]],
      ['userName co "+tag"', ["scalekit:erin"]],
      ['userName sw "b"', ["scalekit:bob"]],
      ['userName ew "@example.com"', ["scalekit:alice", "scalekit:bob", "scalekit:carol", "scalekit:dave", "scalekit:erin"]],
      ["userName pr", ["scalekit:alice", "scalekit:bob", "scalekit:carol", "scalekit:dave", "scalekit:erin"]],
      ['emails.value eq "bob@example.com"', ["scalekit:bob"]],
      ['emails[value eq "carol@example.com"]', ["scalekit:carol"]],
      ['externalId eq "dave"', ["scalekit:dave"]],
      ['externalId eq "DAVE"', []],
      ["active eq true", ["scalekit:alice", "scalekit:bob", "scalekit:erin"]],
      ["active eq false", ["scalekit:carol", "scalekit:dave"]],
      ['name.givenName sw "Ca"', ["scalekit:carol"]],
      ['active eq true and userName sw "a"', ["scalekit:alice"]],
      ['userName sw "a" or userName sw "b"', ["scalekit:alice", "scalekit:bob"]],
      ['(userName sw "a" or userName sw "b") and active eq true', ["scalekit:alice", "scalekit:bob"]],
      ['not (active eq true)', ["scalekit:carol", "scalekit:dave"]],
      ['meta.lastModified gt "2000-01-01T00:00:00Z"', ["scalekit:alice", "scalekit:bob", "scalekit:carol", "scalekit:dave", "scalekit:erin"]],
      ['meta.lastModified gt "2999-01-01T00:00:00Z"', []],
      ['id eq "scalekit:bob"', ["scalekit:bob"]],
      ['urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob@example.com"', ["scalekit:bob"]],
    ])("Users?filter=%s", async (filter, expected) => {
      expect(await filtered(filter)).toEqual(expected);
    });

    it.each([
      ['displayName eq "engineering"', ["scalekit:grp_eng"]],
      ['displayName co "min"', ["scalekit:grp_admins"]],
      ['externalId eq "grp_admins"', ["scalekit:grp_admins"]],
      ['meta.lastModified ge "2000-01-01T00:00:00Z"', ["scalekit:grp_admins", "scalekit:grp_eng"]],
    ])("Groups?filter=%s", async (filter, expected) => {
      expect(await filtered(filter, "Groups")).toEqual(expected);
    });

    it("totalResults counts the filtered set, not the page", async () => {
      expect(await list(`/Users?filter=${encodeURIComponent("active eq true")}&count=1`)).toMatchObject({ totalResults: 3, itemsPerPage: 1 });
    });
  });

  describe("attributes and excludedAttributes", () => {
    it("returns only requested attributes (and always id and schemas)", async () => {
      const body = await list("/Users?attributes=userName,name.givenName&count=1");
      expect(body.Resources[0]).toEqual({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], id: "scalekit:alice", userName: "Alice@Example.com", name: { givenName: "Alice" } });
      const emails = (await scimRequest("/Users/scalekit:bob?attributes=emails.value")).body;
      expect(emails).toEqual({ schemas: expect.any(Array), id: "scalekit:bob", emails: [{ value: "bob@example.com" }] });
    });

    it("drops excluded attributes", async () => {
      const bob = (await scimRequest("/Users/scalekit:bob?excludedAttributes=emails,groups,meta,id")).body;
      expect(Object.keys(bob).sort()).toEqual(["active", "displayName", "externalId", "id", "name", "schemas", "userName"]);
    });
  });

  describe("ETags", () => {
    it("serves meta.version as the ETag; If-None-Match on it answers 304; a change changes it", async () => {
      const first = await scim("/Users/scalekit:bob");
      const etag = first.headers.get("etag")!;
      expect(etag).toBe(((await first.json()) as { meta: { version: string } }).meta.version);
      const unchanged = await scim("/Users/scalekit:bob", { headers: { "if-none-match": etag } });
      expect(unchanged.status).toBe(304);
      expect(await unchanged.text()).toBe("");
      expect((await scim("/Users/scalekit:bob", { headers: { "if-none-match": 'W/"something-else"' } })).status).toBe(200);

      // Bob joins Admins: his representation (groups) changes, so does his ETag, and the group's.
      const groupEtag = (await scim("/Groups/scalekit:grp_admins")).headers.get("etag")!;
      await deliverBatch([eventMessage(events.members("grp_admins", Date.parse("2026-01-02T00:00:00Z"), ["bob"]))]);
      const changed = await scim("/Users/scalekit:bob", { headers: { "if-none-match": etag } });
      expect(changed.status).toBe(200);
      expect(changed.headers.get("etag")).not.toBe(etag);
      expect((await scim("/Groups/scalekit:grp_admins", { headers: { "if-none-match": groupEtag } })).status).toBe(200);
    });
  });

  describe("errors", () => {
    it.each(["POST /Users", "PUT /Users/scalekit:alice", "PATCH /Users/scalekit:alice", "DELETE /Users/scalekit:alice", "POST /Groups", "POST /Bulk", "POST /.search"])(
      "%s answers 501 in the SCIM error schema (read-only)",
      async (route) => {
        const [method, path] = route.split(" ");
        const response = await scim(path!, { method, body: method === "DELETE" ? undefined : "{}", headers: { "content-type": "application/scim+json" } });
        expect(response.status).toBe(501);
        expect(response.headers.get("content-type")).toBe("application/scim+json");
        expect(await response.json()).toMatchObject({ schemas: [ERROR], status: "501" });
      },
    );

    it.each([
      'userName eq',
      'userName xx "a"',
      'password eq "secret"',
      'active eq "yes"',
      'meta.lastModified gt "yesterday"',
      'userName gt 5',
      'emails[display eq "work"]',
      'constructor eq "x"',
    ])("rejects filter %j with 400 invalidFilter", async (filter) => {
      const response = await scim(`/Users?filter=${encodeURIComponent(filter)}`);
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ schemas: [ERROR], status: "400", scimType: "invalidFilter", detail: expect.any(String) });
    });
  });

  describe("filter fuzz: hostile filters never reach SQL as code", () => {
    const userCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM users").first<{ n: number }>())?.n;

    it.each([
      `userName eq "x" or 1=1`,
      `userName eq "x') OR ('1'='1"`,
      `userName eq "a\\" OR \\"1\\"=\\"1"`,
      `userName eq "'; DROP TABLE users; --"`,
      `userName eq "x"); DELETE FROM users; --`,
      `userName co "%"`,
      `userName sw "_"`,
      `userName co "\\\\"`,
      `users.email eq "x"`,
      `userName eq "x" /* comment */`,
      `externalId eq "dave" union select * from users`,
      `${"(".repeat(50)}userName pr${")".repeat(50)}`,
      `${Array.from({ length: 30 }, (_, i) => `userName eq "${i}"`).join(" or ")}`,
      `userName eq "${"x".repeat(2000)}"`,
      `userName eq "\u0000"`,
      `userName eq "😀" or userName pr`,
    ])("%s", async (filter) => {
      const before = await userCount();
      const response = await scim(`/Users?filter=${encodeURIComponent(filter)}`);
      expect([200, 400]).toContain(response.status);
      if (response.status === 200) {
        const body = (await response.json()) as ScimList;
        // LIKE metacharacters are literals; nothing matches them here, and "or pr" matches everyone legitimately.
        if (!filter.includes("pr")) expect(body.Resources).toEqual([]);
      }
      expect(await userCount()).toBe(before);
    });

    it("300 random filters from SCIM tokens: only 200 or 400, never a 5xx, data intact", async () => {
      const random = seededRandom(4242);
      const tokens = ["userName", "emails.value", "active", "externalId", "meta.lastModified", "name.givenName", "eq", "ne", "co", "sw", "ew", "gt", "pr", "and", "or", "not", "(", ")", "[", "]", '"a"', '"%"', '"\\""', "true", "false", "null", "5", "'", ";", "--", "/*", "\\"];
      const before = await userCount();
      for (let i = 0; i < 300; i++) {
        const filter = Array.from({ length: 1 + Math.floor(random() * 8) }, () => tokens[Math.floor(random() * tokens.length)]).join(" ");
        const response = await scim(`/Users?filter=${encodeURIComponent(filter)}`);
        expect([200, 400], filter).toContain(response.status);
        await response.body?.cancel();
      }
      expect(await userCount()).toBe(before);
    });
  });
});
