import * as z from "zod";
import { directoryEvent, type DirectoryEvent } from "./events";

/**
 * What ingress puts on the Queue and the consumer takes off it. Versioned so a consumer that
 * meets a message from a newer deploy retries it (and eventually dead-letters it) instead of
 * misreading it.
 */
export const QUEUE_MESSAGE_VERSION = 1;

export const queueMessage = z.discriminatedUnion("kind", [
  z.object({
    v: z.literal(QUEUE_MESSAGE_VERSION),
    kind: z.literal("event"),
    receivedAt: z.number().int(),
    event: directoryEvent,
  }),
  z.object({
    v: z.literal(QUEUE_MESSAGE_VERSION),
    kind: z.literal("ignored"),
    receivedAt: z.number().int(),
    provider: z.string().min(1).max(64),
    eventId: z.string().min(1).max(300),
    sourceType: z.string().max(256),
    reason: z.string().max(64),
  }),
  /**
   * "Continue reconciliation run `runId` at this checkpoint." The run's row in D1 is the
   * authority: a message whose phase and cursor are not the run's current checkpoint is stale and
   * dropped, so duplicate or late messages cannot fork the run.
   */
  z.object({
    v: z.literal(QUEUE_MESSAGE_VERSION),
    kind: z.literal("reconcile"),
    runId: z.string().min(1).max(64),
    phase: z.enum(["scan", "sweep", "finish"]),
    /** scan: the SCIM startIndex; sweep: the last external_id confirmed; finish: "". */
    cursor: z.string().max(256),
  }),
]);
export type QueueMessage = z.infer<typeof queueMessage>;
export type EventMessage = Extract<QueueMessage, { kind: "event" }>;
export type ReconcileMessage = Extract<QueueMessage, { kind: "reconcile" }>;
/** A message that carries a provider's delivery (applied or ignored), as opposed to internal work. */
export type DeliveryMessage = Exclude<QueueMessage, ReconcileMessage>;

/** Queue messages are at most 128 KB; stay well below it. */
export const MAX_MESSAGE_BYTES = 100 * 1024;

/**
 * A membership change too large for one message is split into parts, each with its own event id
 * (`<id>#<n>`) and so its own exactly-once record. Parts touch disjoint (group, user) pairs and
 * share the original event time, so they apply independently in any order.
 */
export function toQueueMessages(event: DirectoryEvent, receivedAt: number): EventMessage[] {
  const whole: EventMessage = { v: QUEUE_MESSAGE_VERSION, kind: "event", receivedAt, event };
  if (event.kind !== "group_members_changed" || JSON.stringify(whole).length <= MAX_MESSAGE_BYTES) return [whole];

  const changes = [
    ...event.added.map((user) => ({ user, added: true })),
    ...event.removed.map((user) => ({ user, added: false })),
  ];
  const parts: { added: string[]; removed: string[] }[] = [];
  let current = { added: [] as string[], removed: [] as string[] };
  let bytes = 0;
  const budget = MAX_MESSAGE_BYTES - 2048; // room for the envelope around the member lists
  for (const change of changes) {
    const cost = change.user.length * 6 + 3; // worst case: every character escaped as \uXXXX
    if (bytes + cost > budget && bytes > 0) {
      parts.push(current);
      current = { added: [], removed: [] };
      bytes = 0;
    }
    (change.added ? current.added : current.removed).push(change.user);
    bytes += cost;
  }
  parts.push(current);
  return parts.map((part, index) => ({
    ...whole,
    event: { ...event, eventId: `${event.eventId}#${index + 1}`, ...part },
  }));
}
