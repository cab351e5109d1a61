import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { createApp, type AppOptions } from "../../src/http/app";

/** Forwards to the real Queue binding and remembers what was sent. */
export function recordingQueue(real: Queue = env.EVENTS_QUEUE) {
  const sent: unknown[] = [];
  const queue = {
    async send(body: unknown, options?: QueueSendOptions) {
      sent.push(body);
      return real.send(body, options);
    },
    async sendBatch(messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) {
      for (const message of messages) sent.push(message.body);
      return real.sendBatch(messages, options);
    },
    async metrics() {
      return real.metrics();
    },
  } as unknown as Queue;
  return { queue, sent };
}

export const failingQueue = {
  async send() {
    throw new Error("Queue send failed: service unavailable");
  },
  async sendBatch() {
    throw new Error("Queue send failed: service unavailable");
  },
} as unknown as Queue;

/**
 * Calls the app the way the runtime does, with an injectable clock and env overrides, and waits
 * for waitUntil work (the KV write) so tests observe its effect.
 */
export async function callApp(request: Request, overrides: Partial<Env> = {}, options: AppOptions = {}) {
  const ctx = createExecutionContext();
  const response = await createApp(options).fetch(request, { ...env, ...overrides }, ctx);
  await waitOnExecutionContext(ctx);
  return response;
}
