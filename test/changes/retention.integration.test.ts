import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { pruneChanges } from "../../src/changes/retention";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { callApp } from "../support/worker";

/**
 * changes.seq is INTEGER PRIMARY KEY without AUTOINCREMENT (migration 0010): SQLite hands out
 * max(seq) + 1, so an empty table would start at 1 again and a reader's cursor would skip the new
 * changes. Retention therefore always keeps the newest change, however old.
 */

const RETENTION_DAYS = 30;
const T0 = Date.parse("2026-11-20T10:00:00Z");
const ADMIN = { authorization: "Bearer test-admin-token" };

const apply = async (...list: Parameters<typeof eventMessage>[0][]) => {
  const { result } = await deliverBatch(list.map((event) => eventMessage(event)));
  expect(result.retryMessages).toEqual([]);
};
const seqs = async () => (await env.DB.prepare("SELECT seq FROM changes ORDER BY seq").all<{ seq: number }>()).results.map((row) => row.seq);
const ageAll = (days: number) => env.DB.prepare("UPDATE changes SET recorded_at = ?").bind(Date.now() - days * 24 * 3600 * 1000).run();
const prunedThrough = async () => (await env.DB.prepare("SELECT value FROM feed_state WHERE key = 'pruned_through'").first<{ value: number }>())?.value ?? null;

describe("change retention keeps the newest change", () => {
  beforeEach(async () => {
    await env.DB.exec(
      "DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets; DELETE FROM changes; DELETE FROM change_erasures; DELETE FROM change_deliveries; DELETE FROM feed_state; DELETE FROM work_claims; DELETE FROM event_log;",
    );
  });

  it("prunes every change but the newest when all are past retention, and the next change gets the next seq", async () => {
    for (let i = 0; i < 5; i++) await apply(events.userUpserted(`keep${i}`, T0 + i));
    const before = await seqs();
    expect(before).toHaveLength(5);
    const newest = before.at(-1)!;
    await ageAll(RETENTION_DAYS + 10);

    expect(await pruneChanges(env.DB, Date.now(), RETENTION_DAYS)).toBe(4);
    expect(await seqs()).toEqual([newest]);
    expect(await prunedThrough()).toBe(newest - 1);
    // The newest alone is never pruned, on any later pass.
    expect(await pruneChanges(env.DB, Date.now(), RETENTION_DAYS)).toBe(0);
    expect(await seqs()).toEqual([newest]);

    // The next change continues the sequence: a reader holding `newest` sees it.
    await apply(events.userUpserted("after_prune", T0 + 100));
    expect(await seqs()).toEqual([newest, newest + 1]);
    const response = await callApp(new Request(`https://sync.example/v1/changes?after=${newest}`, { headers: ADMIN }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { changes: { seq: number; subject: string }[] };
    expect(body.changes.map((change) => [change.seq, change.subject])).toEqual([[newest + 1, "after_prune"]]);
  });

  it("keeps a lone change however old, so a table pruned down to it never hands out a used seq", async () => {
    await apply(events.userUpserted("only", T0));
    const [only] = await seqs();
    await ageAll(RETENTION_DAYS * 10);
    expect(await pruneChanges(env.DB, Date.now(), RETENTION_DAYS)).toBe(0);
    expect(await seqs()).toEqual([only]);
    await apply(events.userUpserted("next", T0 + 1));
    expect(await seqs()).toEqual([only, only! + 1]);

    // Both old now: the older goes, the newer stays, and the sequence still goes on from it.
    await ageAll(RETENTION_DAYS + 1);
    expect(await pruneChanges(env.DB, Date.now(), RETENTION_DAYS)).toBe(1);
    expect(await seqs()).toEqual([only! + 1]);
    await apply(events.userUpserted("third", T0 + 2));
    expect(await seqs()).toEqual([only! + 1, only! + 2]);
  });
});
