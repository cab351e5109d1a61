import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { hourOf } from "../../src/consumer/pipeline-hourly";
import { QUEUE_MESSAGE_VERSION } from "../../src/queue-message";
import { deliverBatch } from "../support/consumer";
import { countingD1 } from "../support/d1";
import { eventMessage, events } from "../support/directory";
import { scalekitEvent, scalekitUser } from "../support/scalekit";
import { signedHeaders } from "../support/sign";
import { callApp } from "../support/worker";

/**
 * The hourly counters behind the overview's chart (pipeline_hourly, migration 0012), written by the
 * real consumer: one row per status per batch, in the batch's own D1 transaction, each event counted
 * once per status it enters.
 */

const counters = async () =>
  Object.fromEntries(
    (await env.DB.prepare("SELECT status, sum(events) AS n FROM pipeline_hourly GROUP BY status ORDER BY status").all<{ status: string; n: number }>()).results.map((row) => [
      row.status,
      row.n,
    ]),
  );

const ignoredMessage = (eventId: string) => ({
  v: QUEUE_MESSAGE_VERSION,
  kind: "ignored" as const,
  provider: "scalekit",
  eventId,
  sourceType: "organization.created",
  reason: "unsupported_event_type",
  receivedAt: Date.now(),
});

/** A D1 binding whose batches that write users fail: the event's apply fails, its failure is recorded. */
const usersDown = () => countingD1(env.DB, (statements) => (statements.some((sql) => sql.includes("INSERT INTO users")) ? new Error("D1_ERROR: simulated outage") : undefined));

describe("pipeline_hourly", () => {
  beforeEach(async () => {
    await env.DB.exec("DELETE FROM pipeline_hourly; DELETE FROM event_log; DELETE FROM dead_letters; DELETE FROM users;");
  });

  it("a batch adds its applied and ignored events in one statement, one row per status, in the current hour", async () => {
    const d1 = countingD1(env.DB);
    const batch = [
      ...Array.from({ length: 12 }, (_, i) => eventMessage(events.userUpserted(`ph_user_${i}`, 1_000))),
      ignoredMessage("ph_ignored_1"),
      ignoredMessage("ph_ignored_2"),
    ];
    const { result } = await deliverBatch(batch, { env: { ...env, DB: d1.db } });
    expect(result.retryMessages).toEqual([]);
    expect(await counters()).toEqual({ applied: 12, ignored: 2 });
    const rows = (await env.DB.prepare("SELECT hour, status, events FROM pipeline_hourly ORDER BY status").all()).results;
    expect(rows).toEqual([
      { hour: hourOf(Date.now()), status: "applied", events: 12 },
      { hour: hourOf(Date.now()), status: "ignored", events: 2 },
    ]);
    // Still two round trips per batch (the dedupe read and the atomic batch): the counters ride in the batch.
    expect(d1.roundTrips()).toBe(2);

    // The same batch again: applied events are dropped as duplicates before anything is written,
    // and the ignored ones are re-recorded without being counted again.
    await deliverBatch(batch);
    expect(await counters()).toEqual({ applied: 12, ignored: 2 });
  });

  it("a failed event counts once as failed, however many attempts fail, then once as applied; the failed batch left no count behind", async () => {
    const message = eventMessage(events.userUpserted("ph_flaky", 1_000));
    for (const attempts of [1, 2, 3]) {
      const { result } = await deliverBatch([message], { attempts, env: { ...env, DB: usersDown().db } });
      expect(result.retryMessages).toHaveLength(1);
    }
    expect(await env.DB.prepare("SELECT status, attempts FROM event_log WHERE event_id = ?").bind(message.event.eventId).first()).toEqual({ status: "failed", attempts: 3 });
    expect(await counters()).toEqual({ failed: 1 });

    const { result } = await deliverBatch([message], { attempts: 4 });
    expect(result.retryMessages).toEqual([]);
    expect(await counters()).toEqual({ applied: 1, failed: 1 });
  });

  it("a dead letter counts its event once as dead_lettered; the same event dead-lettered again is not counted twice", async () => {
    const message = eventMessage(events.userUpserted("ph_dead", 1_000));
    await deliverBatch([message], { env: { ...env, DB: usersDown().db } });
    await deliverBatch([message], { queue: "directory-events-dlq" });
    expect(await env.DB.prepare("SELECT status FROM event_log WHERE event_id = ?").bind(message.event.eventId).first()).toEqual({ status: "dead_lettered" });
    expect(await counters()).toEqual({ dead_lettered: 1, failed: 1 });
    // A second copy of the message given up on (another message id, same event).
    await deliverBatch([message], { queue: "directory-events-dlq" });
    expect(await env.DB.prepare("SELECT count(*) AS n FROM dead_letters").first()).toEqual({ n: 2 });
    expect(await counters()).toEqual({ dead_lettered: 1, failed: 1 });
  });

  it("a quarantined delivery is counted at ingress, once: its redeliveries are not counted again", async () => {
    // occurred_at without a zone offset: authentic, does not parse (quarantine.integration.test.ts).
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: "ph_quarantined" }), { id: "evt_ph_quarantined", occurred_at: "2026-01-01T10:00:00" }));
    const headers = await signedHeaders(body, { id: "msg_ph_quarantined" });
    for (let i = 0; i < 3; i++) {
      const response = await callApp(new Request("https://sync.example.com/webhooks/scalekit", { method: "POST", body, headers }));
      expect(response.status).toBe(202);
    }
    expect(await env.DB.prepare("SELECT status FROM event_log WHERE event_id = 'evt_ph_quarantined'").first()).toEqual({ status: "quarantined" });
    expect(await counters()).toEqual({ quarantined: 1 });
  });

  it("held by the destructive guard: counted as held, in the same batch as the applied ones", async () => {
    // Twenty-one users, then all deleted in one batch: past DESTRUCTIVE_GUARD_MIN (20) for this window.
    const users = Array.from({ length: 25 }, (_, i) => `ph_guard_${i}`);
    await deliverBatch(users.map((id) => eventMessage(events.userUpserted(id, 1_000))));
    await deliverBatch(users.map((id) => eventMessage(events.userDeleted(id, 2_000))));
    const statuses = (await env.DB.prepare("SELECT status, count(*) AS n FROM event_log GROUP BY status ORDER BY status").all<{ status: string; n: number }>()).results;
    const held = statuses.find((row) => row.status === "held")?.n ?? 0;
    const applied = statuses.find((row) => row.status === "applied")?.n ?? 0;
    expect(held).toBeGreaterThan(0);
    expect(await counters()).toEqual({ applied, held });
  });
});
