import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import worker from "../../src/index";

let messageSequence = 0;

/**
 * Runs the Worker's queue() handler on `bodies` as one batch, the way Queues would deliver it.
 * `retryDelays` records each retry's delaySeconds, which @cloudflare/vitest-plugin 1.5's
 * getQueueResult does not report.
 */
export async function deliverBatch(bodies: unknown[], options: { queue?: string; attempts?: number; env?: Env } = {}) {
  const batch = createMessageBatch(
    options.queue ?? "directory-events",
    bodies.map((body) => ({ id: `msg_${messageSequence++}`, timestamp: new Date(), attempts: options.attempts ?? 1, body })),
  );
  const retryDelays = new Map<string, number | undefined>();
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    Object.defineProperty(message, "retry", {
      value: (retryOptions?: QueueRetryOptions) => {
        retryDelays.set(message.id, retryOptions?.delaySeconds);
        retry(retryOptions);
      },
    });
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, options.env ?? env);
  const result = await getQueueResult(batch, ctx);
  return { batch, result, retryDelays, ids: batch.messages.map((message) => message.id) };
}
