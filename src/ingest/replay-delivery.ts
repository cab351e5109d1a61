import { keyOf, subjectOf } from "../consumer/event-log";
import { noteReplayed, noteStillInvalid, restoreDelivery } from "../ledger/quarantine";
import type { ProviderAdapter } from "../providers/types";
import { sendQueueMessages } from "../queue-message";
import { log } from "../log";
import { normalizeDelivery } from "./normalize";

/**
 * Re-runs ingress on a quarantined or rejected delivery with the adapter deployed now (after a
 * fix): the stored bytes, webhook id, signed time and headers, received at its original time. What
 * now parses is enqueued exactly as ingress would enqueue it; the consumer's exactly-once check
 * still decides whether it has any effect.
 */
export type DeliveryReplay =
  | { ok: true; outcome: "event" | "ignored"; eventIds: string[] }
  | { ok: false; reason: "not_replayable" }
  /** The Queue refused the messages: nothing was marked, so replaying again is safe. */
  | { ok: false; reason: "queue_unavailable" }
  | { ok: false; reason: "still_invalid"; issues: string[] };

export interface UnparsedEventRow {
  provider: string;
  eventId: string;
  delivery: string | null;
  receivedAt: number;
}

export async function replayDelivery(
  deps: { d1: D1Database; queue: Queue; now: () => number },
  adapter: ProviderAdapter,
  row: UnparsedEventRow,
): Promise<DeliveryReplay> {
  const delivery = row.delivery === null ? null : restoreDelivery(row.delivery, row.receivedAt);
  if (!delivery) return { ok: false, reason: "not_replayable" };
  const key = { provider: row.provider, eventId: row.eventId };

  const normalized = normalizeDelivery(adapter, delivery);
  if (normalized.outcome !== "ready") {
    const issues = normalized.outcome === "not_json" ? ["(body): invalid_json"] : normalized.issues;
    await noteStillInvalid(deps.d1, key, issues, deps.now());
    return { ok: false, reason: "still_invalid", issues };
  }
  try {
    await sendQueueMessages(deps.queue, normalized.messages);
  } catch (error) {
    log("queue.send_failed", { provider: row.provider, eventId: row.eventId, error: String(error) });
    return { ok: false, reason: "queue_unavailable" };
  }
  const eventIds = normalized.messages.map((message) => keyOf(message).eventId);
  const [first] = normalized.messages;
  await noteReplayed(deps.d1, key, { eventIds, subject: first ? subjectOf(first) : null }, deps.now());
  return { ok: true, outcome: normalized.result.outcome, eventIds };
}
