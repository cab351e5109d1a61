import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { pruneChanges } from "../../src/changes/retention";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { reconcile } from "../support/reconcile";
import { scimUser, upstreamTenant } from "../support/upstream";
import { callApp } from "../support/worker";

/**
 * The change feed: recorded by triggers in the same D1 batch as the change, from every path,
 * nothing for a write that changes nothing, erasure reaching earlier changes, read gap-free.
 */

interface Change {
  seq: number;
  type: string;
  provider: string;
  organization_id: string | null;
  subject: string;
  cause: string;
  source: string;
  data: Record<string, unknown>;
}

const ADMIN = { authorization: "Bearer test-admin-token" };
const T0 = Date.parse("2026-11-20T10:00:00Z");

async function feed(query = "", headers: Record<string, string> = ADMIN, overrides: Partial<Env> = {}) {
  const response = await callApp(new Request(`https://sync.example/v1/changes${query}`, { headers }), overrides);
  return { status: response.status, body: (await response.json()) as { changes: Change[]; next: number; latest_seq: number; error?: string } };
}

async function allChanges(): Promise<Change[]> {
  const seen: Change[] = [];
  let after = 0;
  for (;;) {
    const { body } = await feed(`?after=${after}&limit=500`);
    seen.push(...body.changes);
    if (body.next === after) return seen;
    after = body.next;
  }
}

const apply = (...list: Parameters<typeof eventMessage>[0][]) => deliverBatch(list.map((event) => eventMessage(event)));
const typesOf = (changes: Change[]) => changes.map((change) => `${change.type} ${change.subject}`);

