import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { sql } from "drizzle-orm";
import * as z from "zod";
import { countOutcomes } from "../consumer/pipeline-hourly";
import { runAtomically } from "../d1";
import type { ProviderDelivery } from "../providers/types";
import { decodeBase64, encodeBase64 } from "../verify/base64";

/**
 * Authentic deliveries that did not become queue messages, kept in event_log so nothing authentic
 * is lost: `quarantined` (JSON we could not process: our failure, answered 2xx) and `rejected`
 * (not UTF-8 JSON, or an unusable webhook-id: the sender's, answered 400). Each row stores the
 * delivery as received, so an operator can re-run the current adapter on it (ingest/replay-delivery.ts).
 */

export type UnparsedDelivery = Omit<ProviderDelivery, "body">;
export type UnparsedStatus = "quarantined" | "rejected";

/** Headers an adapter reads besides the signature headers; the only ones stored. */
const ADAPTER_HEADERS = ["x-socialchorus-delivery"] as const;
const MAX_ERROR_LENGTH = 500;
const MAX_REASON_LENGTH = 300;
const MAX_SOURCE_TYPE_LENGTH = 256;
/**
 * D1 caps a row at 2,000,000 bytes. JSON escaping can double a body (`"` → `\"`), so a body whose
 * JSON-escaped text would pass this is stored base64 instead (4/3 of the 1 MiB body ceiling).
 */
const MAX_STORED_TEXT_BYTES = 1_500_000;

/**
 * The `delivery` column. `body` is the exact bytes received: as text when they are valid UTF-8
 * (a BOM kept, so re-encoding gives the same bytes), else base64 (`encoding: "base64"`).
 */
export const storedDelivery = z.object({
  body: z.string(),
  encoding: z.enum(["utf-8", "base64"]),
  webhookId: z.string().nullable(),
  signedAtMs: z.number().int().nullable(),
  headers: z.record(z.string(), z.string()),
});
export type StoredDelivery = z.infer<typeof storedDelivery>;

