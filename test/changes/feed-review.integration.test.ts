import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { callApp } from "../support/worker";

/** Hostile-review cases for the change feed: each failed on the first version of the triggers and writes. */

interface Change { seq: number; type: string; organization_id: string | null; subject: string; cause: string; source: string; data: Record<string, unknown> }
const ADMIN = { authorization: "Bearer test-admin-token" };
const T0 = Date.parse("2026-12-01T10:00:00Z");

async function feed(query = "", headers: Record<string, string> = ADMIN, overrides: Partial<Env> = {}) {
  const response = await callApp(new Request(`https://sync.example/v1/changes${query}`, { headers }), overrides);
  return (await response.json()) as { changes: Change[]; next: number };
}
const apply = (...list: Parameters<typeof eventMessage>[0][]) => deliverBatch(list.map((event) => eventMessage(event)));
const forget = (externalId: string, occurredAt: number, eventId: string) =>
  ({ provider: "scalekit", eventId, occurredAt, sourceType: "test", kind: "user_forgotten", externalId }) as const;

describe("review 12: feed", () => {
  beforeEach(async () => {
    await env.DB.exec(
      "DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets; DELETE FROM changes; DELETE FROM change_erasures; DELETE FROM feed_state; DELETE FROM work_claims; DELETE FROM event_log;",
    );
  });

  it("erasure's membership removal keeps the organization (org-scoped reader sees it) and its cause is the erasure", async () => {
    await apply(events.groupUpserted("ga", T0, "Eng"));
    await apply(events.userUpserted("ua", T0 + 1, {}, "evt_create_ua"));
    await apply(events.members("ga", T0 + 2, ["ua"], [], "evt_add_ua"));
    await apply(forget("ua", T0 + 3, "evt_forget_ua"));
    const removed = (await feed()).changes.find((change) => change.type === "group.member_removed")!;
    expect(removed).toBeDefined();
    expect({ org: removed.organization_id, cause: removed.cause }).toEqual({ org: "org_1", cause: "evt_forget_ua" });
  });

  it("a user delete's membership removal names the delete as its cause, and a reconcile deletion says source reconcile", async () => {
    await apply(events.groupUpserted("gb", T0, "Eng"));
    await apply(events.userUpserted("ub", T0 + 1));
    await apply(events.members("gb", T0 + 2, ["ub"], [], "evt_add_ub"));
    await apply(events.userDeleted("ub", T0 + 3, "evt_delete_ub"));
    const removed = (await feed()).changes.find((change) => change.type === "group.member_removed")!;
    expect(removed.cause).toBe("evt_delete_ub");
  });

  it("an erasure and a later re-provision in one batch still erase the earlier changes' personal data", async () => {
    await apply(events.userUpserted("ud", T0, { email: "erase-me@example.com" }));
    await apply(forget("ud", T0 + 1, "evt_forget_ud"), events.userUpserted("ud", T0 + 2, { email: "new-ud@example.com" }));
    const text = JSON.stringify((await feed()).changes);
    expect(text).not.toContain("erase-me@example.com");
  });

  it("a cursor beyond the latest seq is refused, not answered with an empty page forever", async () => {
    await apply(events.userUpserted("uf", T0));
    const response = await callApp(new Request("https://sync.example/v1/changes?after=999999999", { headers: ADMIN }));
    expect(response.status).not.toBe(200);
  });
});
