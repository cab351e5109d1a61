import { queueMessage } from "../queue-message";

/**
 * Replays a stored queue message: it goes back on the Queue exactly as first enqueued, so the
 * consumer's exactly-once check (processed_events) still decides whether it has any effect.
 */
export type ReplayResult = { ok: true } | { ok: false; reason: "not_replayable" | "undecodable" };

export async function replayStoredMessage(queue: Queue, stored: string | null): Promise<ReplayResult> {
  if (stored === null) return { ok: false, reason: "not_replayable" };
  let body: unknown;
  try {
    body = JSON.parse(stored);
  } catch {
    return { ok: false, reason: "undecodable" };
  }
  const message = queueMessage.safeParse(body);
  if (!message.success) return { ok: false, reason: "undecodable" };
  await queue.send(message.data, { contentType: "json" });
  return { ok: true };
}

/**
 * Releases a held event: its stored message goes back on the Queue marked `released`, so the
 * consumer acts on the event's word (after reading the upstream again) and past the destructive
 * guard. Only `held` events can be released; everything else is replayed or already final.
 */
export async function releaseHeldMessage(queue: Queue, stored: string | null): Promise<ReplayResult> {
  if (stored === null) return { ok: false, reason: "not_replayable" };
  let body: unknown;
  try {
    body = JSON.parse(stored);
  } catch {
    return { ok: false, reason: "undecodable" };
  }
  const message = queueMessage.safeParse(body);
  if (!message.success || message.data.kind !== "event") return { ok: false, reason: "undecodable" };
  await queue.send({ ...message.data, released: true }, { contentType: "json" });
  return { ok: true };
}
