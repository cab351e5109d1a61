import { getEvent, type EventRow } from "../consumer/operator-reads";
import { replayStoredMessage, replayStoredMessages } from "../consumer/replay";
import type { EventStatus } from "../directory/schema";
import { replayDelivery } from "../ingest/replay-delivery";
import { log } from "../log";
import type { ProviderAdapter } from "../providers/types";
import { deadLetterBodies } from "./reads";

/**
 * An operator's replays, shared by the JSON API (http/admin.ts) and the console
 * (http/console/pages.tsx), so both follow one rule for what may be replayed and how.
 */

export interface ReplayDeps {
  d1: D1Database;
  queue: Queue;
  now: () => number;
}

/** Quarantined and rejected rows hold a delivery that never became a queue message. */
export const isUnparsed = (row: EventRow) => (row.status === "quarantined" || row.status === "rejected") && row.delivery !== null;

/** Whether replayEvent would act on this row (list rows carry '' for a stored message or delivery). */
export const isReplayable = (row: EventRow) => ((row.status === "failed" || row.status === "dead_lettered") && row.message !== null) || isUnparsed(row);

export type EventReplayResult =
  | { ok: true; row: EventRow; from: "message" }
  /** A quarantined or rejected delivery re-parsed with the adapter deployed now, and what it yielded enqueued. */
  | { ok: true; row: EventRow; from: "delivery"; outcome: "event" | "ignored"; eventIds: string[] }
  | { ok: false; reason: "not_found" | "provider_not_found" | "undecodable" | "queue_unavailable" }
  | { ok: false; reason: "not_replayable"; status: EventStatus }
  | { ok: false; reason: "still_invalid"; issues: string[] };

/**
 * Re-enqueues a failed or dead-lettered event's stored message (the consumer's exactly-once check
 * still decides whether it has any effect), or re-parses a quarantined or rejected delivery.
 */
export async function replayEvent(deps: ReplayDeps, providers: ReadonlyMap<string, ProviderAdapter>, key: { provider: string; eventId: string }): Promise<EventReplayResult> {
  const row = await getEvent(deps.d1, key.provider, key.eventId);
  if (!row) return { ok: false, reason: "not_found" };
  if (isUnparsed(row)) {
    const adapter = providers.get(row.provider);
    if (!adapter) return { ok: false, reason: "provider_not_found" };
    const result = await replayDelivery(deps, adapter, row);
    if (!result.ok) return result.reason === "not_replayable" ? { ok: false, reason: "not_replayable", status: row.status } : result;
    log("event.replayed", { provider: row.provider, eventId: row.eventId, from: row.status, as: result.eventIds.length });
    return { ok: true, row, from: "delivery", outcome: result.outcome, eventIds: result.eventIds };
  }
  if (row.status !== "failed" && row.status !== "dead_lettered") return { ok: false, reason: "not_replayable", status: row.status };
  const result = await replayStoredMessage(deps.queue, row.message);
  if (!result.ok) return result.reason === "undecodable" ? { ok: false, reason: "undecodable" } : { ok: false, reason: "not_replayable", status: row.status };
  log("event.replayed", { provider: row.provider, eventId: row.eventId });
  return { ok: true, row, from: "message" };
}

export type DeadLetterReplayResult = { ok: true } | { ok: false; reason: "not_found" | "not_replayable" | "undecodable" };

/** The most dead letters one console form replays: a bounded read and at most this many Queue sends per request. */
export const MAX_DEAD_LETTERS_PER_REPLAY = 100;

/** Re-enqueues a dead letter's body exactly as first enqueued. */
export async function replayDeadLetter(deps: Pick<ReplayDeps, "d1" | "queue">, messageId: string): Promise<DeadLetterReplayResult> {
  return (await replayDeadLetters(deps, [messageId])).get(messageId)!;
}

/**
 * Re-enqueues several dead letters (read in one statement), each as replayDeadLetter would, and says
 * what happened to each id. At most MAX_DEAD_LETTERS_PER_REPLAY ids.
 */
export async function replayDeadLetters(deps: Pick<ReplayDeps, "d1" | "queue">, messageIds: string[]): Promise<Map<string, DeadLetterReplayResult>> {
  const ids = [...new Set(messageIds)];
  if (ids.length > MAX_DEAD_LETTERS_PER_REPLAY) throw new RangeError(`at most ${MAX_DEAD_LETTERS_PER_REPLAY} dead letters per replay`);
  const bodies = new Map((await deadLetterBodies(deps.d1, ids)).map((row) => [row.messageId, row.body]));
  const found = ids.filter((id) => bodies.has(id));
  // Sent together, in as few Queue calls as its limits allow (each call is a subrequest).
  const replayed = await replayStoredMessages(deps.queue, found.map((id) => bodies.get(id)!));
  const results = new Map<string, DeadLetterReplayResult>(ids.map((id) => [id, { ok: false, reason: "not_found" }]));
  found.forEach((id, index) => {
    const result = replayed[index]!;
    if (result.ok) log("dead_letter.replayed", { messageId: id });
    results.set(id, result);
  });
  return results;
}
