import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { capturingQueue } from "../support/reconcile";
import { ADMIN, seedDirectory } from "../support/seed";
import { callApp } from "../support/worker";

const BASE = "https://sync.example.com";
const ROLE_MAPPING = JSON.stringify([
  { provider: "scalekit", organization_id: "org_1", group_name: "Admins", roles: ["admin"] },
  { provider: "scalekit", organization_id: "org_1", directory_id: "dir_1", group_id: "grp_eng", roles: ["developer", "reader"] },
  { provider: "scalekit", organization_id: "org_1", group_name: "Nobody", roles: ["ghost"] },
]);
const get = (path: string, headers: Record<string, string> = ADMIN, overrides: Partial<Env> = {}) =>
  callApp(new Request(BASE + path, { headers }), { ROLE_MAPPING, ...overrides });
const json = async <T = Record<string, unknown>>(response: Response) => (await response.json()) as T;

type UserJson = { id: string; external_id: string; email: string; active: boolean; deleted: boolean; roles: string[]; groups?: { external_id: string; name: string }[] };

describe("read API", () => {
  beforeAll(seedDirectory);

  describe("authentication on every route", () => {
    const routes = [
      "/v1/users",
      "/v1/users/scalekit/alice",
      "/v1/users/scalekit/nobody",
      "/v1/groups",
      "/v1/groups/scalekit/grp_eng/members",
      "/admin/events",
      "/admin/events/scalekit/x",
      "/admin/dead-letters",
      "/admin/reconcile/runs",
      "/scim/v2/Users",
      "/scim/v2/Users/scalekit:alice",
      "/scim/v2/Users/scalekit:nobody",
      "/scim/v2/Groups",
      "/scim/v2/ServiceProviderConfig",
      "/scim/v2/Schemas",
      "/scim/v2/ResourceTypes",
    ];
    it.each(routes)("GET %s: 401 without a token or with a wrong one, and never says whether a record exists", async (path) => {
      const attempts: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, { authorization: "Bearer test-admin-token-and-more" }];
      for (const headers of attempts) {
        const response = await get(path, headers);
        expect(response.status).toBe(401);
        const body = await json(response);
        if (path.startsWith("/scim")) {
          expect(response.headers.get("content-type")).toContain("application/scim+json");
          expect(body).toEqual({ schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"], status: "401", detail: expect.any(String) });
        } else {
          expect(body).toMatchObject({ error: "unauthorized" });
        }
      }
    });

    it.each(["/admin/events/scalekit/x/replay", "/admin/dead-letters/x/replay", "/admin/reconcile/firstup", "/scim/v2/Users"])("POST %s: 401 without a token", async (path) => {
      expect((await callApp(new Request(BASE + path, { method: "POST" }))).status).toBe(401);
    });
  });

  describe("/v1/users", () => {
    it("pages through every user with cursors, in a stable order", async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const response = await get(`/v1/users?limit=2${cursor ? `&cursor=${cursor}` : ""}`);
        expect(response.status).toBe(200);
        const page: { users: UserJson[]; next_cursor: string | null } = await json(response);
        expect(page.users.length).toBeLessThanOrEqual(2);
        seen.push(...page.users.map((user) => user.external_id));
        cursor = page.next_cursor;
        pages++;
      } while (cursor && pages < 10);
      expect(seen).toEqual(["alice", "bob", "carol", "dave", "erin"]);
      expect(pages).toBe(3);
    });

    it.each([
      ["active=true", ["alice", "bob", "erin"]],
      ["active=false", ["carol", "dave"]], // dave is deleted, hence inactive too
      ["email=alice%40example.COM", ["alice"]],
      ["email=erin%2Btag%40example.com", ["erin"]],
      ["organization_id=org_2", ["erin"]],
      ["organization_id=org_1&active=true", ["alice", "bob"]],
      ["provider=firstup", []],
      ["updated_since=2000-01-01T00:00:00Z", ["alice", "bob", "carol", "dave", "erin"]],
      ["updated_since=2999-01-01T00:00:00Z", []],
    ])("filters by %s", async (query, expected) => {
      const page: { users: UserJson[] } = await json(await get(`/v1/users?${query}`));
      expect(page.users.map((user) => user.external_id)).toEqual(expected);
    });

    it("shows a deleted user as deleted and inactive (a change feed with updated_since sees deletions)", async () => {
      const page: { users: UserJson[] } = await json(await get("/v1/users?email=dave%40example.com"));
      expect(page.users[0]).toMatchObject({ external_id: "dave", active: false, deleted: true });
    });

    it.each(["limit=0", "limit=201", "limit=ten", "active=yes", "updated_since=yesterday", "cursor=not-a-cursor", `cursor=${btoa("[1,2]")}`])(
      "rejects %s with 400 invalid_query",
      async (query) => {
        const response = await get(`/v1/users?${query}`);
        expect(response.status).toBe(400);
        expect(await json(response)).toMatchObject({ error: "invalid_query", issues: expect.any(Array) });
      },
    );

    it("returns one user with memberships and the roles ROLE_MAPPING computes from them", async () => {
      const alice: UserJson = await json(await get("/v1/users/scalekit/alice"));
      expect(alice).toMatchObject({ id: "scalekit:alice", email: "Alice@Example.com", active: true, roles: ["admin", "developer", "reader"] });
      expect(alice.groups?.map((group) => group.name)).toEqual(["Admins", "Engineering"]);
      const bob: UserJson = await json(await get("/v1/users/scalekit/bob"));
      expect(bob.roles).toEqual(["developer", "reader"]);
      const list: { users: UserJson[] } = await json(await get("/v1/users?active=true"));
      expect(Object.fromEntries(list.users.map((user) => [user.external_id, user.roles]))).toEqual({ alice: ["admin", "developer", "reader"], bob: ["developer", "reader"], erin: [] });
      expect((await get("/v1/users/scalekit/nobody")).status).toBe(404);
    });

    it("a deleted user keeps no memberships, so no roles", async () => {
      const dave: UserJson = await json(await get("/v1/users/scalekit/dave"));
      expect(dave).toMatchObject({ deleted: true, roles: [], groups: [] });
    });

    it.each([
      '{"Admins": "admin"}',
      // The old global name map: any customer's "Admins" group granted admin. Refused, not guessed at.
      '{"Admins": ["admin"]}',
      '[{"provider": "scalekit", "organization_id": "org_1", "group_id": "grp_eng", "group_name": "Admins", "roles": ["admin"]}]',
      '[{"provider": "scalekit", "group_id": "grp_eng", "roles": ["admin"]}]',
      '[{"provider": "scalekit", "organization_id": "org_1", "roles": ["admin"]}]',
      "not json",
    ])("refuses to compute roles with ROLE_MAPPING=%s (503 service_misconfigured), naming the variable only", async (mapping) => {
      for (const path of ["/v1/users", "/v1/users/scalekit/alice"]) {
        const response = await get(path, ADMIN, { ROLE_MAPPING: mapping });
        expect(response.status).toBe(503);
        const text = await response.text();
        expect(text).toContain("service_misconfigured");
        expect(text).not.toContain("Admins");
      }
    });

    it('accepts "{}" (the old empty default) as no mappings', async () => {
      const alice: UserJson = await json(await get("/v1/users/scalekit/alice", ADMIN, { ROLE_MAPPING: "{}" }));
      expect(alice.roles).toEqual([]);
    });
  });

  describe("/v1/groups", () => {
    it("lists groups with cursor paging", async () => {
      const first: { groups: { external_id: string; name: string }[]; next_cursor: string } = await json(await get("/v1/groups?limit=1"));
      expect(first.groups.map((group) => group.name)).toEqual(["Admins"]);
      const second: { groups: { name: string }[]; next_cursor: string | null } = await json(await get(`/v1/groups?limit=1&cursor=${first.next_cursor}`));
      expect(second.groups.map((group) => group.name)).toEqual(["Engineering"]);
      expect(second.next_cursor).toBeNull();
    });

    it("lists a group's current members with cursor paging (removed and deleted users excluded)", async () => {
      const first: { members: { external_id: string }[]; next_cursor: string } = await json(await get("/v1/groups/scalekit/grp_eng/members?limit=1"));
      expect(first.members.map((member) => member.external_id)).toEqual(["alice"]);
      const second: { members: { external_id: string }[]; next_cursor: string | null } = await json(await get(`/v1/groups/scalekit/grp_eng/members?limit=1&cursor=${first.next_cursor}`));
      expect(second.members.map((member) => member.external_id)).toEqual(["bob"]);
      expect(second.next_cursor).toBeNull();
      expect((await get("/v1/groups/scalekit/nope/members")).status).toBe(404);
    });
  });
});

