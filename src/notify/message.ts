import * as z from "zod";

/** Queue names in wrangler.toml; the queue() entry point routes batches by them. */
export const NOTIFY_QUEUE_NAME = "directory-notifications";
export const NOTIFY_DEAD_LETTER_QUEUE_NAME = "directory-notifications-dlq";

/**
 * "Deliver change `seq` to the app." Only a pointer: the change and its delivery state are read
 * from D1 when the message is handled, so a duplicate, late or replayed message cannot send stale
 * data or skip the per-subject order. Versioned like src/queue-message.ts.
 */
export const notifyMessage = z.object({ v: z.literal(1), kind: z.literal("notify"), seq: z.number().int().positive() });
export type NotifyMessage = z.infer<typeof notifyMessage>;

/** sendBatch takes at most 100 messages. */
const SEND_BATCH_MAX = 100;

/** One message per seq, in as few Queue calls as its limits allow. */
export async function enqueueNotifications(queue: Queue, seqs: number[], delaySeconds?: number): Promise<void> {
  for (let i = 0; i < seqs.length; i += SEND_BATCH_MAX) {
    const messages = seqs.slice(i, i + SEND_BATCH_MAX).map((seq) => ({ body: { v: 1, kind: "notify", seq } satisfies NotifyMessage, contentType: "json" as const }));
    await queue.sendBatch(messages, delaySeconds === undefined ? undefined : { delaySeconds });
  }
}
