import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import * as z from "zod";
import { directoryEvent, type DirectoryEvent } from "./events";
import { importNamespace, importRow } from "./import/row";

/**
 * What ingress puts on the Queue and the consumer takes off it. Versioned so a consumer that
 * meets a message from a newer deploy retries it (and eventually dead-letters it) instead of
 * misreading it.
 */
export const QUEUE_MESSAGE_VERSION = 2;
/**
 * Versions this consumer decodes. 2 added sub-millisecond event times, user events' group sets and
 * provider roles: a version-1 consumer (mid-rollout or after a rollback) must not decode them and
 * silently drop those fields, so it retries and dead-letters them instead, replayable once the new
 * code runs. Version-1 messages (in flight, or stored for replay) still decode here.
 */
const acceptedVersion = z.union([z.literal(1), z.literal(QUEUE_MESSAGE_VERSION)]);

export const queueMessage = z.discriminatedUnion("kind", [
  z.object({
    v: acceptedVersion,
    kind: z.literal("event"),
    receivedAt: z.number().int(),
    event: directoryEvent,
    /** An operator released this held event: its destructive outcome needs no further evidence. */
    released: z.literal(true).optional(),
    /** When the upstream first answered a verified SCIM 404 for the event's user (erasure needs a second). */
    absentSince: z.number().int().optional(),
  }),
  z.object({
    v: acceptedVersion,
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
    v: acceptedVersion,
    kind: z.literal("reconcile"),
    runId: z.string().min(1).max(64),
    phase: z.enum(["scan", "sweep", "finish"]),
    /** scan: the SCIM startIndex; sweep: the last external_id confirmed; finish: "". */
    cursor: z.string().max(256),
  }),
  /**
   * Rows of a bulk import (src/import), in file order. The consumer applies each row as its own
   * user event, `<importId>:<row>`, so each row is exactly-once on its own. Introduced in version
   * 2: an older consumer does not know the kind, retries it and dead-letters it, never misreads it.
   */
  z.object({
    v: z.union([z.literal(2), z.literal(QUEUE_MESSAGE_VERSION)]),
    kind: z.literal("import"),
    /** When the import was accepted: every row's event time (its row number breaks ties). */
    receivedAt: z.number().int(),
    importId: z.string().regex(/^imp_[0-9a-f]{24}$/),
    /** Only import namespaces: a message naming any other provider does not decode. */
    provider: importNamespace,
    organizationId: z.string().min(1).max(256),
    directoryId: z.string().min(1).max(256).nullable(),
    /** The chunk's position in the import (1-based), for logs and dead letters. */
    chunk: z.number().int().min(1),
    rows: z.array(importRow).min(1),
  }),
]);
export type QueueMessage = z.infer<typeof queueMessage>;
export type EventMessage = Extract<QueueMessage, { kind: "event" }>;
export type ReconcileMessage = Extract<QueueMessage, { kind: "reconcile" }>;
export type ImportChunkMessage = Extract<QueueMessage, { kind: "import" }>;
/** A message that carries a provider's delivery (applied or ignored), as opposed to internal work. */
export type DeliveryMessage = Exclude<QueueMessage, ReconcileMessage | ImportChunkMessage>;

/**
 * Queues accept messages of at most 128 KB. Sizes are UTF-8 bytes of the JSON the Queue stores
 * (`contentType: "json"`), never string length: a non-ASCII id is 1 UTF-16 unit but up to 3 bytes.
 * The budget stays well below the limit to leave room for the Queue's own metadata.
 */
export const MAX_MESSAGE_BYTES = 100 * 1024;
/** One sendBatch call carries at most 256 KB (counted in decimal kilobytes, to be safe). */
const SEND_BATCH_BYTES = 256 * 1000;

/** Event ids (and so split part ids) are 1–256 characters; part ids are also printable ASCII. */
const MAX_EVENT_ID_LENGTH = 256;
const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;
/** Part ids are sized for the worst case: 256 characters that JSON escapes to two bytes each. */
const WORST_CASE_PART_ID = '"'.repeat(MAX_EVENT_ID_LENGTH);

const encoder = new TextEncoder();
export const utf8Bytes = (text: string): number => encoder.encode(text).length;
export const messageBytes = (message: QueueMessage): number => utf8Bytes(JSON.stringify(message));

export type QueueMessagesResult =
  | { ok: true; messages: EventMessage[] }
  /** A message that cannot be made small enough: quarantined by the caller, never retried forever. */
  | { ok: false; code: "message_too_large"; bytes: number };

