import { log } from "../log";
import { loadDelivery } from "./deliveries";
import { settle } from "./deliver";
import { notifyMessage } from "./message";

const RETRY_SECONDS = 60;

/**
 * The notifications dead-letter queue's consumer. A message lands here only when its handling
 * crashed max_retries times (HTTP failures are counted in D1 and end as `failed` before that).
 * Its delivery, if still pending, is marked `failed` with `dead_lettered`, so the subject's later
 * changes are not held behind it forever; an operator can replay it. Reads no configuration.
 */
export async function recordNotifyDeadLetters(batch: MessageBatch<unknown>, deps: { d1: D1Database; queue: Queue; now: () => number }): Promise<void> {
  for (const message of batch.messages) {
    const parsed = notifyMessage.safeParse(message.body);
    if (!parsed.success) {
      // Nothing to mark: it names no delivery this version knows. Replay from a seq covers it.
      log("notify.dead_letter_undecodable", { messageId: message.id });
      message.ack();
      continue;
    }
    try {
      const delivery = await loadDelivery(deps.d1, parsed.data.seq);
      if (delivery?.status === "pending") {
        await settle(deps, delivery, { kind: "abandoned", error: "dead_lettered" });
        log("notify.dead_lettered", { seq: delivery.seq });
      }
      message.ack();
    } catch (error) {
      log("notify.dead_letter_not_recorded", { messageId: message.id, error: String(error) });
      message.retry({ delaySeconds: RETRY_SECONDS });
    }
  }
}
