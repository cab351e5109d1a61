import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { MAX_RESULTS } from "../../src/scim/discovery";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { ADMIN } from "../support/seed";
import { callApp } from "../support/worker";

const BASE = "https://sync.example.com";
const READ_TOKENS = "tenant_big:scoped-read";
const get = (path: string, headers: Record<string, string> = ADMIN) => callApp(new Request(BASE + path, { headers }), { READ_TOKENS });
const t = Date.parse("2026-04-01T00:00:00Z");

/** Ids no Latin-1 btoa can encode, and ones with base64's own "/" "+" "=" in them. */
const AWKWARD_IDS = ["用户-Ω-😀", "a/b+c", "z==", "\u00e9t\u00e9/\u2603"];

async function apply(list: DirectoryEvent[]) {
  for (let i = 0; i < list.length; i += 100) {
    const { result } = await deliverBatch(list.slice(i, i + 100).map((event) => eventMessage(event)));
    if (result.retryMessages.length) throw new Error("seeding failed");
  }
}

const inTenant = (event: DirectoryEvent): DirectoryEvent =>
  "user" in event ? ({ ...event, user: { ...event.user, organizationId: "tenant_big" } } as DirectoryEvent) : "group" in event ? ({ ...event, group: { ...event.group, organizationId: "tenant_big" } } as DirectoryEvent) : event;

describe("pages of 200: one bound parameter per page, whatever its size", () => {
  const userIds = Array.from({ length: 250 }, (_, i) => `big_${String(i).padStart(3, "0")}`);
  const groupIds = Array.from({ length: 210 }, (_, i) => `biggrp_${String(i).padStart(3, "0")}`);

  beforeAll(async () => {
    await env.DB.exec("DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets;");
    await apply([
      ...userIds.map((id) => inTenant(events.userUpserted(id, t))),
      ...groupIds.map((id, i) => inTenant(events.groupUpserted(id, t, `Group ${i}`))),
      // Every group with members; every user in at least one group.
      ...groupIds.map((id, i) => events.members(id, t + 1, [userIds[i % 250]!, userIds[(i + 40) % 250]!])),
      events.members("biggrp_000", t + 2, userIds),
    ]);
  });

  it("D1 here enforces the 100-parameter limit (so this test can fail)", async () => {
    const placeholders = Array.from({ length: 150 }, () => "?").join(",");
    await expect(env.DB.prepare(`SELECT 1 WHERE 1 IN (${placeholders})`).bind(...Array.from({ length: 150 }, (_, i) => i)).all()).rejects.toThrow();
  });

  it.each([ADMIN, { authorization: "Bearer scoped-read" }])("GET /v1/users?limit=200 answers 200 users with their roles (%j)", async (headers) => {
    const response = await get("/v1/users?limit=200", headers);
    expect(response.status).toBe(200);
    const page = (await response.json()) as { users: { roles: string[] }[]; next_cursor: string | null };
    expect(page.users).toHaveLength(200);
    expect(page.next_cursor).not.toBeNull();
  });

  it.each([ADMIN, { authorization: "Bearer scoped-read" }])(`GET /scim/v2/Users?count=${MAX_RESULTS} and Groups answer full pages with memberships (%j)`, async (headers) => {
    const users = await get(`/scim/v2/Users?count=${MAX_RESULTS}`, headers);
    expect(users.status).toBe(200);
    const userPage = (await users.json()) as { totalResults: number; Resources: { groups?: unknown[] }[] };
    expect(userPage).toMatchObject({ totalResults: 250 });
    expect(userPage.Resources).toHaveLength(MAX_RESULTS);
    expect(userPage.Resources.every((user) => (user.groups?.length ?? 0) >= 1)).toBe(true);
    const groups = await get(`/scim/v2/Groups?count=${MAX_RESULTS}`, headers);
    expect(groups.status).toBe(200);
    const groupPage = (await groups.json()) as { Resources: { id: string; members: unknown[] }[] };
    expect(groupPage.Resources).toHaveLength(MAX_RESULTS);
    expect(groupPage.Resources.find((group) => group.id === "scalekit:biggrp_000")?.members).toHaveLength(250);
  });
});

describe("URL-safe cursors for any id", () => {
  beforeAll(async () => {
    await env.DB.exec("DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets; DELETE FROM event_log;");
    await apply([...AWKWARD_IDS.map((id) => events.userUpserted(id, t)), events.groupUpserted("grp", t, "G"), events.members("grp", t + 1, AWKWARD_IDS)]);
    const now = Date.now();
    await env.DB.batch(
      AWKWARD_IDS.map((id) =>
        env.DB.prepare("INSERT INTO event_log (provider, event_id, source_type, status, attempts, received_at, updated_at) VALUES ('cursor-test', ?, 'test', 'applied', 1, ?, ?)").bind(id, now, now),
      ),
    );
  });

  /** Follows next_cursor one item at a time; every cursor must be URL-safe as given. */
  async function walk(path: string, key: string, field: string) {
    const seen: string[] = [];
    let cursor: string | null = null;
    for (let pages = 0; pages < 20; pages++) {
      const response = await get(`${path}${path.includes("?") ? "&" : "?"}limit=1${cursor ? `&cursor=${cursor}` : ""}`);
      expect(response.status, cursor ?? "first page").toBe(200);
      const page = (await response.json()) as Record<string, unknown> & { next_cursor: string | null };
      seen.push(...(page[key] as Record<string, string>[]).map((item) => item[field]!));
      cursor = page.next_cursor;
      if (cursor === null) break;
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
    }
    return seen;
  }

  it("pages /v1/users across ids with non-Latin-1 characters, '/', '+' and '='", async () => {
    expect(await walk("/v1/users", "users", "external_id")).toEqual([...AWKWARD_IDS].sort());
  });

  it("pages a group's members across such ids", async () => {
    expect(await walk("/v1/groups/scalekit/grp/members", "members", "external_id")).toEqual([...AWKWARD_IDS].sort());
  });

  it("pages /admin/events across such event ids", async () => {
    expect((await walk("/admin/events?provider=cursor-test", "events", "event_id")).sort()).toEqual([...AWKWARD_IDS].sort());
  });

  it("still accepts a cursor of ASCII ids made the old way (btoa of the JSON)", async () => {
    const old = btoa(JSON.stringify(["scalekit", "a/b+c"])).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
    const page = (await (await get(`/v1/users?cursor=${old}`)).json()) as { users: { external_id: string }[] };
    expect(page.users.map((user) => user.external_id)).toEqual([...AWKWARD_IDS].sort().filter((id) => id > "a/b+c"));
  });

  it.each(["%F0%9F%98%80", "____", "gA", btoa("\xff\xfe[]")])("rejects a cursor that is not ours (%s) with 400", async (cursor) => {
    const response = await get(`/v1/users?cursor=${cursor}`);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_query" });
  });
});
