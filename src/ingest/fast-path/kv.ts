import { log } from "../../log";
import type { SeenDeliveries } from "./index";

/**
 * `DEDUPE_KV = "kv"` (alias "on"): the design card's KV namespace. Global, but eventually
 * consistent (a key written in one location can take up to ~60 s to be visible in another), and
 * billed: a read per delivery ($0.50/M) and a write per accepted one ($5/M), far more than the rare
 * duplicates it stops cost (BENCHMARKS.md). Any failure degrades to "not seen".
 */
const seenKey = (provider: string, eventId: string) => `seen:${provider}:${eventId}`;

export function kvSeenDeliveries(kv: KVNamespace, ttlSeconds: number): SeenDeliveries {
  return {
    where: "kv",
    async wasSeen(provider, eventId) {
      try {
        return (await kv.get(seenKey(provider, eventId))) !== null;
      } catch (error) {
        log("kv.read_failed", { provider, eventId, error: String(error) });
        return false;
      }
    },
    async markSeen(provider, eventId) {
      try {
        await kv.put(seenKey(provider, eventId), "1", { expirationTtl: ttlSeconds });
      } catch (error) {
        log("kv.write_failed", { provider, eventId, error: String(error) });
      }
    },
  };
}