describe("operator endpoints", () => {
  it("lists the event log with filters and cursor paging, and shows one event", async () => {
    await seedDirectory();
    const all: { events: { event_id: string; status: string }[] } = await json(await get("/admin/events?limit=200"));
    expect(all.events).toHaveLength(10);
    expect(all.events.every((event) => event.status === "applied")).toBe(true);
    const walked: string[] = [];
    let cursor: string | null = null;
    do {
      const page: { events: { event_id: string }[]; next_cursor: string | null } = await json(await get(`/admin/events?limit=3${cursor ? `&cursor=${cursor}` : ""}`));
      walked.push(...page.events.map((event) => event.event_id));
      cursor = page.next_cursor;
    } while (cursor);
    expect(new Set(walked).size).toBe(10);
    expect(((await json(await get("/admin/events?status=failed"))) as { events: unknown[] }).events).toEqual([]);
    expect(((await json(await get("/admin/events?provider=firstup"))) as { events: unknown[] }).events).toEqual([]);
    expect(((await json(await get("/admin/events?since=2999-01-01T00:00:00Z"))) as { events: unknown[] }).events).toEqual([]);
    expect((await get("/admin/events?status=bogus")).status).toBe(400);
    const one = await json(await get(`/admin/events/scalekit/${all.events[0]!.event_id}`));
    expect(one).toMatchObject({ status: "applied", replayable: false, message: null });
  });

  it("replays a dead-lettered event: it applies once, however often it is replayed or redelivered", async () => {
    const event = events.userUpserted("replayed-user", Date.parse("2026-02-01T00:00:00Z"));
    await deliverBatch([eventMessage(event)], { queue: "directory-events-dlq" });
    const before = await json(await get(`/admin/events/scalekit/${event.eventId}`));
    expect(before).toMatchObject({ status: "dead_lettered", replayable: true, message: { kind: "event" } });
    const deadLetters: { dead_letters: { event_id: string; message_id: string }[] } = await json(await get("/admin/dead-letters"));
    expect(deadLetters.dead_letters.map((letter) => letter.event_id)).toContain(event.eventId);

    const { queue, sent } = capturingQueue();
    const replay = await callApp(new Request(`${BASE}/admin/events/scalekit/${event.eventId}/replay`, { method: "POST", headers: ADMIN }), { EVENTS_QUEUE: queue });
    expect(replay.status).toBe(202);
    // The same replayed message delivered twice, and the dead letter replayed too: one effect.
    const letter = deadLetters.dead_letters.find((candidate) => candidate.event_id === event.eventId)!;
    const replayLetter = await callApp(new Request(`${BASE}/admin/dead-letters/${letter.message_id}/replay`, { method: "POST", headers: ADMIN }), { EVENTS_QUEUE: queue });
    expect(replayLetter.status).toBe(202);
    expect(sent).toHaveLength(2);
    await deliverBatch([sent[0], sent[0]]);
    await deliverBatch([sent[1]]);

    const processed = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE status = 'applied' AND event_id = ?").bind(event.eventId).first<{ n: number }>();
    expect(processed?.n).toBe(1);
    expect(await json(await get(`/admin/events/scalekit/${event.eventId}`))).toMatchObject({ status: "applied", replayable: false });
    expect(((await json(await get("/v1/users/scalekit/replayed-user"))) as UserJson).email).toBe("replayed-user@example.com");
    const again = await callApp(new Request(`${BASE}/admin/events/scalekit/${event.eventId}/replay`, { method: "POST", headers: ADMIN }), { EVENTS_QUEUE: queue });
    expect(again.status).toBe(409);
    expect(await json(again)).toMatchObject({ error: "not_replayable", status: "applied" });
  });

  it("refuses to replay an undecodable dead letter (422) and unknown ones (404)", async () => {
    await deliverBatch([{ v: 99, marker: "undecodable" }], { queue: "directory-events-dlq" });
    const letters: { dead_letters: { message_id: string; body: { marker?: string } }[] } = await json(await get("/admin/dead-letters"));
    const letter = letters.dead_letters.find((candidate) => candidate.body.marker === "undecodable")!;
    const response = await callApp(new Request(`${BASE}/admin/dead-letters/${letter.message_id}/replay`, { method: "POST", headers: ADMIN }));
    expect(response.status).toBe(422);
    expect(await json(response)).toMatchObject({ error: "undecodable" });
    expect((await callApp(new Request(`${BASE}/admin/dead-letters/nope/replay`, { method: "POST", headers: ADMIN }))).status).toBe(404);
  });
});

describe("GET /healthz", () => {
  it("needs no token and reports each dependency", async () => {
    const response = await callApp(new Request(`${BASE}/healthz`));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "ok", checks: { d1: "ok", kv: "ok", queue: "ok", notify_queue: "ok" }, config: "ok", invalid_settings: [] });
  });

  it("answers 503 when a dependency fails, without saying why", async () => {
    const brokenDb = { prepare: () => ({ first: async () => { throw new Error("D1_ERROR: secret internals"); } }) } as unknown as D1Database;
    const response = await callApp(new Request(`${BASE}/healthz`), { DB: brokenDb });
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ status: "degraded", checks: { d1: "error", kv: "ok", queue: "ok", notify_queue: "ok" }, config: "ok", invalid_settings: [] });
    expect(text).not.toContain("internals");
  });
});
