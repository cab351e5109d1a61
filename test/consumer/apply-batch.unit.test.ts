import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { QUEUE_MESSAGE_VERSION } from "../../src/queue-message";
import { deliverBatch } from "../support/consumer";
import { countingD1 } from "../support/d1";
import { directorySnapshot, eventMessage, events, mixedBatch } from "../support/directory";

const withDb = (db: D1Database, extra: Partial<Env> = {}): Env => ({ ...env, DB: db, ...extra });

async function eventLogRow(eventId: string) {
  return env.DB.prepare("SELECT status, reason, error, attempts, message FROM event_log WHERE provider = 'scalekit' AND event_id = ?")
    .bind(eventId)
    .first<{ status: string; reason: string | null; error: string | null; attempts: number; message: string | null }>();
}

describe("queue consumer", () => {
  beforeEach(async () => {
    await env.DB.exec("DELETE FROM users; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM membership_resets; DELETE FROM work_claims; DELETE FROM event_log; DELETE FROM dead_letters;");
  });

  it("applies a mixed 100-event batch in three D1 round trips and acks every message", async () => {
    const d1 = countingD1(env.DB);
    const batch = mixedBatch("a");
    expect(batch).toHaveLength(100);
    const { result, ids } = await deliverBatch(batch.map((event) => eventMessage(event)), { env: withDb(d1.db) });

    // Dedupe read, the destructive guard's read of the deleted users' current state, the write batch.
    expect(d1.roundTrips()).toBe(3);
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    expect(result.retryMessages).toEqual([]);

    const state = await directorySnapshot(env.DB);
    expect(state.users).toHaveLength(40);
    expect(state.users.filter((user) => user.first_name === "Renamed")).toHaveLength(20);
    expect(state.users.filter((user) => user.deleted === 1 && user.active === 0)).toHaveLength(10);
    expect(state.groups.filter((group) => group.deleted === 1).map((group) => group.external_id)).toEqual(["ag8", "ag9"]);
    expect(state.groups.find((group) => group.external_id === "ag0")?.name).toBe("Renamed 0");
    // 30 adds, minus 5 removals, minus 6 in deleted groups 8 and 9; deleted users u30+ were never members.
    expect(state.members).toHaveLength(30 - 5 - 6);
    const processed = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE status = 'applied'").first<{ n: number }>();
    expect(processed?.n).toBe(100);
    expect(await eventLogRow(batch[0]!.eventId)).toMatchObject({ status: "applied", attempts: 1, message: null });
  });

  it("redelivering an applied batch changes nothing: one read, no writes, all acked", async () => {
    const batch = mixedBatch("b").map((event) => eventMessage(event));
    await deliverBatch(batch);
    const before = await directorySnapshot(env.DB);
    const updatedBefore = await env.DB.prepare("SELECT max(updated_at) AS t FROM users").first();

    const d1 = countingD1(env.DB);
    const { result, ids } = await deliverBatch(batch, { env: withDb(d1.db), attempts: 2 });
    expect(d1.roundTrips()).toBe(1);
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    expect(await directorySnapshot(env.DB)).toEqual(before);
    expect(await env.DB.prepare("SELECT max(updated_at) AS t FROM users").first()).toEqual(updatedBefore);
  });

  it("applies an event duplicated inside one batch once and acks both copies", async () => {
    const event = events.userUpserted("dup", 1000);
    const { result, ids } = await deliverBatch([eventMessage(event), eventMessage(event)]);
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());
    expect((await directorySnapshot(env.DB)).users).toHaveLength(1);
  });

  it("two consumers racing on the same batch apply it once, and both ack", async () => {
    const batch = [events.userUpserted("race1", 1000), events.members("grace", 1001, ["race1"])].map((event) => eventMessage(event));
    const [first, second] = await Promise.all([deliverBatch(batch), deliverBatch(batch)]);
    expect(first.result.retryMessages).toEqual([]);
    expect(second.result.retryMessages).toEqual([]);
    expect(first.result.explicitAcks).toHaveLength(2);
    expect(second.result.explicitAcks).toHaveLength(2);
    const processed = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE status = 'applied'").first<{ n: number }>();
    expect(processed?.n).toBe(2);
  });

  it("logs ignored events with their reason", async () => {
    const ignored = { v: QUEUE_MESSAGE_VERSION, kind: "ignored", receivedAt: Date.now(), provider: "scalekit", eventId: "evt_ign", sourceType: "organization.directory.directory_enabled", reason: "unsupported_event_type" };
    const { result } = await deliverBatch([ignored]);
    expect(result.explicitAcks).toHaveLength(1);
    expect(await eventLogRow("evt_ign")).toMatchObject({ status: "ignored", reason: "unsupported_event_type" });
  });

  it("isolates a failing event: the rest of the batch is applied, the failure is retried with backoff and logged", async () => {
    const good = [events.userUpserted("ok1", 1000), events.userUpserted("ok2", 1001)];
    const poison = events.userUpserted("poison", 1002);
    const d1 = countingD1(env.DB, (statements) => (statements.some((sql) => sql.includes("INSERT INTO users") && sql.includes("poison")) ? new Error("D1_ERROR: injected failure") : undefined));
    const { result, ids, retryDelays } = await deliverBatch([...good, poison].map((event) => eventMessage(event)), {
      env: withDb(d1.db, { RETRY_BASE_DELAY_SECONDS: "10" }),
      attempts: 3,
    });

    expect(result.explicitAcks.sort()).toEqual([ids[0], ids[1]].sort());
    expect(result.retryMessages).toHaveLength(1);
    expect(result.retryMessages[0]?.msgId).toBe(ids[2]);
    // attempts 3 → ceiling 10·2² = 40 s, jittered into [20, 40].
    expect(retryDelays.get(ids[2]!)).toBeGreaterThanOrEqual(20);
    expect(retryDelays.get(ids[2]!)).toBeLessThanOrEqual(40);
    expect((await directorySnapshot(env.DB)).users.map((user) => user.external_id)).toEqual(["ok1", "ok2"]);
    const logged = await eventLogRow(poison.eventId);
    expect(logged).toMatchObject({ status: "failed", attempts: 3 });
    expect(logged?.error).toContain("injected failure");
    expect(JSON.parse(logged!.message!)).toMatchObject({ event: { eventId: poison.eventId } });
  });

  it("a batch-wide D1 outage retries every message and leaves no partial state", async () => {
    const d1 = countingD1(env.DB, () => new Error("D1_ERROR: database unavailable"));
    const { result } = await deliverBatch(mixedBatch("c").slice(0, 10).map((event) => eventMessage(event)), { env: withDb(d1.db) });
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(10);
    expect((await directorySnapshot(env.DB)).users).toEqual([]);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE status = 'applied'").first<{ n: number }>())?.n).toBe(0);
  });

  it("retries a message it cannot decode (it may come from a newer deploy) instead of dropping it", async () => {
    const { result, ids } = await deliverBatch([{ v: 99, kind: "from_the_future" }, "not even an object"]);
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages.map((retry) => retry.msgId).sort()).toEqual([...ids].sort());
  });
});

