import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";

/**
 * The webhook path's guard on destructive outcomes: a burst of deletions or deactivations past
 * the window's budget is held for an operator, never applied; released events pass.
 */

const guardEnv = (extra: Partial<Env> = {}): Env => ({ ...env, DESTRUCTIVE_GUARD_MIN: "5", DESTRUCTIVE_GUARD_MAX_SHARE: "0.05", ...extra });
const USERS = Array.from({ length: 100 }, (_, i) => `g_u${String(i).padStart(3, "0")}`);

const activeCount = async () =>
  (await env.DB.prepare("SELECT count(*) AS n FROM users WHERE provider = 'scalekit' AND external_id LIKE 'g_u%' AND active = 1 AND deleted_at IS NULL").first<{ n: number }>())?.n;
const statuses = async (ids: string[]) =>
  (
    await env.DB.prepare(`SELECT status, reason, count(*) AS n FROM event_log WHERE provider = 'scalekit' AND event_id IN (SELECT value FROM json_each(?)) GROUP BY 1, 2 ORDER BY 1`)
      .bind(JSON.stringify(ids))
      .all<{ status: string; reason: string | null; n: number }>()
  ).results;

describe("destructive guard on the webhook path", () => {
  beforeAll(async () => {
    await deliverBatch(USERS.map((id) => eventMessage(events.userUpserted(id, 1_000))), { env: guardEnv() });
    // Provisioned before this window: users created inside it do not count towards the budget.
    await env.DB.exec(`UPDATE users SET created_at = created_at - ${7 * 24 * 3600 * 1000} WHERE provider = 'scalekit' AND external_id LIKE 'g_u%'`);
    expect(await activeCount()).toBe(100);
  });

  it("applies deletions up to max(min, share x directory) per window and holds the rest, recorded and replayable", async () => {
    const deletions = USERS.slice(0, 12).map((id, i) => events.userDeleted(id, 2_000 + i));
    const { result } = await deliverBatch(deletions.map((event) => eventMessage(event)), { env: guardEnv() });
    expect(result.explicitAcks).toHaveLength(12);
    expect(result.retryMessages).toEqual([]);
    expect(await activeCount()).toBe(95);
    expect(await statuses(deletions.map((event) => event.eventId))).toEqual([
      { status: "applied", reason: null, n: 5 },
      { status: "held", reason: "destructive_guard", n: 7 },
    ]);
    // The oldest events go first; held ones keep their message for release.
    const held = await env.DB.prepare("SELECT event_id, message FROM event_log WHERE status = 'held' ORDER BY event_id").all<{ event_id: string; message: string }>();
    expect(held.results.map((row) => row.event_id)).toEqual(deletions.slice(5).map((event) => event.eventId).sort());
    expect(held.results.every((row) => JSON.parse(row.message).event.kind === "user_deleted")).toBe(true);
  });

  it("counts only effective changes: a stale or repeated deactivation does not use the budget", async () => {
    // Older than the user's current state: no effect, so not destructive.
    const stale = events.userUpserted(USERS[50]!, 500, { active: false });
    await deliverBatch([eventMessage(stale)], { env: guardEnv() });
    expect(await statuses([stale.eventId])).toEqual([{ status: "applied", reason: null, n: 1 }]);
    expect(await activeCount()).toBe(95);
  });

  it("keeps holding while the window is spent, including deactivations by update", async () => {
    const deactivation = events.userUpserted(USERS[60]!, 3_000, { active: false });
    await deliverBatch([eventMessage(deactivation)], { env: guardEnv() });
    expect(await statuses([deactivation.eventId])).toEqual([{ status: "held", reason: "destructive_guard", n: 1 }]);
    expect(await activeCount()).toBe(95);
  });

  it("an operator's release applies a held event even though the window is spent", async () => {
    const row = await env.DB.prepare("SELECT message FROM event_log WHERE status = 'held' ORDER BY event_id LIMIT 1").first<{ message: string }>();
    const released = { ...JSON.parse(row!.message), released: true };
    await deliverBatch([released], { env: guardEnv() });
    expect(await activeCount()).toBe(94);
    expect(await statuses([released.event.eventId])).toEqual([{ status: "applied", reason: null, n: 1 }]);
  });

  it("the budget is per organization: one customer's spent window never holds another customer's offboarding", async () => {
    const inOrg2 = (event: DirectoryEvent): DirectoryEvent =>
      event.kind === "user_upserted" || event.kind === "user_deleted" ? ({ ...event, user: { ...event.user, organizationId: "org_2" } } as DirectoryEvent) : event;
    await deliverBatch([eventMessage(inOrg2(events.userUpserted("org2_fired", 1_000)))], { env: guardEnv() });
    const fired = inOrg2(events.userDeleted("org2_fired", 3_500));
    await deliverBatch([eventMessage(fired)], { env: guardEnv() });
    expect(await statuses([fired.eventId])).toEqual([{ status: "applied", reason: null, n: 1 }]);
    // org_1's window is still spent.
    const another = events.userDeleted(USERS[70]!, 3_600);
    await deliverBatch([eventMessage(another)], { env: guardEnv() });
    expect(await statuses([another.eventId])).toEqual([{ status: "held", reason: "destructive_guard", n: 1 }]);
  });

  it("a larger directory share raises the budget", async () => {
    const deletions = USERS.slice(20, 30).map((id, i) => events.userDeleted(id, 4_000 + i));
    await deliverBatch(deletions.map((event) => eventMessage(event)), { env: guardEnv({ DESTRUCTIVE_GUARD_MAX_SHARE: "0.5" }) });
    expect((await statuses(deletions.map((event) => event.eventId)))[0]).toMatchObject({ status: "applied", n: 10 });
  });

  it("a non-destructive event in the same batch as held ones is applied", async () => {
    const rename: DirectoryEvent = events.userUpserted(USERS[90]!, 5_000, { firstName: "Renamed" });
    const deletion = events.userDeleted(USERS[91]!, 5_001);
    await deliverBatch([eventMessage(rename), eventMessage(deletion)], { env: guardEnv() });
    expect(await statuses([rename.eventId, deletion.eventId])).toEqual([
      { status: "applied", reason: null, n: 1 },
      { status: "held", reason: "destructive_guard", n: 1 },
    ]);
  });
});