const encoder = new TextEncoder();
const exactUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function storeDelivery(delivery: UnparsedDelivery): string {
  const headers: Record<string, string> = {};
  for (const name of ADAPTER_HEADERS) {
    const value = delivery.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  return JSON.stringify({ ...bodyAsStored(delivery.rawBody), webhookId: delivery.webhookId, signedAtMs: delivery.signedAtMs, headers } satisfies StoredDelivery);
}

function bodyAsStored(rawBody: Uint8Array): Pick<StoredDelivery, "body" | "encoding"> {
  try {
    const text = exactUtf8.decode(rawBody);
    if (encoder.encode(JSON.stringify(text)).length <= MAX_STORED_TEXT_BYTES) return { body: text, encoding: "utf-8" };
  } catch {
    // not UTF-8: base64 below
  }
  return { body: encodeBase64(rawBody), encoding: "base64" };
}

/** The delivery as the adapter first saw it, or null if the stored text is not one (hand-edited). */
export function restoreDelivery(stored: string, receivedAtMs: number): UnparsedDelivery | null {
  let parsed;
  try {
    parsed = storedDelivery.safeParse(JSON.parse(stored));
  } catch {
    return null;
  }
  if (!parsed.success) return null;
  const { body, encoding, webhookId, signedAtMs, headers } = parsed.data;
  const rawBody = encoding === "utf-8" ? encoder.encode(body) : decodeBase64(body);
  return rawBody ? { rawBody, headers: new Headers(headers), webhookId, signedAtMs, receivedAtMs } : null;
}

const bodyEventId = z.string().min(1).max(256);
const PRINTABLE_ID = /^[\x21-\x7e]{1,256}$/;

/**
 * The key of a delivery no adapter produced an event for: the body's `id` or `event_id`, else the
 * signed `webhook-id`, else a delivery header, else `sha256:` of the exact body. Deterministic, so
 * a redelivery lands on the same row; the same precedence adapters use, so a replay usually keeps it.
 */
export function unparsedEventId(body: unknown, delivery: UnparsedDelivery): string {
  const fields = isRecord(body) ? body : {};
  const fromBody = [fields.id, fields.event_id].find((value): value is string => bodyEventId.safeParse(value).success);
  const header = delivery.headers.get(ADAPTER_HEADERS[0]);
  return fromBody ?? delivery.webhookId ?? (header && PRINTABLE_ID.test(header) ? header : null) ?? `sha256:${bytesToHex(sha256(delivery.rawBody))}`;
}

/** The body's own `type` or `event` when it is a string, for operators; never parsed further. */
export function unparsedSourceType(body: unknown): string {
  const fields = isRecord(body) ? body : {};
  const named = [fields.type, fields.event].find((value): value is string => typeof value === "string" && value !== "");
  return named ? named.slice(0, MAX_SOURCE_TYPE_LENGTH) : "unknown";
}

/** Adapter issues name paths and codes, never values (providers/issues.ts); bounded for the log. */
export const describeIssues = (issues: string[]) => issues.join("; ").slice(0, MAX_ERROR_LENGTH);

/**
 * The user or group an unparsed body names, when it names one where the providers put it
 * (`data.id`, `data.user_id`, `data.userId`): so erasing that user also erases this stored body.
 */
export function unparsedSubject(body: unknown): string | null {
  const data = isRecord(body) && isRecord(body.data) ? body.data : {};
  const named = [data.user_id, data.userId, data.id].find((value): value is string => typeof value === "string" && value !== "" && value.length <= 256);
  return named ?? null;
}

export interface UnparsedRow {
  provider: string;
  eventId: string;
  subject: string | null;
  sourceType: string;
  status: UnparsedStatus;
  error: string;
  /** From storeDelivery. */
  delivery: string;
  receivedAt: number;
}

/**
 * Records (or, for a redelivery, refreshes) an unparsed delivery. Never touches a row in any other
 * status: an event already applied, ignored, failed or held under this key keeps its row. Returns
 * false in that case, so the caller can answer "duplicate".
 */
export async function recordUnparsed(d1: D1Database, row: UnparsedRow, now: number): Promise<boolean> {
  // Counted in the console's hourly chart once, when first recorded (consumer/pipeline-hourly.ts).
  const counted = countOutcomes([{ provider: row.provider, eventId: row.eventId, status: row.status }], now, "new_row");
  const results = await runAtomically(d1, [
    ...counted,
    sql`
    INSERT INTO event_log (provider, event_id, subject, source_type, status, error, attempts, received_at, updated_at, delivery)
    VALUES (${row.provider}, ${row.eventId}, ${row.subject}, ${row.sourceType}, ${row.status}, ${row.error}, 0, ${row.receivedAt}, ${now}, ${row.delivery})
    ON CONFLICT (provider, event_id) DO UPDATE SET updated_at = excluded.updated_at
    -- A redelivery only touches the time: the first stored delivery is kept as it was, so someone
    -- who learns an event id (a header-mode sender's delivery id) cannot replace what is stored.
    WHERE event_log.status IN ('quarantined', 'rejected')
    RETURNING status`,
  ]);
  return (results.at(-1)?.results.length ?? 0) > 0;
}

/**
 * A replay enqueued this delivery. Under the same key, the row is left as it is for the consumer to
 * overwrite with the outcome. Under other keys (the adapter derives another id, or the event was
 * split into parts) the consumer will never write this row, so it is closed here as `ignored` with
 * reason `replayed_as:<ids>`: it leaves the quarantine list and keeps the delivery as evidence.
 */
export async function noteReplayed(
  d1: D1Database,
  key: { provider: string; eventId: string },
  outcome: { eventIds: string[]; subject: string | null },
  now: number,
): Promise<void> {
  const sameKey = outcome.eventIds.length === 1 && outcome.eventIds[0] === key.eventId;
  const where = sql`provider = ${key.provider} AND event_id = ${key.eventId} AND status IN ('quarantined', 'rejected')`;
  // The subject lets an erasure find this row (its body may name the user).
  await runAtomically(d1, [
    sameKey
      ? sql`UPDATE event_log SET subject = coalesce(${outcome.subject}, subject), updated_at = ${now} WHERE ${where}`
      : sql`UPDATE event_log SET status = 'ignored', reason = ${`replayed_as:${outcome.eventIds.join(" ")}`.slice(0, MAX_REASON_LENGTH)},
              subject = coalesce(${outcome.subject}, subject), updated_at = ${now} WHERE ${where}`,
  ]);
}

/** A replay that still does not parse: the row keeps its delivery and shows the current issues. */
export async function noteStillInvalid(d1: D1Database, key: { provider: string; eventId: string }, issues: string[], now: number): Promise<void> {
  await runAtomically(d1, [
    sql`UPDATE event_log SET error = ${describeIssues(issues)}, updated_at = ${now}
        WHERE provider = ${key.provider} AND event_id = ${key.eventId} AND status IN ('quarantined', 'rejected')`,
  ]);
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);
