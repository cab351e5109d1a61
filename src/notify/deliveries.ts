import { sql, type SQL } from "drizzle-orm";
import { runAtomically } from "../d1";
import { advanceRelayedThroughStatement, disableEndpointStatement, ENDPOINT_DISABLED } from "./feed-state";

/**
 * The only code that writes `change_deliveries`: one row per change once relayed, with its
 * outbound delivery state. A delivery is sent only while it is the oldest `pending` one of its
 * subject (`subject_key` = provider + "\t" + subject), so `delivered`, `rejected` and `failed`
 * are the states that let the subject's next change go.
 */

export const deliveryStatuses = ["pending", "delivered", "rejected", "failed"] as const;
export type DeliveryStatus = (typeof deliveryStatuses)[number];

/**
 * Stable codes in `last_error`:
 * - `http_error`: a retryable answer (5xx, 408, 429; `last_status` says which);
 * - `timeout`, `network_error`: no answer within NOTIFY_TIMEOUT_MS, or no connection;
 * - `rejected`: another 4xx, not retried; `redirected`: a 3xx (redirects are not followed);
 * - `endpoint_gone`: a 410, which disabled the endpoint (the delivery stays pending);
 * - `dead_lettered`: the Queue gave up on its message (repeated crashes, not HTTP answers);
 * - `change_pruned`: the change left the feed's retention window before it could be sent.
 */
export type DeliveryErrorCode = "http_error" | "timeout" | "network_error" | "rejected" | "redirected" | "endpoint_gone" | "dead_lettered" | "change_pruned";

/** Changes relayed per D1 batch: one sendBatch of messages (its limit is 100). */
export const RELAY_WINDOW = 100;

/**
 * Delivery rows for the next window of changes after `relayedThrough`, and `relayed_through`
 * moved to its end, as one atomic batch. `INSERT OR IGNORE … RETURNING` yields only rows this
 * batch created, so two relays racing over the same window queue each change once.
 */
export async function relayWindow(d1: D1Database, relayedThrough: number, now: number): Promise<{ inserted: number[]; relayedThrough: number }> {
  const window = sql`SELECT seq FROM changes WHERE seq > ${relayedThrough} ORDER BY seq LIMIT ${RELAY_WINDOW}`;
  const [inserted, advanced] = await runAtomically(d1, [
    sql`INSERT OR IGNORE INTO change_deliveries (seq, subject_key, status, attempts, updated_at)
        SELECT seq, provider || char(9) || subject, 'pending', 0, ${now} FROM changes WHERE seq IN (${window})
        RETURNING seq`,
    advanceRelayedThroughStatement(sql`SELECT max(seq) FROM (${window})`),
  ]);
  const seqs = ((inserted?.results ?? []) as { seq: number }[]).map((row) => row.seq).sort((a, b) => a - b);
  const through = ((advanced?.results ?? []) as { value: number }[])[0]?.value ?? relayedThrough;
  return { inserted: seqs, relayedThrough: through };
}

/** A delivery with its change, the oldest older pending delivery of its subject, and the endpoint's switch. */
export interface LoadedDelivery {
  seq: number;
  subjectKey: string;
  status: DeliveryStatus;
  attempts: number;
  updatedAt: number;
  /** null once the change was pruned from the feed. */
  change: ChangeRecord | null;
  /** The subject's oldest older pending delivery, which must finish first; null when this one is next. */
  blocker: { seq: number; attempts: number; updatedAt: number } | null;
  endpointDisabled: boolean;
}

export interface ChangeRecord {
  seq: number;
  type: string;
  provider: string;
  organizationId: string | null;
  directoryId: string | null;
  subject: string;
  cause: string;
  source: string;
  /** JSON text, as stored. */
  data: string;
  occurredAt: number;
  recordedAt: number;
}

interface LoadedRow {
  seq: number;
  subject_key: string;
  status: DeliveryStatus;
  attempts: number;
  updated_at: number;
  change_seq: number | null;
  type: string;
  provider: string;
  organization_id: string | null;
  directory_id: string | null;
  subject: string;
  cause: string;
  source: string;
  data: string;
  occurred_at: number;
  recorded_at: number;
  blocker_seq: number | null;
  blocker_attempts: number | null;
  blocker_updated_at: number | null;
  disabled: number;
}

