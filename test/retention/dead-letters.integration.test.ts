import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { ROWS_PER_STATEMENT } from "../../src/retention/limits";
import { DEAD_LETTERS_MAX_ROUND_TRIPS, pruneDeadLetters } from "../../src/retention/dead-letters";
import { runAtomically } from "../../src/d1";
import { createRun, finish } from "../../src/reconcile/runs";
import { messageFor } from "../../src/reconcile/start";
import { deliverBatch } from "../support/consumer";
import { countingD1 } from "../support/d1";
import { eventMessage, events } from "../support/directory";
import { count, DAY, insertNumbered, pruneUntilDone } from "./support";

/**
 * Dead letters go once dealt with (their event replayed, their run over) and older than
 * RETENTION_DAYS; a dead letter nobody dealt with stays however old. Dead letters are made the way
 * production makes them: the dead-letter queue's consumer, then a replay through the consumer.
 */

const RETENTION_DAYS = 30;
const now = Date.now();
const dlq = { queue: "directory-events-dlq" };

async function deadLetter(body: unknown): Promise<string> {
  const { ids, result } = await deliverBatch([body], dlq);
  expect(result.retryMessages).toEqual([]);
  return ids[0]!;
}
const age = (messageId: string, days: number) => env.DB.prepare("UPDATE dead_letters SET recorded_at = ? WHERE message_id = ?").bind(now - days * DAY, messageId).run();
const remaining = async () => (await env.DB.prepare("SELECT message_id FROM dead_letters ORDER BY message_id").all<{ message_id: string }>()).results.map((row) => row.message_id).sort();

describe("dead-letter retention", () => {
  beforeEach(async () => {
    await env.DB.exec("DELETE FROM dead_letters; DELETE FROM event_log; DELETE FROM work_claims; DELETE FROM reconcile_runs; DELETE FROM feed_state;");
  });

  it("deletes old dead letters whose event was replayed or whose run is over, and keeps the unresolved, the undecodable and the young", async () => {
    const replayedEvent = events.userUpserted("dl_replayed", 1_000);
    const replayed = await deadLetter(eventMessage(replayedEvent));
    const unresolvedEvent = events.userUpserted("dl_unresolved", 1_000);
    const unresolved = await deadLetter(eventMessage(unresolvedEvent));
    const youngEvent = events.userUpserted("dl_young", 1_000);
    const young = await deadLetter(eventMessage(youngEvent));
    const undecodable = await deadLetter("not a queue message");
    const endedRun = (await createRun(env.DB, { id: "dl_run_ended", provider: "firstup", scope: "dl_a", trigger: "test", now }))!;
    await runAtomically(env.DB, [finish(endedRun.id, "completed", {}, null, now)]);
    const endedStep = await deadLetter(messageFor(endedRun));
    const runningRun = (await createRun(env.DB, { id: "dl_run_running", provider: "firstup", scope: "dl_b", trigger: "test", now }))!;
    const runningStep = await deadLetter(messageFor(runningRun));
    // The operator replays two events: they apply.
    for (const event of [replayedEvent, youngEvent]) expect((await deliverBatch([eventMessage(event)])).result.retryMessages).toEqual([]);
    for (const id of [replayed, unresolved, undecodable, endedStep, runningStep]) await age(id, RETENTION_DAYS + 1);
    await age(young, RETENTION_DAYS - 1);

    const outcome = await pruneDeadLetters(env.DB, now, RETENTION_DAYS);
    expect(outcome).toEqual({ deleted: 2, keptUnresolved: 3 });
    expect(await remaining()).toEqual([unresolved, young, undecodable, runningStep].sort());

    // Replayed later, the unresolved one goes on the next pass.
    expect((await deliverBatch([eventMessage(unresolvedEvent)])).result.retryMessages).toEqual([]);
    expect(await pruneDeadLetters(env.DB, now, RETENTION_DAYS)).toEqual({ deleted: 1, keptUnresolved: 2 });
    expect(await remaining()).toEqual([young, undecodable, runningStep].sort());
  });

  it("prunes more than one batch over several invocations, each within its bound, and then costs one read", async () => {
    const total = 2 * ROWS_PER_STATEMENT + 2_000;
    // Dead letters of events whose rows are gone: resolved events the event log has pruned.
    await insertNumbered("dead_letters", "message_id, provider, event_id, body, recorded_at", "'bulk_' || i, 'scalekit', 'evt_bulk_' || i, '{}', ?1", total, now - 40 * DAY);
    await insertNumbered("dead_letters", "message_id, provider, event_id, body, recorded_at", "'recent_' || i, 'scalekit', 'evt_recent_' || i, '{}', ?1", 10, now - DAY);

    const invocations = await pruneUntilDone((d1) => pruneDeadLetters(d1, now, RETENTION_DAYS));
    expect(invocations.map((run) => run.deleted)).toEqual([ROWS_PER_STATEMENT, ROWS_PER_STATEMENT, 2_000, 0]);
    for (const run of invocations) expect(run.roundTrips).toBeLessThanOrEqual(DEAD_LETTERS_MAX_ROUND_TRIPS);
    // Nothing left past the age: one read.
    expect(invocations.at(-1)!.roundTrips).toBe(1);
    expect(await count("dead_letters")).toBe(10);
  });

  it("is not stalled by more unresolved dead letters than one batch looks at", async () => {
    await insertNumbered("dead_letters", "message_id, body, recorded_at", "'garbage_' || i, 'not json', ?1", ROWS_PER_STATEMENT + 5, now - 50 * DAY);
    await insertNumbered("dead_letters", "message_id, provider, event_id, body, recorded_at", "'behind_' || i, 'scalekit', 'evt_behind_' || i, '{}', ?1", 7, now - 40 * DAY);

    const first = countingD1(env.DB);
    expect(await pruneDeadLetters(first.db, now, RETENTION_DAYS)).toEqual({ deleted: 0, keptUnresolved: ROWS_PER_STATEMENT });
    expect(first.roundTrips()).toBeLessThanOrEqual(DEAD_LETTERS_MAX_ROUND_TRIPS);
    // The next invocation goes on after the kept ones, where the resolved ones are.
    expect(await pruneDeadLetters(env.DB, now, RETENTION_DAYS)).toEqual({ deleted: 7, keptUnresolved: 5 });
    expect(await count("dead_letters", "message_id LIKE 'behind_%'")).toBe(0);
    expect(await count("dead_letters")).toBe(ROWS_PER_STATEMENT + 5);
  });
});