describe("dead-letter consumer", () => {
  it("records dead letters in D1, marks known events dead_lettered, and keeps undecodable bodies verbatim", async () => {
    const event = events.userUpserted("dead", 1000);
    const poison = { v: 99, kind: "from_the_future" };
    const message = eventMessage(event);
    const { result, ids } = await deliverBatch([message, poison], { queue: "directory-events-dlq" });
    expect(result.explicitAcks.sort()).toEqual([...ids].sort());

    const rows = await env.DB.prepare("SELECT message_id, provider, event_id, body FROM dead_letters ORDER BY message_id").all();
    expect(rows.results).toEqual([
      { message_id: ids[0], provider: "scalekit", event_id: event.eventId, body: JSON.stringify(message) },
      { message_id: ids[1], provider: null, event_id: null, body: JSON.stringify(poison) },
    ]);
    expect(await eventLogRow(event.eventId)).toMatchObject({ status: "dead_lettered", error: "max_retries_exceeded" });
  });

  it("keeps the main consumer's last error and attempt count when an event is dead-lettered", async () => {
    const event = events.userUpserted("poisoned", 1000);
    const failing = countingD1(env.DB, (statements) => (statements.some((sql) => sql.includes("INSERT INTO users")) ? new Error("D1_ERROR: bad row") : undefined));
    await deliverBatch([eventMessage(event)], { env: withDb(failing.db), attempts: 3 });
    await deliverBatch([eventMessage(event)], { queue: "directory-events-dlq" });
    expect(await eventLogRow(event.eventId)).toMatchObject({ status: "dead_lettered", attempts: 3, error: expect.stringContaining("bad row") });
  });

  it("retries a dead letter it could not record rather than dropping it", async () => {
    const d1 = countingD1(env.DB, () => new Error("D1_ERROR: database unavailable"));
    const { result } = await deliverBatch([eventMessage(events.userUpserted("x", 1))], { queue: "directory-events-dlq", env: withDb(d1.db) });
    expect(result.explicitAcks).toEqual([]);
    expect(result.retryMessages).toHaveLength(1);
  });
});
