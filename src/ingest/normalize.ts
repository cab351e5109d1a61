import type { AdapterResult, ProviderAdapter, ProviderDelivery } from "../providers/types";
import { QUEUE_MESSAGE_VERSION, toQueueMessages, type DeliveryMessage } from "../queue-message";

/**
 * An authenticated delivery → what to do with it. Shared by the webhook route and by the replay of
 * a quarantined delivery, so a replay after an adapter fix runs exactly the code ingress runs.
 */

export type AuthenticatedDelivery = Omit<ProviderDelivery, "body">;

export type NormalizedDelivery =
  /** Not UTF-8 JSON: the sender's mistake (400), recorded as `rejected`. */
  | { outcome: "not_json" }
  /**
   * Authentic JSON we cannot turn into queue messages: our failure, so it is quarantined (2xx).
   * `eventId` and `sourceType` are known when the adapter understood the event but its message is
   * too large.
   */
  | { outcome: "unprocessable"; body: unknown; issues: string[]; eventId: string | null; sourceType: string | null }
  | { outcome: "ready"; eventId: string; result: Exclude<AdapterResult, { outcome: "invalid" }>; messages: DeliveryMessage[] };

// Fatal: invalid UTF-8 is not JSON. A leading BOM is skipped, as JSON parsers conventionally do.
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export function decodeJson(rawBody: Uint8Array): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(utf8.decode(rawBody)) as unknown };
  } catch {
    return { ok: false };
  }
}

export function normalizeDelivery(adapter: ProviderAdapter, delivery: AuthenticatedDelivery): NormalizedDelivery {
  const json = decodeJson(delivery.rawBody);
  if (!json.ok) return { outcome: "not_json" };
  const result = adapter.parse({ ...delivery, body: json.value });
  if (result.outcome === "invalid") return { outcome: "unprocessable", body: json.value, issues: result.issues, eventId: null, sourceType: null };

  if (result.outcome === "ignored") {
    const message: DeliveryMessage = {
      v: QUEUE_MESSAGE_VERSION,
      kind: "ignored",
      receivedAt: delivery.receivedAtMs,
      provider: adapter.name,
      eventId: result.eventId,
      sourceType: result.sourceType,
      reason: result.reason,
    };
    return { outcome: "ready", eventId: result.eventId, result, messages: [message] };
  }
  const messages = toQueueMessages(result.event, delivery.receivedAtMs);
  if (!messages.ok) {
    return { outcome: "unprocessable", body: json.value, issues: [messages.code], eventId: result.event.eventId, sourceType: result.event.sourceType };
  }
  return { outcome: "ready", eventId: result.event.eventId, result, messages: messages.messages };
}
