import type { IngestConfig } from "../../config";
import { cacheSeenDeliveries } from "./cache";
import { kvSeenDeliveries } from "./kv";

/**
 * The dedupe fast path at ingress (`DEDUPE_KV`): a redelivery of an event already queued is
 * answered `duplicate` before it costs a queue message. It only saves work. The consumer's D1
 * check (event_log) is the exactly-once authority in every mode, so a miss here, or any
 * failure, costs one more queue message and one D1 read, never a second effect.
 */
export type DedupeMode = "off" | "cache" | "kv";

export interface SeenDeliveries {
  /** Where a duplicate was stopped, for the `event.duplicate` log line. */
  where: "cache" | "kv";
  /** False when unsure (a failed lookup included): the delivery is queued and D1 decides. */
  wasSeen(provider: string, eventId: string): Promise<boolean>;
  /** After a successful enqueue only; a mark that fails is logged and forgotten. */
  markSeen(provider: string, eventId: string): Promise<void>;
}

/** The configured fast path for a delivery received at `requestUrl`; null when it is off. */
export function seenDeliveries(config: IngestConfig, env: Env, requestUrl: string): SeenDeliveries | null {
  switch (config.dedupe) {
    case "off":
      return null;
    case "cache":
      return cacheSeenDeliveries(new URL(requestUrl).origin, config.dedupeTtlSeconds);
    case "kv":
      return kvSeenDeliveries(env.SEEN_EVENTS, config.dedupeTtlSeconds);
  }
}
