import { createExecutionContext, createMessageBatch, env, getQueueResult } from "cloudflare:test";
import worker from "../../src/index";
import { NOTIFY_QUEUE_NAME } from "../../src/notify/message";
import type { Received, Rule } from "./app-receiver";

/** One tenant of the notification receiver (test/support/app-receiver.ts). */
export function appReceiver(name: string) {
  const base = `${env.TEST_APP_RECEIVER}/t/${name}`;
  return {
    hookUrl: `${base}/hook`,
    async reset(verifyWith: string, rules: Rule[] = []) {
      const response = await fetch(`${base}/__control`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ verifyWith, rules }) });
      if (response.status !== 204) throw new Error(`receiver reset: ${response.status}`);
    },
    async received(): Promise<Received[]> {
      const response = await fetch(`${base}/__control`);
      if (!response.ok) throw new Error(`receiver read: ${response.status}`);
      return ((await response.json()) as { received: Received[] }).received;
    },
  };
}

export interface CapturedSend {
  body: unknown;
  delaySeconds: number | undefined;
}

/** A Queue binding that keeps what is sent instead of delivering it, so a test decides when it runs. */
export function capturingQueue() {
  let pending: CapturedSend[] = [];
  const all: CapturedSend[] = [];
  const keep = (send: CapturedSend) => {
    pending.push(send);
    all.push(send);
  };
  const queue = {
    async send(body: unknown, options?: QueueSendOptions) {
      keep({ body, delaySeconds: options?.delaySeconds });
    },
    async sendBatch(messages: Iterable<MessageSendRequest>, options?: QueueSendBatchOptions) {
      for (const message of messages) keep({ body: message.body, delaySeconds: message.delaySeconds ?? options?.delaySeconds });
    },
  } as unknown as Queue;
  return {
    queue,
    all,
    /** What was sent since the last take. */
    take(): CapturedSend[] {
      const taken = pending;
      pending = [];
      return taken;
    },
  };
}

let messageSequence = 0;

export interface RoundResult {
  /** Message ids retried, with their delays. */
  retried: { body: unknown; attempts: number; delaySeconds: number | undefined }[];
  acked: number;
}

/**
 * Runs the Worker's queue() handler on one batch of the notifications queue, as Queues would
 * deliver it (`attempts` per message), and reports which messages it retried.
 */
export async function runNotificationBatch(testEnv: Env, messages: { body: unknown; attempts?: number }[], queueName = NOTIFY_QUEUE_NAME): Promise<RoundResult> {
  const batch = createMessageBatch(
    queueName,
    messages.map((message) => ({ id: `ntf_${messageSequence++}`, timestamp: new Date(), attempts: message.attempts ?? 1, body: message.body })),
  );
  const delays = new Map<string, number | undefined>();
  for (const message of batch.messages) {
    const retry = message.retry.bind(message);
    Object.defineProperty(message, "retry", {
      value: (options?: QueueRetryOptions) => {
        delays.set(message.id, options?.delaySeconds);
        retry(options);
      },
    });
  }
  const ctx = createExecutionContext();
  await worker.queue(batch, testEnv);
  const result = await getQueueResult(batch, ctx);
  const byId = new Map(batch.messages.map((message) => [message.id, message]));
  const retried = result.retryMessages.map((retry) => {
    const message = byId.get(retry.msgId)!;
    return { body: message.body, attempts: message.attempts + 1, delaySeconds: delays.get(retry.msgId) };
  });
  return { retried, acked: result.explicitAcks.length };
}

/**
 * Plays the notifications queue until it is empty: each round delivers what was sent to the
 * captured queue plus what the last round retried (delays are not waited for: time is not the
 * subject of these tests, order and outcomes are). Returns every round's retries.
 */
export async function drainNotifications(testEnv: Env, captured: ReturnType<typeof capturingQueue>, maxRounds = 30) {
  let carried: { body: unknown; attempts: number }[] = [];
  const retries: RoundResult["retried"] = [];
  for (let round = 0; round < maxRounds; round++) {
    const messages = [...captured.take().map((send) => ({ body: send.body, attempts: 1 })), ...carried];
    if (messages.length === 0) return { rounds: round, retries };
    const result = await runNotificationBatch(testEnv, messages);
    retries.push(...result.retried);
    carried = result.retried.map((retry) => ({ body: retry.body, attempts: retry.attempts }));
  }
  throw new Error(`notifications still queued after ${maxRounds} rounds`);
}

/** Every delivery row, in seq order. */
export async function deliveryRows(db: D1Database = env.DB) {
  const { results } = await db
    .prepare("SELECT seq, subject_key, status, attempts, last_status, last_error, delivered_at FROM change_deliveries ORDER BY seq")
    .all<{ seq: number; subject_key: string; status: string; attempts: number; last_status: number | null; last_error: string | null; delivered_at: number | null }>();
  return results;
}

/** Every change, in seq order. */
export async function changeRows(db: D1Database = env.DB) {
  const { results } = await db.prepare("SELECT seq, type, provider, subject FROM changes ORDER BY seq").all<{ seq: number; type: string; provider: string; subject: string }>();
  return results;
}

/** Empties the feed and its delivery state, so each test starts from no changes (seqs keep rising). */
export async function clearFeed(db: D1Database = env.DB) {
  await db.batch([db.prepare("DELETE FROM change_deliveries"), db.prepare("DELETE FROM feed_state"), db.prepare("DELETE FROM changes"), db.prepare("DELETE FROM change_erasures")]);
}
