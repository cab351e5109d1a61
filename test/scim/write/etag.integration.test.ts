import { describe, expect, it } from "vitest";
import { GROUP_SCHEMA, newConnection, PATCH_OP, scim, tickingClock, USER_SCHEMA } from "../../support/scim-connection";

/**
 * Conditional reads under a connection (RFC 7644 §3.14; RFC 7232 §3.2 and §4.1): GET /Users/:id
 * and GET /Groups/:id with If-None-Match naming the current ETag, weakly compared, or `*`, answer
 * 304 with the ETag and no body; after a write the old tag gets 200 and the new one. If-Match on
 * writes still answers 412 when stale.
 */

const T0 = Date.parse("2026-12-04T09:00:00Z");

async function setUp(organizationId: string) {
  const clock = tickingClock(T0);
  const connection = await newConnection(organizationId, T0);
  const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => scim(connection, clock, method, path, body, { headers });
  const created = await call("POST", "/Users", { schemas: [USER_SCHEMA], userName: "ada@example.com", name: { givenName: "Ada", familyName: "Lovelace" }, active: true });
  expect(created.status).toBe(201);
  return { connection, call, userId: created.body.id as string, etag: created.headers.get("etag")! };
}

const ifNoneMatch = (value: string) => ({ "if-none-match": value });

describe("If-None-Match on a connection's resources", () => {
  it("answers 304 with the ETag and no body when the tag is current", async () => {
    const { call, userId, etag } = await setUp("org_etag_match");
    const read = await call("GET", `/Users/${userId}`);
    expect(read.headers.get("etag")).toBe(etag);

    const unchanged = await call("GET", `/Users/${userId}`, undefined, ifNoneMatch(etag));
    expect(unchanged.status).toBe(304);
    expect(unchanged.headers.get("etag")).toBe(etag);
    expect(unchanged.body).toBeNull();
    expect(unchanged.headers.get("content-type")).toBeNull();
  });

  it("compares weakly: the same tag without W/ matches", async () => {
    const { call, userId, etag } = await setUp("org_etag_weak");
    expect(etag.startsWith('W/"')).toBe(true);
    const strongForm = etag.slice(2);
    expect((await call("GET", `/Users/${userId}`, undefined, ifNoneMatch(strongForm))).status).toBe(304);
  });

  it("answers 304 for a projected read too: the ETag is the whole resource's", async () => {
    const { call, userId, etag } = await setUp("org_etag_projection");
    const projected = await call("GET", `/Users/${userId}?attributes=userName`, undefined, ifNoneMatch(etag));
    expect(projected.status).toBe(304);
    expect(projected.headers.get("etag")).toBe(etag);
  });

  it("answers 200 with the new ETag once a write has changed the user", async () => {
    const { call, userId, etag } = await setUp("org_etag_write");
    const patched = await call("PATCH", `/Users/${userId}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "name.familyName", value: "Byron" }] });
    expect(patched.status).toBe(200);
    const newTag = patched.headers.get("etag")!;
    expect(newTag).not.toBe(etag);

    const stale = await call("GET", `/Users/${userId}`, undefined, ifNoneMatch(etag));
    expect(stale.status).toBe(200);
    expect(stale.headers.get("etag")).toBe(newTag);
    expect(stale.body).toMatchObject({ id: userId, name: { familyName: "Byron" }, meta: { version: newTag } });
    expect((await call("GET", `/Users/${userId}`, undefined, ifNoneMatch(newTag))).status).toBe(304);
  });

  it("takes a list of tags: 304 when any of them is current, 200 when none is", async () => {
    const { call, userId, etag } = await setUp("org_etag_list");
    expect((await call("GET", `/Users/${userId}`, undefined, ifNoneMatch(`W/"0000", ${etag}, W/"ffff"`))).status).toBe(304);
    const noneCurrent = await call("GET", `/Users/${userId}`, undefined, ifNoneMatch(`W/"0000", W/"ffff"`));
    expect(noneCurrent.status).toBe(200);
    expect(noneCurrent.headers.get("etag")).toBe(etag);
  });

  it("matches any existing resource with *, and a missing one is still 404", async () => {
    const { call, userId } = await setUp("org_etag_star");
    expect((await call("GET", `/Users/${userId}`, undefined, ifNoneMatch("*"))).status).toBe(304);
    const missing = await call("GET", "/Users/00000000-0000-4000-8000-000000000000", undefined, ifNoneMatch("*"));
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ status: "404" });
    expect((await call("DELETE", `/Users/${userId}`)).status).toBe(204);
    expect((await call("GET", `/Users/${userId}`, undefined, ifNoneMatch("*"))).status).toBe(404);
  });

  it("does the same for groups, whose ETag moves with their members", async () => {
    const { call, userId } = await setUp("org_etag_group");
    const group = await call("POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "Engineering", members: [] });
    expect(group.status).toBe(201);
    const groupId = group.body.id as string;
    const groupTag = group.headers.get("etag")!;
    const unchanged = await call("GET", `/Groups/${groupId}`, undefined, ifNoneMatch(groupTag));
    expect(unchanged.status).toBe(304);
    expect(unchanged.headers.get("etag")).toBe(groupTag);
    expect(unchanged.body).toBeNull();
    expect((await call("GET", `/Groups/${groupId}`, undefined, ifNoneMatch("*"))).status).toBe(304);

    const userTag = (await call("GET", `/Users/${userId}`)).headers.get("etag")!;
    const added = await call("PATCH", `/Groups/${groupId}`, { schemas: [PATCH_OP], Operations: [{ op: "add", path: "members", value: [{ value: userId }] }] });
    expect(added.status).toBe(200);

    const groupAfter = await call("GET", `/Groups/${groupId}`, undefined, ifNoneMatch(groupTag));
    expect(groupAfter.status).toBe(200);
    expect(groupAfter.headers.get("etag")).toBe(added.headers.get("etag"));
    expect(groupAfter.headers.get("etag")).not.toBe(groupTag);
    expect(groupAfter.body.members.map((member: { value: string }) => member.value)).toStrictEqual([userId]);
    // The user's representation lists its groups, so its tag moved too.
    const userAfter = await call("GET", `/Users/${userId}`, undefined, ifNoneMatch(userTag));
    expect(userAfter.status).toBe(200);
    expect(userAfter.body.groups).toStrictEqual([expect.objectContaining({ value: groupId })]);
  });

  it("leaves If-Match as it was: a stale tag is 412 and writes nothing, the current one applies", async () => {
    const { call, userId, etag } = await setUp("org_etag_if_match");
    const first = await call("PATCH", `/Users/${userId}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "name.givenName", value: "Augusta" }] }, { "if-match": etag });
    expect(first.status).toBe(200);
    const stale = await call("PATCH", `/Users/${userId}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "name.givenName", value: "Stale" }] }, { "if-match": etag });
    expect(stale.status).toBe(412);
    expect(stale.body).toMatchObject({ status: "412" });
    const read = await call("GET", `/Users/${userId}`);
    expect(read.body.name.givenName).toBe("Augusta");
    expect(read.headers.get("etag")).toBe(first.headers.get("etag"));
  });
});
