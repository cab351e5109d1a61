import { env } from "cloudflare:test";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { eventStatuses, type EventStatus } from "../../src/directory/schema";
import { EVENT_LOG_MAX_ROUND_TRIPS, pruneEventLog } from "../../src/retention/event-log";
import { deliverBatch } from "../support/consumer";
import { countingD1 } from "../support/d1";
import { eventMessage, events } from "../support/directory";
import { count, DAY, insertNumbered } from "./support";

/**
 * The event log is also the exactly-once record (migration 0010), so its prune deletes only
 * finished rows (applied, ignored) older than RETENTION_DAYS by both their times, never one an
 * operator still has to act on or one a dead letter still points at; it sweeps the table in key
 * order, a few windows per call, and starts over at the front. A redelivery inside the window is
 * still a duplicate after a prune; one older than the window is applied again, and the version
 * guard keeps it from changing anything.
 */

const RETENTION_DAYS = 30;
const now = Date.now();
const OLD = RETENTION_DAYS + 1;
const YOUNG = RETENTION_DAYS - 1;
/** Windows one call looks at: the cursor read, then two round trips per window. */
const WINDOWS_PER_CALL = (EVENT_LOG_MAX_ROUND_TRIPS - 1) / 2;

const logRow = (provider: string, eventId: string, status: EventStatus, receivedDaysAgo: number, updatedDaysAgo = receivedDaysAgo) =>
  env.DB.prepare(
    `INSERT INTO event_log (provider, event_id, source_type, status, received_at, updated_at, message)
     VALUES (?1, ?2, 'test', ?3, ?4, ?5, CASE WHEN ?3 IN ('applied', 'ignored') THEN NULL ELSE '{}' END)`,
  )
    .bind(provider, eventId, status, now - receivedDaysAgo * DAY, now - updatedDaysAgo * DAY)
    .run();
const keys = async () =>
  (await env.DB.prepare("SELECT provider || ':' || event_id AS key FROM event_log ORDER BY provider, event_id").all<{ key: string }>()).results.map((row) => row.key);
const cursor = async () => (await env.DB.prepare("SELECT note FROM feed_state WHERE key = 'retention:event_log'").first<{ note: string | null }>())?.note ?? null;
const age = (provider: string, eventId: string, days: number) =>
  env.DB.prepare("UPDATE event_log SET received_at = ?3, updated_at = ?3 WHERE provider = ?1 AND event_id = ?2").bind(provider, eventId, now - days * DAY).run();

