import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { ADMIN } from "../support/seed";
import { callApp } from "../support/worker";

/**
 * `group_members` is what applications query (`SELECT … FROM group_members WHERE
 * group_external_id = ?`), so a row there must mean "a member now": removed members are gone from
 * it, and a group's meta.lastModified moves when its membership really changes.
 */

async function apply(...batch: DirectoryEvent[]) {
  const { result } = await deliverBatch(batch.map((event) => eventMessage(event)));
  expect(result.retryMessages).toEqual([]);
}

async function rowsOf(group: string) {
  const { results } = await env.DB.prepare("SELECT * FROM group_members WHERE group_external_id = ? ORDER BY user_external_id").bind(group).all();
  return results;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("group_members holds current members only", () => {
  beforeEach(async () => {
    await env.DB.exec("DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets;");
  });

  it("after adds, removes and re-adds, the table is exactly the current members", async () => {
    await apply(events.members("g_churn", 100, ["u1", "u2", "u3"]));
    await apply(events.members("g_churn", 200, [], ["u2", "u3"]));
    await apply(events.members("g_churn", 300, ["u2"]));
    // A late "added" from before u3's removal must not bring u3 back.
    await apply(events.members("g_churn", 150, ["u3"]));
    expect(await rowsOf("g_churn")).toEqual([
      { provider: "scalekit", group_external_id: "g_churn", user_external_id: "u1", added_at: 100 },
      { provider: "scalekit", group_external_id: "g_churn", user_external_id: "u2", added_at: 300 },
    ]);
  });

  it("a member removed in the same batch that added them is absent", async () => {
    await apply(events.members("g_batch", 100, ["u1", "u2"]), events.members("g_batch", 200, [], ["u1"]));
    expect((await rowsOf("g_batch")).map((row) => row.user_external_id)).toEqual(["u2"]);
  });

  it("deleting or erasing a user removes their rows; deleting a group removes its rows", async () => {
    await apply(events.members("g_a", 100, ["u1", "u2", "u3"]), events.members("g_b", 100, ["u1", "u2"]));
    await apply(events.userDeleted("u1", 200));
    await apply({ provider: "scalekit", eventId: "evt_forget_u2", occurredAt: 200, sourceType: "test", kind: "user_forgotten", externalId: "u2" });
    expect((await rowsOf("g_a")).map((row) => row.user_external_id)).toEqual(["u3"]);
    expect(await rowsOf("g_b")).toEqual([]);
    await apply(events.groupDeleted("g_a", 300));
    expect(await rowsOf("g_a")).toEqual([]);
    // A late add from before the delete stays out; one after it is a member.
    await apply(events.members("g_a", 250, ["u3"]), events.members("g_a", 400, ["u4"]));
    expect((await rowsOf("g_a")).map((row) => row.user_external_id)).toEqual(["u4"]);
  });
});

describe("a group's meta.lastModified follows its membership", () => {
  const GROUP_ID = "scalekit:g_poll";
  const changedSince = async (before: string) => {
    const filter = encodeURIComponent(`meta.lastModified gt "${before}"`);
    const response = await callApp(new Request(`https://sync.example.com/scim/v2/Groups?filter=${filter}`, { headers: ADMIN }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { Resources: { id: string; members?: { value: string }[] }[] };
    return body.Resources.map((resource) => resource.id);
  };
  /** A point in time after everything so far, and strictly before whatever happens next. */
  const mark = async () => {
    await sleep(5);
    const at = new Date().toISOString();
    await sleep(5);
    return at;
  };

  it("moves when members are added or removed, and not for no-op or stale events", async () => {
    const t = Date.now();
    await apply(events.groupUpserted("g_poll", t, "Pollers"));
    await apply(events.members("g_poll", t + 10, ["u1"]));

    let before = await mark();
    expect(await changedSince(before)).toEqual([]);
    await apply(events.members("g_poll", t + 20, ["u2"]));
    expect(await changedSince(before)).toEqual([GROUP_ID]);

    before = await mark();
    await apply(events.members("g_poll", t + 30, ["u1"])); // already a member
    await apply(events.members("g_poll", t + 5, [], ["u2"])); // older than u2's add
    await apply(events.members("g_poll", t + 6, ["u3"]), events.members("g_poll", t + 7, [], ["u3"])); // net nothing
    expect(await changedSince(before)).toEqual([]);

    before = await mark();
    await apply(events.members("g_poll", t + 40, [], ["u1"]));
    expect(await changedSince(before)).toEqual([GROUP_ID]);

    before = await mark();
    await apply(events.userDeleted("u2", t + 50));
    expect(await changedSince(before)).toEqual([GROUP_ID]);
  });
});

describe("a user's meta.lastModified moves when their memberships change", () => {
  it("SCIM Users shows the new group and a newer meta.lastModified; a no-op add moves nothing", async () => {
    await apply(events.userUpserted("lm_user", 100), events.groupUpserted("lm_group", 100));
    const read = async () => (await (await callApp(new Request("https://sync.example.com/scim/v2/Users/scalekit:lm_user", { headers: ADMIN }))).json()) as { meta: { lastModified: string }; groups?: unknown[] };
    const before = await read();
    await sleep(5);
    await apply(events.members("lm_group", 200, ["lm_user"]));
    const after = await read();
    expect(after.groups).toHaveLength(1);
    expect(Date.parse(after.meta.lastModified)).toBeGreaterThan(Date.parse(before.meta.lastModified));
    await sleep(5);
    await apply(events.members("lm_group", 300, ["lm_user"]));
    expect((await read()).meta.lastModified).toBe(after.meta.lastModified);
  });
});