/** Everything one delivery attempt decides on, in one read (the blocker through the pending index). */
export async function loadDelivery(d1: D1Database, seq: number): Promise<LoadedDelivery | null> {
  const row = await d1
    .prepare(
      `SELECT d.seq, d.subject_key, d.status, d.attempts, d.updated_at,
              c.seq AS change_seq, c.type, c.provider, c.organization_id, c.directory_id, c.subject, c.cause, c.source, c.data, c.occurred_at, c.recorded_at,
              b.seq AS blocker_seq, b.attempts AS blocker_attempts, b.updated_at AS blocker_updated_at,
              EXISTS (SELECT 1 FROM feed_state WHERE key = ?2) AS disabled
       FROM change_deliveries AS d
       LEFT JOIN changes AS c ON c.seq = d.seq
       LEFT JOIN change_deliveries AS b ON b.seq = (
         SELECT o.seq FROM change_deliveries AS o WHERE o.subject_key = d.subject_key AND o.status = 'pending' AND o.seq < d.seq ORDER BY o.seq LIMIT 1)
       WHERE d.seq = ?1`,
    )
    .bind(seq, ENDPOINT_DISABLED)
    .first<LoadedRow>();
  if (!row) return null;
  return {
    seq: row.seq,
    subjectKey: row.subject_key,
    status: row.status,
    attempts: row.attempts,
    updatedAt: row.updated_at,
    change:
      row.change_seq === null
        ? null
        : {
            seq: row.change_seq,
            type: row.type,
            provider: row.provider,
            organizationId: row.organization_id,
            directoryId: row.directory_id,
            subject: row.subject,
            cause: row.cause,
            source: row.source,
            data: row.data,
            occurredAt: row.occurred_at,
            recordedAt: row.recorded_at,
          },
    blocker: row.blocker_seq === null ? null : { seq: row.blocker_seq, attempts: row.blocker_attempts ?? 0, updatedAt: row.blocker_updated_at ?? 0 },
    endpointDisabled: row.disabled === 1,
  };
}

/**
 * Takes a pending delivery for one attempt: succeeds only if nobody touched it since it was
 * loaded, so two copies of its message (a watchdog re-send, a replay) cannot POST it at once.
 */
export async function claimDelivery(d1: D1Database, loaded: LoadedDelivery, now: number): Promise<boolean> {
  const result = await d1
    .prepare("UPDATE change_deliveries SET updated_at = max(?1, updated_at + 1) WHERE seq = ?2 AND status = 'pending' AND updated_at = ?3")
    .bind(now, loaded.seq, loaded.updatedAt)
    .run();
  return result.meta.changes === 1;
}

/** What one attempt (or the dead-letter consumer) concluded, as recorded. */
export type DeliveryOutcome =
  | { kind: "delivered"; status: number }
  | { kind: "rejected"; status: number; error: "rejected" | "redirected" }
  /** 410: the endpoint is switched off; this delivery stays pending, untried. */
  | { kind: "gone"; status: number }
  /** A failed try: pending again, or `failed` when it was the last one allowed. */
  | { kind: "retry"; status: number | null; error: "http_error" | "timeout" | "network_error"; giveUp: boolean }
  /** Given up without a try. */
  | { kind: "abandoned"; error: "dead_lettered" | "change_pruned" };

/** Records an outcome; only a delivery still pending changes (a replay meanwhile wins). */
export async function recordOutcome(d1: D1Database, seq: number, outcome: DeliveryOutcome, now: number): Promise<void> {
  const pending = sql`seq = ${seq} AND status = 'pending'`;
  switch (outcome.kind) {
    case "delivered":
      await runAtomically(d1, [
        sql`UPDATE change_deliveries SET status = 'delivered', attempts = attempts + 1, last_status = ${outcome.status}, last_error = NULL, updated_at = ${now}, delivered_at = ${now} WHERE ${pending}`,
      ]);
      return;
    case "rejected":
      await runAtomically(d1, [
        sql`UPDATE change_deliveries SET status = 'rejected', attempts = attempts + 1, last_status = ${outcome.status}, last_error = ${outcome.error}, updated_at = ${now} WHERE ${pending}`,
      ]);
      return;
    case "gone":
      // Not counted as a try: the app asked us to stop, and an operator decides when to resume.
      await runAtomically(d1, [
        disableEndpointStatement(now, `${outcome.status} from the endpoint`),
        sql`UPDATE change_deliveries SET last_status = ${outcome.status}, last_error = 'endpoint_gone', updated_at = ${now} WHERE ${pending}`,
      ]);
      return;
    case "retry":
      await runAtomically(d1, [
        sql`UPDATE change_deliveries SET status = ${outcome.giveUp ? "failed" : "pending"}, attempts = attempts + 1, last_status = ${outcome.status}, last_error = ${outcome.error}, updated_at = ${now} WHERE ${pending}`,
      ]);
      return;
    case "abandoned":
      await runAtomically(d1, [sql`UPDATE change_deliveries SET status = 'failed', last_error = ${outcome.error}, updated_at = ${now} WHERE ${pending}`]);
      return;
  }
}

/** The subject's next pending delivery after `seq`, to send as soon as `seq` is settled. */
export async function nextPendingOfSubject(d1: D1Database, subjectKey: string, seq: number): Promise<number | null> {
  const row = await d1
    .prepare("SELECT seq FROM change_deliveries WHERE subject_key = ? AND status = 'pending' AND seq > ? ORDER BY seq LIMIT 1")
    .bind(subjectKey, seq)
    .first<{ seq: number }>();
  return row?.seq ?? null;
}

