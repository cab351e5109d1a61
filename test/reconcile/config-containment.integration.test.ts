import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { loadRun } from "../../src/reconcile/runs";
import { startOrResumeRun } from "../../src/reconcile/start";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { capturingQueue } from "../support/reconcile";

describe("an invalid reconcile setting stays contained", () => {
  it("retries the reconcile step, and still applies the event delivered in the same batch", async () => {
    const captured = capturingQueue();
    const { run } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now: Date.now }, "firstup", "test");
    const step = captured.take()!;
    const event = eventMessage(events.userUpserted("contained_user", Date.now(), { email: "contained@example.com" }));

    const { result, ids } = await deliverBatch([event, step], { env: { ...env, RECONCILE_PAGE_SIZE: "abc" } });
    expect(result.explicitAcks).toEqual([ids[0]]);
    expect(result.retryMessages.map((message) => message.msgId)).toEqual([ids[1]]);
    const user = await env.DB.prepare("SELECT email FROM users WHERE provider = 'scalekit' AND external_id = 'contained_user'").first<{ email: string }>();
    expect(user?.email).toBe("contained@example.com");
    // The run did not move, and was not failed: once the setting is fixed, the retry carries on.
    expect(await loadRun(env.DB, run.id)).toMatchObject({ status: "running", phase: "scan", pages: 0 });
  });
});
