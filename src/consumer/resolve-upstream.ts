import type { DirectoryEvent } from "../events";
import type { ScimClient } from "../upstream/scim-client";
import { lastModifiedOf, toDirectoryUser } from "../upstream/scim-user";

type RefreshEvent = Extract<DirectoryEvent, { kind: "user_refresh" }>;

export interface Resolution {
  event: DirectoryEvent;
  /** Recorded as the event log's reason, when the upstream said something worth noting. */
  note: string | null;
}

/**
 * Turns "user X changed" into what changed, by reading the user's current SCIM record:
 * - found → `user_upserted` with the record, versioned by the record's `meta.lastModified` (the
 *   upstream's own clock for that data), else by the event time;
 * - 404 → `user_forgotten`: the upstream forgot the user, so this service does too.
 * A `deactivated` event whose record is still active is applied as the record says (the record is
 * the truth) and noted as `deactivation_not_confirmed`.
 */
export async function resolveRefresh(event: RefreshEvent, client: ScimClient): Promise<Resolution> {
  const record = await client.getUser(event.externalId);
  const base = { provider: event.provider, eventId: event.eventId, sourceType: event.sourceType };
  if (!record) return { event: { ...base, kind: "user_forgotten", occurredAt: event.occurredAt, externalId: event.externalId }, note: "forgotten_upstream" };
  const user = toDirectoryUser(record);
  const note = event.reason === "deactivated" && user.active ? "deactivation_not_confirmed" : null;
  return { event: { ...base, kind: "user_upserted", occurredAt: lastModifiedOf(record) ?? event.occurredAt, user }, note };
}

/** Runs `work` over `items`, at most `limit` at a time (Workers allow 6 open connections). */
export async function mapConcurrently<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  });
  await Promise.all(workers);
  return results;
}
