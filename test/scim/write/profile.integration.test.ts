import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { runAtomically } from "../../../src/d1";
import { userFingerprint } from "../../../src/directory/fingerprint";
import { directoryWrites } from "../../../src/directory/writes";
import type { DirectoryUser } from "../../../src/events";
import { filterQuery, GROUP_SCHEMA, newConnection, PATCH_OP, scim, tickingClock, USER_SCHEMA, type TestConnection } from "../../support/scim-connection";
import { redactedData } from "../../../src/changes/erasure";

/**
 * A connection user's full SCIM profile (users.profile) and a connection group's externalId
 * (groups.scim_external_id): what is kept, what is refused, what the change feed announces, and
 * that erasure clears the profile while webhook users stay exactly as they were.
 */

const T0 = Date.parse("2026-12-06T09:00:00Z");

interface Change {
  type: string;
  subject: string;
  data: { user?: Record<string, unknown>; group?: Record<string, unknown>; changed?: string[] };
}

async function changesOf(provider: string): Promise<Change[]> {
  // As every reader sees them: an erased subject's earlier changes redacted (changes/erasure.ts).
  const rows = await env.DB.prepare(`SELECT type, subject, ${redactedData("changes")} AS data FROM changes WHERE provider = ? ORDER BY seq`)
    .bind(provider)
    .all<{ type: string; subject: string; data: string }>();
  return rows.results.map((row) => ({ ...row, data: JSON.parse(row.data) }));
}

async function storedProfile(provider: string, id: string): Promise<string | null> {
  return (await env.DB.prepare("SELECT profile FROM users WHERE provider = ? AND external_id = ?").bind(provider, id).first<{ profile: string | null }>())!.profile;
}

async function session(organizationId: string) {
  const clock = tickingClock(T0);
  const connection: TestConnection = await newConnection(organizationId, T0);
  const call = (method: string, path: string, body?: unknown, token?: string) => scim(connection, clock, method, path, body, { token });
  return { connection, call };
}

const grace = (extra: Record<string, unknown> = {}) => ({
  schemas: [USER_SCHEMA],
  userName: "grace@example.com",
  name: { givenName: "Grace", familyName: "Hopper" },
  emails: [{ value: "grace@example.com", type: "work", primary: true }],
  title: "Director",
  phoneNumbers: [{ value: "+1 555 0100", type: "work" }],
  active: true,
  ...extra,
});

