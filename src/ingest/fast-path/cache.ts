import { log } from "../../log";
import type { SeenDeliveries } from "./index";

/**
 * `DEDUPE_KV = "cache"` (the default): the Cache API of the location that received the delivery.
 * Not billed (Cloudflare bills a Worker's inbound requests, not its subrequests), but local: a
 * copy that reaches another location, or arrives after the entry was evicted, is not stopped here.
 * On `*.workers.dev` and behind Cloudflare Access the Cache API does nothing, so this acts as
 * `off` there. Any failure degrades to "not seen".
 */

/**
 * A cache of its own rather than `caches.default`: the default cache is the zone's, which CDN
 * traffic to the same URL could fill, and any entry there would answer a new event `duplicate`.
 */
const CACHE_NAME = "directory-sync:seen-deliveries";
/** Keys live under the delivery's own origin (a host of the zone the Worker serves). */
const KEY_PATH = "/seen-delivery/";

/**
 * One URL per (provider, event id). The id is hashed rather than put in the path: an id such as
 * `..` would be normalized away, and two ids sharing a key would answer a new event `duplicate`.
 */
async function seenUrl(origin: string, provider: string, eventId: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${provider}\n${eventId}`));
  const hex = Array.from(new Uint8Array(digest), (byte) => byte.toString(16).padStart(2, "0")).join("");
  return `${origin}${KEY_PATH}${hex}`;
}

/** `origin`: the delivery's own scheme and host (a custom domain in production). */
export function cacheSeenDeliveries(origin: string, ttlSeconds: number): SeenDeliveries {
  return {
    where: "cache",
    async wasSeen(provider, eventId) {
      try {
        const cache = await caches.open(CACHE_NAME);
        return (await cache.match(await seenUrl(origin, provider, eventId))) !== undefined;
      } catch (error) {
        log("cache.read_failed", { provider, eventId, error: String(error) });
        return false;
      }
    },
    async markSeen(provider, eventId) {
      try {
        const marker = new Response(null, { headers: { "Cache-Control": `max-age=${ttlSeconds}` } });
        const cache = await caches.open(CACHE_NAME);
        await cache.put(await seenUrl(origin, provider, eventId), marker);
      } catch (error) {
        log("cache.write_failed", { provider, eventId, error: String(error) });
      }
    },
  };
}