/**
 * Pending deliveries that are next in their subject's order and untouched since `before`: their
 * message was lost (or never sent, if the relay's send failed). Oldest first, at most `limit`.
 */
export async function stalledHeads(d1: D1Database, before: number, limit: number): Promise<{ seq: number; attempts: number; updatedAt: number }[]> {
  const { results } = await d1
    .prepare(
      `SELECT d.seq, d.attempts, d.updated_at FROM change_deliveries AS d
       WHERE d.status = 'pending' AND d.updated_at < ?1
         AND NOT EXISTS (SELECT 1 FROM change_deliveries AS o WHERE o.subject_key = d.subject_key AND o.status = 'pending' AND o.seq < d.seq)
       ORDER BY d.seq LIMIT ?2`,
    )
    .bind(before, limit)
    .all<{ seq: number; attempts: number; updated_at: number }>();
  return results.map((row) => ({ seq: row.seq, attempts: row.attempts, updatedAt: row.updated_at }));
}

/** The oldest pending delivery of each subject (what to send when the endpoint comes back). */
export async function pendingHeads(d1: D1Database, limit: number): Promise<number[]> {
  const { results } = await d1
    .prepare("SELECT min(seq) AS seq FROM change_deliveries WHERE status = 'pending' GROUP BY subject_key ORDER BY 1 LIMIT ?")
    .bind(limit)
    .all<{ seq: number }>();
  return results.map((row) => row.seq);
}

/** Marks re-sent deliveries as touched, so the next watchdog pass does not send them again. */
export async function touchDeliveries(d1: D1Database, seqs: number[], now: number): Promise<void> {
  if (seqs.length === 0) return;
  await runAtomically(d1, [sql`UPDATE change_deliveries SET updated_at = ${now} WHERE status = 'pending' AND seq IN (SELECT value FROM json_each(${JSON.stringify(seqs)}))`]);
}

/**
 * Puts changes back to pending with a fresh count of tries (creating the row of a change not yet
 * relayed): one change, or the next `limit` from `fromSeq`. Returns the seqs, in order.
 */
export async function resetToPending(d1: D1Database, range: { seq: number } | { fromSeq: number; limit: number }, now: number): Promise<number[]> {
  const selection = "seq" in range ? sql`seq = ${range.seq}` : sql`seq >= ${range.fromSeq} ORDER BY seq LIMIT ${range.limit}`;
  const [result] = await runAtomically(d1, [
    sql`INSERT INTO change_deliveries (seq, subject_key, status, attempts, updated_at)
        SELECT seq, provider || char(9) || subject, 'pending', 0, ${now} FROM changes WHERE ${selection}
        ON CONFLICT (seq) DO UPDATE SET status = 'pending', attempts = 0, last_status = NULL, last_error = NULL, delivered_at = NULL, updated_at = excluded.updated_at
        RETURNING seq`,
  ]);
  return ((result?.results ?? []) as { seq: number }[]).map((row) => row.seq).sort((a, b) => a - b);
}

export type DeliveryCounts = Record<DeliveryStatus, number>;

export async function countDeliveries(d1: D1Database): Promise<DeliveryCounts> {
  const { results } = await d1.prepare("SELECT status, count(*) AS n FROM change_deliveries GROUP BY status").all<{ status: DeliveryStatus; n: number }>();
  const counts: DeliveryCounts = { pending: 0, delivered: 0, rejected: 0, failed: 0 };
  for (const row of results) if (row.status in counts) counts[row.status] = row.n;
  return counts;
}

export interface DeliveryListRow {
  seq: number;
  type: string | null;
  provider: string | null;
  subject: string | null;
  status: DeliveryStatus;
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  updatedAt: number;
  deliveredAt: number | null;
}

/** Deliveries in seq order after `after`, optionally of one status. */
export async function listDeliveries(d1: D1Database, filter: { status?: DeliveryStatus; after: number; limit: number }): Promise<DeliveryListRow[]> {
  const { results } = await d1
    .prepare(
      `SELECT d.seq, c.type, c.provider, c.subject, d.status, d.attempts, d.last_status, d.last_error, d.updated_at, d.delivered_at
       FROM change_deliveries AS d LEFT JOIN changes AS c ON c.seq = d.seq
       WHERE d.seq > ?1 AND (?2 IS NULL OR d.status = ?2) ORDER BY d.seq LIMIT ?3`,
    )
    .bind(filter.after, filter.status ?? null, filter.limit)
    .all<{ seq: number; type: string | null; provider: string | null; subject: string | null; status: DeliveryStatus; attempts: number; last_status: number | null; last_error: string | null; updated_at: number; delivered_at: number | null }>();
  return results.map((row) => ({
    seq: row.seq,
    type: row.type,
    provider: row.provider,
    subject: row.subject,
    status: row.status,
    attempts: row.attempts,
    lastStatus: row.last_status,
    lastError: row.last_error,
    updatedAt: row.updated_at,
    deliveredAt: row.delivered_at,
  }));
}