/**
 * A membership change too large for one message is split into parts, each with its own event id
 * (see partEventId) and so its own exactly-once record. Parts touch disjoint (group, user) pairs and
 * share the original event time, so they apply independently in any order. Any other event that
 * does not fit, or a part that still does not, is `message_too_large`.
 */
export function toQueueMessages(event: DirectoryEvent, receivedAt: number): QueueMessagesResult {
  const whole: EventMessage = { v: QUEUE_MESSAGE_VERSION, kind: "event", receivedAt, event };
  const wholeBytes = messageBytes(whole);
  if (wholeBytes <= MAX_MESSAGE_BYTES) return { ok: true, messages: [whole] };
  if (event.kind === "user_upserted" && event.groups) {
    // A user in thousands of groups: the group names are what does not fit. The set of ids is what
    // decides memberships; names come with the groups' own events (a group known only from here is
    // created without one).
    const slim: EventMessage = { ...whole, event: { ...event, groups: event.groups.map((group) => ({ ...group, name: null })) } };
    const slimBytes = messageBytes(slim);
    return slimBytes <= MAX_MESSAGE_BYTES ? { ok: true, messages: [slim] } : { ok: false, code: "message_too_large", bytes: slimBytes };
  }
  if (event.kind !== "group_members_changed") return { ok: false, code: "message_too_large", bytes: wholeBytes };

  // Everything but the member lists, with the longest part id a part could carry.
  const envelope = messageBytes({ ...whole, event: { ...event, eventId: WORST_CASE_PART_ID, added: [], removed: [] } });
  const budget = MAX_MESSAGE_BYTES - envelope;
  const parts: { added: string[]; removed: string[] }[] = [];
  let current = { added: [] as string[], removed: [] as string[] };
  let bytes = 0;
  const changes = [...event.added.map((user) => ({ user, added: true })), ...event.removed.map((user) => ({ user, added: false }))];
  for (const change of changes) {
    // The id as JSON encodes it (quotes and escapes included), plus the comma before it.
    const cost = utf8Bytes(JSON.stringify(change.user)) + 1;
    if (bytes + cost > budget && bytes > 0) {
      parts.push(current);
      current = { added: [], removed: [] };
      bytes = 0;
    }
    (change.added ? current.added : current.removed).push(change.user);
    bytes += cost;
  }
  parts.push(current);

  const ids = partEventIds(event.eventId, parts.length);
  const messages = parts.map((part, index): EventMessage => ({ ...whole, event: { ...event, eventId: ids[index]!, ...part } }));
  // The budget above is an upper bound; this check keeps an oversized part from ever being sent.
  const largest = Math.max(...messages.map(messageBytes));
  return largest <= MAX_MESSAGE_BYTES ? { ok: true, messages } : { ok: false, code: "message_too_large", bytes: largest };
}

/**
 * Ids of the `count` parts of event `eventId`: `<id>#<n>` when every one of them is a valid
 * printable id of at most 256 characters; otherwise `<printable prefix>~<sha256 of the id, 32 hex>#<n>`.
 * Deterministic, so a redelivery of the event maps to the same part ids (and dedupes), and unique
 * per event through the digest of the whole id.
 */
export function partEventIds(eventId: string, count: number): string[] {
  const plain = (n: number) => `${eventId}#${n}`;
  const fits = PRINTABLE_ASCII.test(eventId) && plain(count).length <= MAX_EVENT_ID_LENGTH;
  const base = fits ? eventId : `${eventId.replace(/[^\x21-\x7e]/g, "").slice(0, 160)}~${bytesToHex(sha256(encoder.encode(eventId))).slice(0, 32)}`;
  return Array.from({ length: count }, (_, index) => `${base}#${index + 1}`);
}

/** A delivery's messages onto the Queue, as few calls as the Queue's batch limits allow. */
export async function sendQueueMessages(queue: Queue, messages: QueueMessage[]): Promise<void> {
  const [only] = messages;
  if (messages.length === 1 && only) {
    await queue.send(only, { contentType: "json" });
    return;
  }
  // sendBatch takes at most 100 messages and 256 KB in all; messages are at most MAX_MESSAGE_BYTES each.
  const perBatch = Math.floor(SEND_BATCH_BYTES / MAX_MESSAGE_BYTES);
  for (let i = 0; i < messages.length; i += perBatch) {
    await queue.sendBatch(messages.slice(i, i + perBatch).map((body) => ({ body, contentType: "json" as const })));
  }
}
