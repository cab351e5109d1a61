import { createScheduledController, env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { enableNotifications } from "../../src/notify/operator";
import { handleScheduled, WATCHDOG_CRON } from "../../src/scheduled";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { appReceiver, capturingQueue, clearFeed, deliveryRows } from "../support/notify";

/** Retention and notifications: a change is never pruned before it was relayed to the app (hostile review, finding H). */

const V1_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
let captured: ReturnType<typeof capturingQueue>;

describe("retention while the endpoint is switched off", () => {
  beforeEach(async () => {
    captured = capturingQueue();
    await clearFeed();
  });

  it("keeps changes committed while the endpoint was disabled (410) past the window, and relays them on enable", async () => {
    const receiver = appReceiver("retention-hold");
    await receiver.reset(V1_SECRET);
    const testEnv = { ...env, APP_WEBHOOK_URL: receiver.hookUrl, APP_WEBHOOK_SECRET: V1_SECRET, NOTIFY_QUEUE: captured.queue, EVENTS_QUEUE: captured.queue } as Env;
    await env.DB.prepare("INSERT INTO feed_state (key, value, note) VALUES ('endpoint_disabled', ?, '410 from the endpoint')").bind(Date.now()).run();
    await deliverBatch([eventMessage(events.userUpserted("hold_user", Date.now()))], { env: testEnv });
    await deliverBatch([eventMessage(events.userUpserted("hold_user", Date.now() + 1, { active: false }))], { env: testEnv });
    expect(await deliveryRows()).toEqual([]); // not relayed while off
    await env.DB.exec(`UPDATE changes SET recorded_at = ${Date.now() - 40 * 24 * 3600 * 1000}`);
    // The watchdog prunes what is past the window, but not what the app has not been sent.
    await handleScheduled(createScheduledController({ cron: WATCHDOG_CRON }), testEnv);
    expect((await env.DB.prepare("SELECT count(*) AS n FROM changes").first<{ n: number }>())?.n).toBe(2);
    const result = await enableNotifications({ d1: env.DB, queue: captured.queue, now: Date.now, webhookUrl: receiver.hookUrl });
    expect(result.relayed).toBe(2);
    expect((await deliveryRows()).length).toBe(2);
    // Without notifications configured, the same changes are pruned.
    await clearFeed();
    await deliverBatch([eventMessage(events.userUpserted("plain_user", Date.now())), eventMessage(events.userUpserted("plain_user_2", Date.now()))]);
    await env.DB.exec(`UPDATE changes SET recorded_at = ${Date.now() - 40 * 24 * 3600 * 1000}`);
    await handleScheduled(createScheduledController({ cron: WATCHDOG_CRON }), { ...env, EVENTS_QUEUE: captured.queue, APP_WEBHOOK_URL: "" } as Env);
    // All but the newest, which always stays (seq is never reused: changes/retention.ts).
    expect((await env.DB.prepare("SELECT count(*) AS n FROM changes").first<{ n: number }>())?.n).toBe(1);
  });
});
