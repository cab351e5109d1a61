import { SEND_BATCH_BYTES, SEND_BATCH_MESSAGES, SEND_BATCH_OVERHEAD_PER_MESSAGE } from "../import/limits";
import { messageBytes, queueMessage, type QueueMessage } from "../queue-message";

/**
 * Replays a stored queue message: it goes back on the Queue exactly as first enqueued, so the
 * consumer's exactly-once check (event_log) still decides whether it has any effect.
 */
export type ReplayResult = { ok: true } | { ok: false; reason: "not_replayable" | "undecodable" };

type Decoded = { ok: true; message: QueueMessage } | { ok: false; reason: "not_replayable" | "undecodable" };

/** A stored queue message, decoded with the current schema. */
function decodeStored(stored: string | null): Decoded {
  if (stored === null) return { ok: false, reason: "not_replayable" };
  try {
    const message = queueMessage.safeParse(JSON.parse(stored));
    return message.success ? { ok: true, message: message.data } : { ok: false, reason: "undecodable" };
  } catch {
    return { ok: false, reason: "undecodable" };
  }
}

export async function replayStoredMessage(queue: Queue, stored: string | null): Promise<ReplayResult> {
  const decoded = decodeStored(stored);
  if (!decoded.ok) return decoded;
  await queue.send(decoded.message, { contentType: "json" });
  return { ok: true };
}

/**
 * Several stored messages replayed at once (the console's "Replay selected"), each as
 * replayStoredMessage would, in as few Queue calls as sendBatch's limits allow (100 messages,
 * 256 KB): every call is a subrequest, and one request may make only 50 on the Workers Free plan.
 */
export async function replayStoredMessages(queue: Queue, stored: (string | null)[]): Promise<ReplayResult[]> {
  const decoded = stored.map(decodeStored);
  const messages = decoded.flatMap((result) => (result.ok ? [result.message] : []));
  if (messages.length === 1) {
    await queue.send(messages[0]!, { contentType: "json" });
  } else {
    let call: QueueMessage[] = [];
    let bytes = 0;
    const flush = async () => {
      if (call.length > 0) await queue.sendBatch(call.map((body) => ({ body, contentType: "json" as const })));
      call = [];
      bytes = 0;
    };
    for (const message of messages) {
      const cost = messageBytes(message) + SEND_BATCH_OVERHEAD_PER_MESSAGE;
      if (call.length === SEND_BATCH_MESSAGES || bytes + cost > SEND_BATCH_BYTES) await flush();
      call.push(message);
      bytes += cost;
    }
    await flush();
  }
  return decoded.map((result) => (result.ok ? { ok: true } : result));
}

/**
 * Releases a held event: its stored message goes back on the Queue marked `released`, so the
 * consumer acts on the event's word (after reading the upstream again) and past the destructive
 * guard. Only `held` events can be released; everything else is replayed or already final.
 */
export async function releaseHeldMessage(queue: Queue, stored: string | null): Promise<ReplayResult> {
  const decoded = decodeStored(stored);
  if (!decoded.ok) return decoded;
  if (decoded.message.kind !== "event") return { ok: false, reason: "undecodable" };
  await queue.send({ ...decoded.message, released: true }, { contentType: "json" });
  return { ok: true };
}