describe("the guard's base over a window", () => {
  it("a window can spend its whole share: removals it applied still count in the base (100 of 1,000 at 10%, in 10 batches)", async () => {
    const ids = Array.from({ length: 1000 }, (_, i) => `base_u${String(i).padStart(4, "0")}`);
    for (let i = 0; i < ids.length; i += 100) {
      await deliverBatch(ids.slice(i, i + 100).map((id) => eventMessage({ ...events.userUpserted(id, 1_000), provider: "scalekit-base" } as DirectoryEvent)));
    }
    await env.DB.exec(`UPDATE users SET created_at = created_at - ${7 * 24 * 3600 * 1000} WHERE provider = 'scalekit-base'`);
    const deletions = ids.slice(0, 100).map((id, i) => ({ ...events.userDeleted(id, 2_000 + i), provider: "scalekit-base" }) as DirectoryEvent);
    for (let i = 0; i < deletions.length; i += 10) {
      await deliverBatch(deletions.slice(i, i + 10).map((event) => eventMessage(event)), { env: guardEnv({ DESTRUCTIVE_GUARD_MIN: "0", DESTRUCTIVE_GUARD_MAX_SHARE: "0.1" }) });
    }
    const statuses = await env.DB.prepare("SELECT status, count(*) AS n FROM event_log WHERE provider = 'scalekit-base' AND event_id IN (SELECT value FROM json_each(?)) GROUP BY 1")
      .bind(JSON.stringify(deletions.map((event) => event.eventId)))
      .all<{ status: string; n: number }>();
    expect(statuses.results).toEqual([{ status: "applied", n: 100 }]);
  }, 60_000);
});
