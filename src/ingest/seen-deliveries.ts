import { log } from "../log";

/**
 * KV fast path for duplicate deliveries. KV is eventually consistent (a key written in one
 * location can take up to ~60 s to be visible in another), so this only saves work: D1's
 * processed_events is the authority. Any KV failure therefore degrades to "not seen".
 */
const seenKey = (provider: string, eventId: string) => `seen:${provider}:${eventId}`;

export async function wasSeen(kv: KVNamespace, provider: string, eventId: string): Promise<boolean> {
  try {
    return (await kv.get(seenKey(provider, eventId))) !== null;
  } catch (error) {
    log("kv.read_failed", { provider, eventId, error: String(error) });
    return false;
  }
}

export async function markSeen(kv: KVNamespace, provider: string, eventId: string, ttlSeconds: number): Promise<void> {
  try {
    await kv.put(seenKey(provider, eventId), "1", { expirationTtl: ttlSeconds });
  } catch (error) {
    log("kv.write_failed", { provider, eventId, error: String(error) });
  }
}