describe("the change feed", () => {
  it("announces user.updated with changed ['profile'] when only the title changes, and nothing for a PUT that repeats the profile", async () => {
    const { connection, call } = await session("org_profile_feed");
    const id = (await call("POST", "/Users", grace())).body.id as string;
    const created = (await changesOf(connection.provider)).at(-1)!;
    expect(created).toMatchObject({ type: "user.created", subject: id, data: { user: { profile: { title: "Director", emails: [{ value: "grace@example.com" }], phoneNumbers: [{ value: "+1 555 0100" }] } } } });

    const retitled = await call("PUT", `/Users/${id}`, grace({ title: "Rear Admiral" }));
    expect(retitled.body.title).toBe("Rear Admiral");
    const after = await changesOf(connection.provider);
    expect(after.map((change) => change.type)).toStrictEqual(["user.created", "user.updated"]);
    expect(after[1]!.data.changed).toStrictEqual(["profile"]);
    expect(after[1]!.data.user!.profile).toMatchObject({ title: "Rear Admiral" });

    // The same profile again, its keys in another order: nothing to write, nothing announced.
    const { phoneNumbers, title, ...rest } = grace({ title: "Rear Admiral" });
    const repeated = await call("PUT", `/Users/${id}`, { phoneNumbers, ...rest, title });
    expect(repeated.status).toBe(200);
    expect(repeated.headers.get("etag")).toBe(retitled.headers.get("etag"));
    expect(await changesOf(connection.provider)).toHaveLength(2);
  });

  it("a deactivating PATCH of a user whose displayName is derived announces only user.deactivated, and the displayName keeps following the name", async () => {
    const { connection, call } = await session("org_profile_derived");
    const { title: _none, ...body } = grace();
    const id = (await call("POST", "/Users", body)).body.id as string;
    const profileBefore = await storedProfile(connection.provider, id);
    expect(JSON.parse(profileBefore!)).not.toHaveProperty("displayName");

    const deactivated = await call("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { active: false } }] });
    expect(deactivated.body).toMatchObject({ active: false, displayName: "Grace Hopper" });
    expect((await changesOf(connection.provider)).map((change) => change.type)).toStrictEqual(["user.created", "user.deactivated"]);
    expect(await storedProfile(connection.provider, id)).toBe(profileBefore);

    const renamed = await call("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "name.givenName", value: "Amazing" }] });
    expect(renamed.body.displayName).toBe("Amazing Hopper");
    expect((await changesOf(connection.provider)).at(-1)!.data.changed).toStrictEqual(["first_name"]);

    // Once a client sets it, it is the client's.
    const named = await call("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "displayName", value: "Grace Brewster Murray Hopper" }] });
    expect(named.body.displayName).toBe("Grace Brewster Murray Hopper");
    expect((await changesOf(connection.provider)).at(-1)!.data.changed).toStrictEqual(["profile"]);
    const renamedAgain = await call("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "name.givenName", value: "Grace" }] });
    expect(renamedAgain.body.displayName).toBe("Grace Brewster Murray Hopper");
  });
});

describe("what is kept", () => {
  it("keeps only the User table's attributes, in canonical form, never a client's own keys", async () => {
    const { connection, call } = await session("org_profile_keys");
    const raw = JSON.stringify(
      grace({
        favouriteColour: "blue",
        "urn:example:custom:2.0:User": { badge: "42" },
        title: "",
        nickName: null,
        ims: [],
        phoneNumbers: [{ type: "work", value: "+1 555 0100", extension: "12", display: null }],
        addresses: [{ type: "work", region: "VA", geo: { lat: 1 } }],
      }),
    ).replace('"favouriteColour"', '"__proto__":{"polluted":true},"favouriteColour"');
    const created = await scim(connection, tickingClock(T0), "POST", "/Users", undefined, { raw });
    expect(created.status).toBe(201);
    expect(JSON.parse((await storedProfile(connection.provider, created.body.id))!)).toStrictEqual({
      emails: [{ value: "grace@example.com", type: "work", primary: true }],
      phoneNumbers: [{ value: "+1 555 0100", type: "work" }],
      addresses: [{ region: "VA", type: "work" }],
    });
    const read = (await call("GET", `/Users/${created.body.id}`)).body;
    for (const key of ["__proto__", "favouriteColour", "urn:example:custom:2.0:User", "title", "nickName", "ims"]) expect(Object.hasOwn(read, key)).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("refuses a profile over 16 KB and ill-typed attributes with 400 invalidValue, storing nothing", async () => {
    const { connection, call } = await session("org_profile_bounds");
    const tooLarge = await call("POST", "/Users", grace({ addresses: Array.from({ length: 20 }, (_, i) => ({ type: "other", formatted: `${i} ${"x".repeat(1000)}` })) }));
    expect(tooLarge.status).toBe(400);
    expect(tooLarge.body).toMatchObject({ status: "400", scimType: "invalidValue" });
    const illTyped = await call("POST", "/Users", grace({ phoneNumbers: [{ value: 5550100, type: "work" }] }));
    expect(illTyped.status).toBe(400);
    expect(illTyped.body).toMatchObject({ scimType: "invalidValue", detail: "the User is invalid at phoneNumbers.0.value" });
    const notAnArray = await call("POST", "/Users", grace({ addresses: { type: "work" } }));
    expect(notAnArray.body).toMatchObject({ status: "400", scimType: "invalidValue" });
    expect((await call("GET", "/Users")).body.totalResults).toBe(0);

    // A PATCH that would grow it past the bound is refused too, and the user stays as it was.
    const id = (await call("POST", "/Users", grace())).body.id as string;
    const before = await call("GET", `/Users/${id}`);
    const grown = await call("PATCH", `/Users/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "add", path: "photos", value: Array.from({ length: 10 }, (_, i) => ({ value: `https://example.com/${i}/${"p".repeat(2000)}` })) }] });
    expect(grown.status).toBe(400);
    expect(grown.body.scimType).toBe("invalidValue");
    expect((await call("GET", `/Users/${id}`)).body).toStrictEqual(before.body);
  });

  it("the DELETE's tombstone keeps the profile, and erasure clears it with the rest of the personal data", async () => {
    const { connection, call } = await session("org_profile_erasure");
    const id = (await call("POST", "/Users", grace({ addresses: [{ type: "home", streetAddress: "1 Private Lane" }] }))).body.id as string;
    expect((await call("DELETE", `/Users/${id}`)).status).toBe(204);
    expect(JSON.parse((await storedProfile(connection.provider, id))!)).toMatchObject({ title: "Director", addresses: [{ streetAddress: "1 Private Lane" }] });
    expect((await changesOf(connection.provider)).at(-1)).toMatchObject({ type: "user.deleted", data: { user: { profile: { title: "Director" } } } });

    const later = T0 + 3_600_000;
    await runAtomically(env.DB, directoryWrites([{ provider: connection.provider, eventId: "erase-1", occurredAt: later, sourceType: "test", kind: "user_forgotten", externalId: id }], later));
    const row = await env.DB.prepare("SELECT profile, email, forgotten_at FROM users WHERE provider = ? AND external_id = ?").bind(connection.provider, id).first();
    expect(row).toStrictEqual({ profile: null, email: null, forgotten_at: later });
    const feed = JSON.stringify(await changesOf(connection.provider));
    for (const personal of ["1 Private Lane", "+1 555 0100", "Director", "grace@example.com"]) expect(feed).not.toContain(personal);
  });
});

describe("webhook and reconciliation providers", () => {
  it("leave profile NULL and their fingerprints as before profiles existed", async () => {
    const user: DirectoryUser = {
      externalId: "wh-1",
      email: "wh@example.com",
      firstName: "Web",
      lastName: "Hook",
      active: true,
      organizationId: "org_wh",
      directoryId: null,
      userName: "wh@example.com",
      scimExternalId: null,
      attributes: { department: "Ops" },
    };
    expect(userFingerprint(user)).toBe(userFingerprint({ ...user, profile: null }));
    expect(userFingerprint(user)).not.toBe(userFingerprint({ ...user, profile: { title: "Ops lead" } }));
    await runAtomically(env.DB, directoryWrites([{ provider: "scalekit", eventId: "evt-wh-1", occurredAt: T0, sourceType: "test", kind: "user_upserted", user }], T0));
    await runAtomically(env.DB, directoryWrites([{ provider: "scalekit", eventId: "evt-wh-2", occurredAt: T0 + 1, sourceType: "test", kind: "user_upserted", user: { ...user, email: "new@example.com" } }], T0 + 1));
    expect(await storedProfile("scalekit", "wh-1")).toBeNull();
    const changes = await changesOf("scalekit");
    expect(changes.map((change) => change.type)).toStrictEqual(["user.created", "user.updated"]);
    expect(changes[1]!.data.changed).toStrictEqual(["email"]);
    expect(changes[1]!.data.user!.profile).toBeNull();
  });
});

describe("a Group's externalId", () => {
  it("is stored, shown, filterable within its connection only, replaced and removed, and announced", async () => {
    const { connection, call } = await session("org_group_external");
    const other = await session("org_group_external");
    const created = await call("POST", "/Groups", { schemas: [GROUP_SCHEMA], externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", displayName: "Sales" });
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.body.externalId).toBe("8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159");
    expect((await call("GET", `/Groups/${id}`)).body).toStrictEqual(created.body);
    await other.call("POST", "/Groups", { schemas: [GROUP_SCHEMA], externalId: "other-connection", displayName: "Sales" });

    // Entra's lookup: externalId eq, case-exact, within the connection.
    const found = await call("GET", "/Groups" + filterQuery('externalId eq "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"', "&excludedAttributes=members"));
    expect(found.body).toMatchObject({ totalResults: 1, Resources: [{ id, externalId: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", displayName: "Sales" }] });
    expect((await call("GET", "/Groups" + filterQuery('externalId eq "8AA1A0C0-C4C3-4BC0-B4A5-2EF676900159"'))).body.totalResults).toBe(0);
    expect((await other.call("GET", "/Groups" + filterQuery('externalId eq "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159"'))).body.totalResults).toBe(0);
    expect((await call("GET", "/Groups" + filterQuery('externalId eq "other-connection"'))).body.totalResults).toBe(0);

    const patched = await call("PATCH", `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "externalId", value: "sales-2" }] });
    expect(patched.status).toBe(200);
    expect(patched.body.externalId).toBe("sales-2");
    const feed = await changesOf(connection.provider);
    expect(feed.map((change) => change.type)).toStrictEqual(["group.created", "group.updated"]);
    expect(feed[0]!.data.group).toMatchObject({ id, name: "Sales", external_id: "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159" });
    expect(feed[1]!.data).toMatchObject({ group: { external_id: "sales-2" }, changed: ["external_id"] });

    // The same externalId again: nothing written.
    await call("PATCH", `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "externalId", value: "sales-2" }] });
    expect(await changesOf(connection.provider)).toHaveLength(2);

    // A PUT replaces the whole group: without externalId, it is gone.
    const replaced = await call("PUT", `/Groups/${id}`, { schemas: [GROUP_SCHEMA], displayName: "Sales" });
    expect(replaced.body.externalId).toBeUndefined();
    expect((await call("GET", "/Groups" + filterQuery('externalId eq "sales-2"'))).body.totalResults).toBe(0);
    expect((await changesOf(connection.provider)).at(-1)!.data.changed).toStrictEqual(["external_id"]);

    const badType = await call("PATCH", `/Groups/${id}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "externalId", value: 42 }] });
    expect(badType.status).toBe(400);
    expect(badType.body.scimType).toBe("invalidValue");

    expect((await call("DELETE", `/Groups/${id}`)).status).toBe(204);
    expect((await changesOf(connection.provider)).at(-1)).toMatchObject({ type: "group.deleted", data: { group: { id, external_id: null } } });
  });
});
