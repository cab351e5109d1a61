import { createScheduledController, env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { NOTIFY_DEAD_LETTER_QUEUE_NAME } from "../../src/notify/message";
import { relayChanges, STALLED_AFTER_MS } from "../../src/notify/relay";
import { handleScheduled, WATCHDOG_CRON } from "../../src/scheduled";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { appReceiver, capturingQueue, changeRows, clearFeed, deliveryRows, drainNotifications, runNotificationBatch } from "../support/notify";
import { callApp, failingQueue } from "../support/worker";

/**
 * Operating notifications: admin replay (one change, from a seq), the delivery list, an idempotent
 * relay, the watchdog that re-sends lost messages, the dead-letter consumer, erasure before
 * sending, and settings that are wrong. Changes come from real events through the consumer.
 */

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ADMIN = { authorization: "Bearer test-admin-token" };
const receiver = appReceiver("operator");

let captured: ReturnType<typeof capturingQueue>;
let overrides: Partial<Env>;
let testEnv: Env;
let clock = Date.now();
const at = () => (clock += 1000);

const apply = (...list: DirectoryEvent[]) => deliverBatch(list.map((event) => eventMessage(event)), { env: testEnv });
const drain = () => drainNotifications(testEnv, captured);
const admin = (path: string, init: RequestInit = {}, extra: Partial<Env> = {}) =>
  callApp(new Request(`https://sync.example.com${path}`, { ...init, headers: { ...ADMIN, ...(init.headers ?? {}) } }), { ...overrides, ...extra });
const post = (path: string, body?: unknown, extra: Partial<Env> = {}) =>
  admin(path, { method: "POST", headers: { "content-type": "application/json" }, body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body) }, extra);