describe("event log retention", () => {
  beforeEach(async () => {
    await env.DB.exec(
      "DELETE FROM event_log; DELETE FROM dead_letters; DELETE FROM work_claims; DELETE FROM feed_state; DELETE FROM users; DELETE FROM changes; DELETE FROM change_erasures; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets;",
    );
  });
  afterEach(() => vi.restoreAllMocks());

  it("deletes old applied and ignored rows, and keeps young ones, every unresolved status, and a row a dead letter points at", async () => {
    await logRow("scalekit", "old_applied", "applied", OLD);
    await logRow("scalekit", "old_ignored", "ignored", OLD);
    await logRow("firstup", "old_applied_firstup", "applied", 400);
    await logRow("scalekit", "young_applied", "applied", YOUNG);
    await logRow("scalekit", "young_ignored", "ignored", 1);
    // Received long ago but finished recently (a retried event): its last update counts.
    await logRow("scalekit", "updated_recently", "applied", OLD, YOUNG);
    // And the other way round: both times must be past the cutoff.
    await logRow("scalekit", "received_recently", "applied", YOUNG, OLD);
    const unresolved = eventStatuses.filter((status) => status !== "applied" && status !== "ignored");
    expect(unresolved.sort()).toEqual(["dead_lettered", "failed", "held", "quarantined", "rejected"]);
    for (const status of unresolved) await logRow("scalekit", `old_${status}`, status, 400);
    // Applied since, but its dead letter is still there: replaying the dead letter must dedupe.
    await logRow("scalekit", "old_with_dead_letter", "applied", OLD);
    await env.DB.prepare("INSERT INTO dead_letters (message_id, provider, event_id, body, recorded_at) VALUES ('dl_1', 'scalekit', 'old_with_dead_letter', '{}', ?)")
      .bind(now - DAY)
      .run();
    // A dead letter of the same event id under another provider protects nothing here.
    await logRow("firstup", "old_ignored_other_provider", "ignored", OLD);
    await env.DB.prepare("INSERT INTO dead_letters (message_id, provider, event_id, body, recorded_at) VALUES ('dl_2', 'scalekit', 'old_ignored_other_provider', '{}', ?)")
      .bind(now - DAY)
      .run();

    const d1 = countingD1(env.DB);
    expect(await pruneEventLog(d1.db, now, RETENTION_DAYS)).toEqual({ deleted: 4 });
    expect(d1.roundTrips()).toBeLessThanOrEqual(EVENT_LOG_MAX_ROUND_TRIPS);
    expect(await keys()).toEqual(
      [
        "scalekit:young_applied",
        "scalekit:young_ignored",
        "scalekit:updated_recently",
        "scalekit:received_recently",
        ...unresolved.map((status) => `scalekit:old_${status}`),
        "scalekit:old_with_dead_letter",
      ].sort(),
    );
    // The whole table fit in one window: the pass is over, and the next starts at the front.
    expect(await cursor()).toBeNull();
    expect(await pruneEventLog(env.DB, now, RETENTION_DAYS)).toEqual({ deleted: 0 });

    // Once the dead letter is gone (dealt with and pruned), the event's row goes on the next pass.
    await env.DB.exec("DELETE FROM dead_letters WHERE message_id = 'dl_1'");
    expect(await pruneEventLog(env.DB, now, RETENTION_DAYS)).toEqual({ deleted: 1 });
    expect(await count("event_log", "event_id = 'old_with_dead_letter'")).toBe(0);
  });

  it("sweeps the table in key order across calls, each within its bound, and starts over at the front", async () => {
    const window = 10;
    // 55 rows over two providers, in key order: firstup:evt_01…evt_20, then scalekit:evt_21…evt_55.
    // Every row is old except every fifth, which is young.
    const provider = "CASE WHEN i <= 20 THEN 'firstup' ELSE 'scalekit' END";
    await insertNumbered(
      "event_log",
      "provider, event_id, source_type, status, received_at, updated_at",
      `${provider}, printf('evt_%02d', i), 'test', CASE WHEN i % 7 = 0 THEN 'ignored' ELSE 'applied' END, CASE WHEN i % 5 = 0 THEN ?2 ELSE ?1 END, CASE WHEN i % 5 = 0 THEN ?2 ELSE ?1 END`,
      55,
      now - OLD * DAY,
      now - YOUNG * DAY,
    );
    const key = (i: number) => `${i <= 20 ? "firstup" : "scalekit"}:evt_${String(i).padStart(2, "0")}`;
    const all = Array.from({ length: 55 }, (_, n) => n + 1);
    const young = all.filter((i) => i % 5 === 0);

    const calls: { deleted: number; roundTrips: number; rowsRead: number }[] = [];
    const call = async () => {
      const d1 = countingD1(env.DB);
      const { deleted } = await pruneEventLog(d1.db, now, RETENTION_DAYS, window);
      calls.push({ deleted, roundTrips: d1.roundTrips(), rowsRead: d1.rows().read });
      return deleted;
    };

    // The first call looks at the first WINDOWS_PER_CALL windows only, and leaves its cursor there.
    const firstSpan = WINDOWS_PER_CALL * window;
    expect(firstSpan).toBeLessThan(55);
    await call();
    expect(await keys()).toEqual(all.filter((i) => i > firstSpan || i % 5 === 0).map(key));
    expect(JSON.parse((await cursor())!)).toEqual(key(firstSpan).split(":"));
    // The second goes on from there to the end of the table, and clears the cursor.
    await call();
    expect(await keys()).toEqual(young.map(key));
    expect(await cursor()).toBeNull();
    expect(calls.map((c) => c.deleted)).toEqual([firstSpan - firstSpan / 5, 55 - firstSpan - (55 - firstSpan) / 5]);

    // Rows that grew old meanwhile, at the front of the table: the next pass starts there.
    for (const i of young.filter((i) => i <= 20)) {
      const [p, id] = key(i).split(":") as [string, string];
      await age(p, id, OLD);
    }
    await call();
    expect(await keys()).toEqual(young.filter((i) => i > 20).map(key));

    for (const { roundTrips, rowsRead } of calls) {
      expect(roundTrips).toBeLessThanOrEqual(EVENT_LOG_MAX_ROUND_TRIPS);
      // A window's keys are read about twice (finding its end, then the delete), never the rest
      // of the table: an unbounded delete would read from the cursor to the end in every window.
      expect(rowsRead).toBeLessThanOrEqual(WINDOWS_PER_CALL * 3 * window);
    }
  });

  it("a redelivery inside the window still dedupes after a prune; one older than the window is applied again and changes nothing", async () => {
    const T0 = Date.parse("2026-11-01T00:00:00Z");
    // An event applied a while ago (still inside the window) through the real consumer.
    const recent = events.userUpserted("u_recent", T0, { firstName: "Recent" }, "evt_recent");
    expect((await deliverBatch([eventMessage(recent)])).result.retryMessages).toEqual([]);
    // Its row, aged but young: a re-application would write it again with updated_at = now.
    await age("scalekit", "evt_recent", YOUNG);
    // A user whose first event will be older than the window, and a newer event of it since.
    const oldest = events.userUpserted("u_old", T0, { firstName: "Original" }, "evt_oldest");
    const newer = events.userUpserted("u_old", T0 + 60_000, { firstName: "Renamed" }, "evt_newer");
    for (const event of [oldest, newer]) expect((await deliverBatch([eventMessage(event)])).result.retryMessages).toEqual([]);
    await age("scalekit", "evt_oldest", OLD);
    // And other old rows, which the prune deletes with it.
    await insertNumbered("event_log", "provider, event_id, source_type, status, received_at, updated_at", "'scalekit', 'evt_filler_' || i, 'test', 'applied', ?1, ?1", 20, now - OLD * DAY);

    const rowOf = (eventId: string) => env.DB.prepare("SELECT * FROM event_log WHERE provider = 'scalekit' AND event_id = ?").bind(eventId).first();
    const changesOf = async (subject: string) =>
      (await env.DB.prepare("SELECT type, cause FROM changes WHERE provider = 'scalekit' AND subject = ? ORDER BY seq").bind(subject).all()).results;
    const userOf = (externalId: string) =>
      env.DB.prepare("SELECT first_name, last_event_version, updated_at FROM users WHERE provider = 'scalekit' AND external_id = ?").bind(externalId).first();

    expect(await pruneEventLog(env.DB, now, RETENTION_DAYS)).toEqual({ deleted: 21 });
    expect(await count("event_log", "event_id LIKE 'evt_filler_%' OR event_id = 'evt_oldest'")).toBe(0);
    const recentRow = await rowOf("evt_recent");
    expect(recentRow).toMatchObject({ status: "applied", updated_at: now - YOUNG * DAY });
    const recentChanges = await changesOf("u_recent");
    expect(recentChanges).toEqual([{ type: "user.created", cause: "evt_recent" }]);
    const recentUser = await userOf("u_recent");

    // The same message again: a duplicate, found in one read, nothing written.
    const logged: string[] = [];
    vi.spyOn(console, "log").mockImplementation((line: unknown) => void logged.push(String(line)));
    const duplicate = countingD1(env.DB);
    const redelivered = await deliverBatch([eventMessage(recent)], { env: { ...env, DB: duplicate.db } });
    expect(redelivered.result.retryMessages).toEqual([]);
    expect(redelivered.result.explicitAcks).toEqual(redelivered.ids);
    expect(logged.some((line) => line.includes('"event":"event.duplicate"') && line.includes('"eventId":"evt_recent"') && line.includes('"where":"d1"'))).toBe(true);
    expect(duplicate.rows().written).toBe(0);
    expect(await rowOf("evt_recent")).toEqual(recentRow);
    expect(await changesOf("u_recent")).toEqual(recentChanges);
    expect(await userOf("u_recent")).toEqual(recentUser);

    // The pruned event again: applied again (its id is no longer known), but older than the
    // user's state, so the version guard keeps the user as it is and no change is recorded.
    const userBefore = await userOf("u_old");
    expect(userBefore).toMatchObject({ first_name: "Renamed" });
    const oldChanges = await changesOf("u_old");
    expect(oldChanges).toEqual([
      { type: "user.created", cause: "evt_oldest" },
      { type: "user.updated", cause: "evt_newer" },
    ]);
    logged.length = 0;
    const late = await deliverBatch([eventMessage(oldest)]);
    expect(late.result.retryMessages).toEqual([]);
    expect(logged.some((line) => line.includes('"event":"event.applied"') && line.includes('"eventId":"evt_oldest"'))).toBe(true);
    expect(await userOf("u_old")).toEqual(userBefore);
    expect(await changesOf("u_old")).toEqual(oldChanges);
    // Its id is recorded again, so a further copy is a duplicate once more.
    expect(await rowOf("evt_oldest")).toMatchObject({ status: "applied" });
  });
});