describe("the change feed", () => {
  beforeEach(async () => {
    await env.DB.exec(
      "DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets; DELETE FROM changes; DELETE FROM change_erasures; DELETE FROM feed_state; DELETE FROM work_claims; DELETE FROM event_log; DELETE FROM reconcile_runs;",
    );
  });

  it("records one change per effective change, with its cause, and nothing for no-ops, duplicates or stale events", async () => {
    const created = events.userUpserted("u1", T0, {}, "evt_create");
    await apply(created);
    await apply(created); // a duplicate delivery
    await apply(events.userUpserted("u1", T0 + 1000, {}, "evt_same")); // same data, newer: a no-op
    await apply(events.userUpserted("u1", T0 + 500, { email: "stale@example.com" }, "evt_stale")); // older than what we hold
    await apply(events.userUpserted("u1", T0 + 2000, { email: "new@example.com", firstName: "Renamed" }, "evt_update"));
    await apply(events.userUpserted("u1", T0 + 3000, { email: "new@example.com", firstName: "Renamed", active: false }, "evt_off"));
    await apply(events.userUpserted("u1", T0 + 4000, { email: "new@example.com", firstName: "Renamed", active: true }, "evt_on"));
    await apply(events.userDeleted("u1", T0 + 5000, "evt_delete"));
    const changes = await allChanges();
    expect(changes.map((change) => [change.type, change.cause])).toEqual([
      ["user.created", "evt_create"],
      ["user.updated", "evt_update"],
      ["user.deactivated", "evt_off"],
      ["user.reactivated", "evt_on"],
      ["user.deleted", "evt_delete"],
    ]);
    expect(changes[1]!.data.changed).toEqual(["email", "first_name"]);
    expect(changes[0]).toMatchObject({ provider: "scalekit", organization_id: "org_1", subject: "u1", source: "webhook", data: { user: { id: "u1", email: "u1@example.com", active: true } } });
    expect(changes.map((change) => change.seq)).toEqual([...changes.map((change) => change.seq)].sort((a, b) => a - b));
  });

  it("records groups and memberships, from user events' group sets too", async () => {
    await apply(events.groupUpserted("g1", T0, "Engineering"));
    await apply(events.groupUpserted("g1", T0 + 1, "Engineering")); // no-op
    await apply(events.groupUpserted("g1", T0 + 2, "R&D"));
    await apply(events.members("g1", T0 + 3, ["u1", "u2"]));
    await apply(events.userWithGroups("u1", T0 + 4, ["g2"])); // u1 now in g2 only
    await apply(events.groupDeleted("g1", T0 + 5));
    expect(typesOf(await allChanges())).toEqual([
      "group.created g1",
      "group.updated g1",
      "group.member_added u1",
      "group.member_added u2",
      "user.created u1",
      "group.created g2",
      "group.member_removed u1",
      "group.member_added u1",
      // One commit: the group's delete, then its remaining member's removal.
      "group.deleted g1",
      "group.member_removed u2",
    ]);
  });

  it("erasure reduces every earlier change of the user to ids, and is itself announced without personal data", async () => {
    await apply(events.userUpserted("u9", T0, { email: "person@example.com", firstName: "Private" }));
    await apply(events.userUpserted("u9", T0 + 1, { email: "other@example.com", firstName: "Private" }));
    await apply({ provider: "scalekit", eventId: "evt_forget", occurredAt: T0 + 2, sourceType: "test", kind: "user_forgotten", externalId: "u9" });
    const changes = await allChanges();
    expect(changes.map((change) => change.type)).toEqual(["user.created", "user.updated", "user.forgotten"]);
    const text = JSON.stringify(changes);
    expect(text).not.toContain("person@example.com");
    expect(text).not.toContain("other@example.com");
    expect(text).not.toContain("Private");
    expect(changes.at(-1)).toMatchObject({ subject: "u9", organization_id: "org_1", data: { user: { id: "u9" } } });
  });

  it("records reconciliation's changes with source reconcile, and nothing for a run that changes nothing", async () => {
    const tenant = upstreamTenant("changes-reconcile");
    await tenant.reset({ users: [scimUser("fu1"), scimUser("fu2")] });
    const { run } = await reconcile(tenant, { config: { maxRemovalShare: 1 } });
    const first = (await allChanges()).filter((change) => change.provider === "firstup");
    expect(first.map((change) => [change.type, change.source, change.cause])).toEqual([
      ["user.created", "reconcile", `reconcile:${run.id}`],
      ["user.created", "reconcile", `reconcile:${run.id}`],
    ]);
    const before = (await feed()).body.latest_seq;
    await reconcile(tenant, { config: { maxRemovalShare: 1 } });
    expect((await feed()).body.latest_seq).toBe(before); // a no-op run announces nothing
    // A deactivation a webhook never delivered, healed by the next run.
    await tenant.upsert(scimUser("fu2", { active: false }));
    await reconcile(tenant, { config: { maxRemovalShare: 1 } });
    const healed = (await allChanges()).filter((change) => change.seq > before);
    expect(healed.map((change) => [change.type, change.subject, change.source])).toEqual([["user.deactivated", "fu2", "reconcile"]]);
  });

  it("pages by next, filters by type, provider and organization, and scopes organization tokens", async () => {
    for (let i = 0; i < 25; i++) await apply(events.userUpserted(`p${i}`, T0 + i));
    await apply(events.userUpserted("p0", T0 + 100, { active: false }));
    const other = events.userUpserted("other", T0 + 101);
    if (other.kind === "user_upserted") other.user.organizationId = "org_2";
    await apply(other);
    const page = await feed("?limit=10");
    expect(page.body.changes).toHaveLength(10);
    expect(page.body.next).toBe(page.body.changes.at(-1)!.seq);
    expect((await allChanges()).length).toBe(27);
    const deactivations = await feed("?types=user.deactivated,user.deleted");
    expect(typesOf(deactivations.body.changes)).toEqual(["user.deactivated p0"]);
    expect((await feed("?provider=firstup")).body.changes).toEqual([]);
    expect(typesOf((await feed("?organization_id=org_2")).body.changes)).toEqual(["user.created other"]);
    // An organization-scoped read token (READ_TOKENS `<org>:<token>`) sees only its organization.
    const scoped = await feed("", { authorization: "Bearer org2-reader" }, { READ_TOKENS: "org_2:org2-reader" });
    expect(typesOf(scoped.body.changes)).toEqual(["user.created other"]);
    const foreign = await feed("?organization_id=org_1", { authorization: "Bearer org2-reader" }, { READ_TOKENS: "org_2:org2-reader" });
    expect(foreign.body.changes).toEqual([]);
    expect((await feed("?types=user.exploded")).status).toBe(400);
  });

  it("a reader following next while consumers commit concurrently sees every change exactly once", async () => {
    const writers = Array.from({ length: 8 }, (_, writer) =>
      (async () => {
        for (let round = 0; round < 6; round++) {
          await apply(...Array.from({ length: 5 }, (_, i) => events.userUpserted(`w${writer}-${round}-${i}`, T0 + round)));
        }
      })(),
    );
    const seen: number[] = [];
    let after = 0;
    let done = false;
    const all = Promise.all(writers).then(() => {
      done = true;
    });
    // Page while the writers commit, then drain.
    for (let reads = 0; reads < 10_000; reads++) {
      const { body } = await feed(`?after=${after}&limit=7`);
      seen.push(...body.changes.map((change) => change.seq));
      if (done && body.next === after) break;
      after = body.next;
    }
    await all;
    const stored = (await env.DB.prepare("SELECT seq FROM changes ORDER BY seq").all<{ seq: number }>()).results.map((row) => row.seq);
    expect(stored).toHaveLength(240);
    expect(seen).toEqual(stored); // every change, once, in order
  });

  it("answers cursor_expired for a cursor older than what retention kept, and prunes in bounded batches", async () => {
    for (let i = 0; i < 6; i++) await apply(events.userUpserted(`r${i}`, T0 + i));
    await env.DB.exec(`UPDATE changes SET recorded_at = ${Date.now() - 40 * 24 * 3600 * 1000} WHERE seq IN (SELECT seq FROM changes ORDER BY seq LIMIT 4)`);
    const pruned = await pruneChanges(env.DB, Date.now(), 30);
    expect(pruned).toBe(4);
    const expired = await feed("?after=0");
    expect(expired.status).toBe(410);
    expect(expired.body).toMatchObject({ error: "cursor_expired", latest_seq: expect.any(Number) });
    const through = (await env.DB.prepare("SELECT value FROM feed_state WHERE key = 'pruned_through'").first<{ value: number }>())!.value;
    const resumed = await feed(`?after=${through}`);
    expect(resumed.status).toBe(200);
    expect(resumed.body.changes).toHaveLength(2);
    expect(await pruneChanges(env.DB, Date.now(), 30)).toBe(0);
  });
});
