import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { signInConsole } from "../support/console";
import { queueMessage } from "../../src/queue-message";
import { eventMessage, events } from "../support/directory";

/**
 * Review of issue 15: "Replay selected" on the dead-letters page takes up to 100 dead letters in one
 * POST. Each Queue call is a subrequest, and the Workers Free plan allows 50 per request (the budget
 * the rest of the Worker keeps to, README "Limits"): 100 small dead letters must not cost 100 calls.
 */

function countingQueue() {
  const sent: unknown[] = [];
  let calls = 0;
  const queue = {
    async send(body: unknown) {
      calls++;
      sent.push(body);
    },
    async sendBatch(messages: Iterable<MessageSendRequest>) {
      calls++;
      const bodies = [...messages].map((message) => message.body);
      if (bodies.length > 100) throw new Error("sendBatch takes at most 100 messages");
      sent.push(...bodies);
    },
  } as unknown as Queue;
  return { queue, sent, calls: () => calls };
}

describe("replaying many dead letters from the console", () => {
  it("sends 100 small dead letters in as few Queue calls as its batch limits allow, each exactly as stored", async () => {
    const messages = Array.from({ length: 100 }, (_, i) => eventMessage(events.userUpserted(`dl_batch_${i}`, Date.parse("2026-06-03T00:00:00Z"), {}, `evt_dl_batch_${i}`)));
    const ids = messages.map((_, i) => `msg_review_batch_${String(i).padStart(3, "0")}`);
    await env.DB.batch(
      messages.map((message, i) =>
        env.DB.prepare("INSERT INTO dead_letters (message_id, provider, event_id, body, recorded_at) VALUES (?1, 'scalekit', ?2, ?3, 1)").bind(ids[i]!, message.event.eventId, JSON.stringify(message)),
      ),
    );
    const counting = countingQueue();
    const admin = await signInConsole({ overrides: { EVENTS_QUEUE: counting.queue } });
    const replay = await admin.post("/admin/console/dead-letters/replay", { id: ids });
    expect(replay.status).toBe(303);
    expect(replay.headers.get("location")).toBe("/admin/console/dead-letters?notice=replayed-100");
    expect(new Set(counting.sent.map((body) => JSON.stringify(body)))).toEqual(new Set(messages.map((message) => JSON.stringify(queueMessage.parse(JSON.parse(JSON.stringify(message)))))));
    // A few hundred bytes each: one sendBatch call holds them all.
    expect(counting.calls()).toBeLessThanOrEqual(2);
  });
});