describe("operating change notifications", () => {
  beforeEach(async () => {
    captured = capturingQueue();
    overrides = { APP_WEBHOOK_URL: receiver.hookUrl, APP_WEBHOOK_SECRET: SECRET, NOTIFY_QUEUE: captured.queue };
    testEnv = { ...env, ...overrides } as Env;
    await clearFeed();
    await receiver.reset(SECRET);
  });

  it("replays one change: sent again with the same webhook-id, tries counted afresh; unknown seqs are 404", async () => {
    await apply(events.userUpserted("rp_ann", at()));
    await drain();
    const [change] = await changeRows();
    const replayed = await post(`/admin/notifications/deliveries/${change!.seq}/replay`);
    expect(replayed.status).toBe(202);
    expect(await replayed.json()).toEqual({ replayed: true, seq: change!.seq });
    await drain();
    const received = await receiver.received();
    expect(received.map((request) => request.webhookId)).toEqual([`chg_${change!.seq}`, `chg_${change!.seq}`]);
    expect(received.every((request) => request.verified)).toBe(true);
    expect(await deliveryRows()).toMatchObject([{ status: "delivered", attempts: 1 }]);

    expect((await post(`/admin/notifications/deliveries/${change!.seq + 1000}/replay`)).status).toBe(404);
    const invalid = await post("/admin/notifications/deliveries/abc/replay");
    expect(invalid.status).toBe(400);
    expect(await invalid.json()).toMatchObject({ error: "invalid_query" });
  });

  it("replays every change from a seq, in batches, answering where to continue", async () => {
    await apply(events.userUpserted("rf_bo", at()), events.userUpserted("rf_cy", at()), events.userUpserted("rf_di", at()));
    await drain();
    const changes = await changeRows();
    const response = await post("/admin/notifications/replay", { from_seq: changes[1]!.seq });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ replayed: 2, next_from_seq: null });
    await drain();
    const ids = (await receiver.received()).map((request) => request.webhookId);
    expect(ids.slice(3).sort()).toEqual([`chg_${changes[1]!.seq}`, `chg_${changes[2]!.seq}`].sort());

    for (const body of [{}, { from_seq: 0 }, { from_seq: "1" }, { from_seq: 1, extra: true }, "not json"]) {
      const bad = await post("/admin/notifications/replay", body);
      expect(bad.status, JSON.stringify(body)).toBe(400);
      expect(await bad.json()).toMatchObject({ error: "invalid_body" });
    }
    const off = await post("/admin/notifications/replay", { from_seq: 1 }, { APP_WEBHOOK_URL: "" });
    expect(off.status).toBe(409);
    expect(await off.json()).toMatchObject({ error: "notifications_off" });
  });

  it("lists deliveries by seq, filtered by status and paged with after", async () => {
    await receiver.reset(SECRET, [{ status: 422, match: { subject: "ls_eve" } }]);
    await apply(events.userUpserted("ls_eve", at()), events.userUpserted("ls_flo", at()), events.userUpserted("ls_gil", at()));
    await drain();
    const changes = await changeRows();
    const page = (await (await admin("/admin/notifications/deliveries?limit=2")).json()) as { deliveries: { seq: number; status: string }[]; next_after: number | null };
    expect(page.deliveries.map((delivery) => delivery.seq)).toEqual([changes[0]!.seq, changes[1]!.seq]);
    expect(page.next_after).toBe(changes[1]!.seq);
    const rest = (await (await admin(`/admin/notifications/deliveries?limit=2&after=${page.next_after}`)).json()) as typeof page;
    expect(rest.deliveries.map((delivery) => delivery.seq)).toEqual([changes[2]!.seq]);
    expect(rest.next_after).toBeNull();
    const rejected = (await (await admin("/admin/notifications/deliveries?status=rejected")).json()) as { deliveries: Record<string, unknown>[] };
    expect(rejected.deliveries).toEqual([
      expect.objectContaining({ seq: changes[0]!.seq, webhook_id: `chg_${changes[0]!.seq}`, type: "user.created", subject: "ls_eve", status: "rejected", attempts: 1, last_status: 422, last_error: "rejected", delivered_at: null }),
    ]);
    expect((await admin("/admin/notifications/deliveries?status=lost")).status).toBe(400);
  });

  it("relaying is idempotent: racing or repeated relays make one delivery and one message per change", async () => {
    // Changes recorded while the relay cannot queue (notifications off for the consumer).
    await deliverBatch([eventMessage(events.userUpserted("id_hu", at())), eventMessage(events.userUpserted("id_ivy", at()))], { env: { ...testEnv, APP_WEBHOOK_URL: "" } as Env });
    expect(await deliveryRows()).toEqual([]);
    const deps = { d1: env.DB, queue: captured.queue, now: Date.now, webhookUrl: receiver.hookUrl };
    const [first, second] = await Promise.all([relayChanges(deps), relayChanges(deps)]);
    expect(first.relayed + second.relayed).toBe(2);
    expect((await relayChanges(deps)).relayed).toBe(0);
    expect(await deliveryRows()).toHaveLength(2);
    expect(captured.all.map((send) => (send.body as { seq: number }).seq).sort()).toEqual((await changeRows()).map((change) => change.seq).sort());
    // A no-op (the same state again) records no change, so nothing more is relayed.
    await apply(events.userUpserted("id_hu", at()));
    expect((await relayChanges(deps)).relayed).toBe(0);
  });

  it("the watchdog re-sends a delivery whose message was lost, not one that waits its turn", async () => {
    // The relay's send fails: the rows are committed, pending, with no message.
    await deliverBatch([eventMessage(events.userUpserted("wd_jo", at())), eventMessage(events.userUpserted("wd_kim", at()))], { env: { ...testEnv, NOTIFY_QUEUE: failingQueue } as Env });
    await deliverBatch([eventMessage(events.userUpserted("wd_jo", at(), { firstName: "Jo" }))], { env: { ...testEnv, NOTIFY_QUEUE: failingQueue } as Env });
    const changes = await changeRows();
    expect(await deliveryRows()).toHaveLength(3);
    expect(captured.all).toEqual([]);

    // Not yet stalled: nothing re-sent.
    await handleScheduled(createScheduledController({ cron: WATCHDOG_CRON }), testEnv);
    expect(captured.all).toEqual([]);
    // Later: the head of each subject is re-sent; wd_jo's second change waits for its first.
    // (The rows are made older rather than the watchdog's clock later: the consumer that receives
    // the re-sent copies runs on the real clock, and a copy due in the future is a duplicate.)
    await env.DB.prepare("UPDATE change_deliveries SET updated_at = updated_at - ?1, next_attempt_at = next_attempt_at - ?1").bind(STALLED_AFTER_MS + 60_000).run();
    await handleScheduled(createScheduledController({ cron: WATCHDOG_CRON }), testEnv);
    expect(captured.all.map((send) => (send.body as { seq: number }).seq).sort()).toEqual([changes[0]!.seq, changes[1]!.seq].sort());
    await drain();
    expect((await deliveryRows()).map((row) => row.status)).toEqual(["delivered", "delivered", "delivered"]);
    expect((await receiver.received()).filter((request) => request.body!.subject === "wd_jo").map((request) => request.body!.type)).toEqual(["user.created", "user.updated"]);
  });

  it("a dead-lettered notification marks its delivery failed and lets the subject's next change go", async () => {
    await apply(events.userUpserted("dl_lu", at()));
    await apply(events.userUpserted("dl_lu", at(), { firstName: "Lu" }));
    const changes = await changeRows();
    captured.take();
    await runNotificationBatch(testEnv, [{ body: { v: 1, kind: "notify", seq: changes[0]!.seq } }, { body: "garbage" }], NOTIFY_DEAD_LETTER_QUEUE_NAME);
    expect((await deliveryRows()).map((row) => [row.status, row.last_error])).toEqual([
      ["failed", "dead_lettered"],
      ["pending", null],
    ]);
    expect(captured.take().map((send) => send.body)).toEqual([{ v: 1, kind: "notify", seq: changes[1]!.seq }]);
  });

  it("an erasure before sending reaches the pending notification: only ids go out", async () => {
    await apply(events.userUpserted("er_max", at(), { email: "max@example.com" }));
    await apply({ provider: "scalekit", eventId: `er_${at()}`, occurredAt: at(), sourceType: "test", kind: "user_forgotten", externalId: "er_max" });
    await drain();
    const received = await receiver.received();
    expect(received.map((request) => request.body!.type)).toEqual(["user.created", "user.forgotten"]);
    expect(received[0]!.body!.data).toEqual({ user: { id: "er_max" } });
    expect(JSON.stringify(received)).not.toContain("max@example.com");
  });

  it("invalid settings are named by /healthz, never shown; a message meanwhile stays pending", async () => {
    const health = async (extra: Partial<Env>) => {
      const response = await callApp(new Request("https://sync.example.com/healthz"), extra);
      return { status: response.status, text: await response.text() };
    };
    const plainHttp = await health({ APP_WEBHOOK_URL: "http://app.example.com/hooks?token=s3cr3t", APP_WEBHOOK_SECRET: SECRET });
    expect(plainHttp.status).toBe(503);
    expect(JSON.parse(plainHttp.text).invalid_settings).toContainEqual({ setting: "APP_WEBHOOK_URL", problem: "custom" });
    expect(plainHttp.text).not.toContain("s3cr3t");
    const unsigned = await health({ APP_WEBHOOK_URL: "https://app.example.com/hooks", APP_WEBHOOK_SECRET: "" });
    expect(JSON.parse(unsigned.text).invalid_settings).toContainEqual({ setting: "APP_WEBHOOK_SECRET", problem: "custom" });
    const badSecret = await health({ APP_WEBHOOK_URL: "https://app.example.com/hooks", APP_WEBHOOK_SECRET: "whsec_short" });
    expect(JSON.parse(badSecret.text).invalid_settings).toContainEqual({ setting: "APP_WEBHOOK_SECRET", problem: "custom" });
    expect(badSecret.text).not.toContain("whsec_short");
    for (const url of ["http://127.0.0.1:9/hook", "http://localhost/hook", "http://[::1]:8080/hook", "https://app.example.com/hook"]) {
      expect((await health({ APP_WEBHOOK_URL: url, APP_WEBHOOK_SECRET: SECRET })).status, url).toBe(200);
    }

    await apply(events.userUpserted("cfg_ned", at()));
    const [change] = await changeRows();
    await runNotificationBatch({ ...testEnv, APP_WEBHOOK_SECRET: "" } as Env, [{ body: { v: 1, kind: "notify", seq: change!.seq } }]);
    expect(await deliveryRows()).toMatchObject([{ status: "pending", attempts: 0 }]);
    expect(await receiver.received()).toEqual([]);
  });
});
