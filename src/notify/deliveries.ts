import { NOT_MARKER_SQL, redactedData } from "../changes/erasure";
import { sql, type SQL } from "drizzle-orm";
import { runAtomically } from "../d1";
import { advanceRelayedThroughStatement, disableEndpointStatement, ENDPOINT_DISABLED } from "./feed-state";
import type { ChangeRow } from "../changes/feed";

/** The high-water marker of migration 0010 is never relayed (changes/erasure.ts). */
const NOT_MARKER = sql.raw(NOT_MARKER_SQL);

/**
 * The only code that writes `change_deliveries`: one row per change once relayed, with its
 * outbound delivery state. A delivery is sent only while it is the oldest `pending` one of its
 * subject (`subject_key` = provider + "\t" + subject), so `delivered`, `rejected` and `failed`
 * are the states that let the subject's next change go.
 *
 * Two columns coordinate the copies of a delivery's queue message (relay, retry, wait, watchdog,
 * replay; Queues also delivers at least once):
 * - `next_attempt_at`: when the message scheduled for its next try is due (set on relay, after a
 *   failed try: max(backoff, Retry-After), on a wait behind an older change, and whenever a copy is
 *   sent now). The watchdog re-sends only past it, and a fresh copy arriving before it is a
 *   duplicate (src/notify/deliver.ts).
 * - `lease_until`: set by claimDelivery while one copy POSTs; cleared when that copy records its
 *   outcome. See claimDelivery for what it guarantees.
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
    sql`INSERT OR IGNORE INTO change_deliveries (seq, subject_key, status, attempts, updated_at, next_attempt_at)
        SELECT seq, provider || char(9) || subject, 'pending', 0, ${now}, ${now} FROM changes WHERE seq IN (${window}) AND ${NOT_MARKER}
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
  /** When the message scheduled for the next try is due (null: rows written before the column). */
  nextAttemptAt: number | null;
  /** A copy holds the delivery for its POST until then (null: nobody). */
  leaseUntil: number | null;
  /** null once the change was pruned from the feed. */
  change: ChangeRecord | null;
  /**
   * The subject's oldest older pending delivery, which must finish first; null when this one is
   * next. `dueAt`: when it is tried next (or its lease ends), whichever is later.
   */
  blocker: { seq: number; dueAt: number } | null;
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

/** A delivery row joined with its change (the change's columns as the feed reads them). */
interface LoadedRow extends Omit<ChangeRow, "seq" | "type"> {
  seq: number;
  subject_key: string;
  status: DeliveryStatus;
  attempts: number;
  updated_at: number;
  next_attempt_at: number | null;
  lease_until: number | null;
  change_seq: number | null;
  type: string;
  blocker_seq: number | null;
  blocker_due_at: number | null;
  disabled: number;
}

/** Everything one delivery attempt decides on, in one read (the blocker through the pending index). */
export async function loadDelivery(d1: D1Database, seq: number): Promise<LoadedDelivery | null> {
  const row = await d1
    .prepare(
      `SELECT d.seq, d.subject_key, d.status, d.attempts, d.updated_at, d.next_attempt_at, d.lease_until,
              c.seq AS change_seq, c.type, c.provider, c.organization_id, c.directory_id, c.subject, c.cause, c.source, ${redactedData("c")} AS data, c.occurred_at, c.recorded_at,
              b.seq AS blocker_seq, max(coalesce(b.next_attempt_at, b.updated_at), coalesce(b.lease_until, 0)) AS blocker_due_at,
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
    nextAttemptAt: row.next_attempt_at,
    leaseUntil: row.lease_until,
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
    blocker: row.blocker_seq === null ? null : { seq: row.blocker_seq, dueAt: row.blocker_due_at ?? 0 },
    endpointDisabled: row.disabled === 1,
  };
}

/** How long a lease outlives the POST's own timeout: signing, the send spacing, settling. */
export const LEASE_MARGIN_MS = 30_000;
/** The lease of a POST with the default NOTIFY_TIMEOUT_MS (10 s). */
export const DEFAULT_LEASE_MS = 10_000 + LEASE_MARGIN_MS;

/** When a lease taken at `now` for a POST that times out after `timeoutMs` ends. */
export const leaseEnd = (now: number, timeoutMs: number) => now + timeoutMs + LEASE_MARGIN_MS;

/**
 * Takes the lease on a pending delivery for one POST, until `until`; only its holder POSTs. One
 * statement, so of any number of copies racing, at most one wins while the lease runs; it also
 * fails if another copy rescheduled the delivery (`next_attempt_at`) since `loaded` was read, so a
 * copy cannot try again right after another one's failed try.
 *
 * What this guarantees: no two POSTs of one change start while a lease is live, and a POST starts
 * within the lease (its fetch times out before `until` minus LEASE_MARGIN_MS). It does not stop a
 * holder stalled past its lease (an invocation frozen for longer than the margin) from overlapping
 * the next holder; its late outcome is then not recorded (recordOutcome checks the lease). A holder
 * that dies leaves the lease to expire: Queues redelivers its message, or the watchdog re-sends.
 * Separate (sequential) tries of one change stay possible, so the app must still dedupe by
 * webhook-id, as Standard Webhooks asks.
 *
 * `until` doubles as the holder's token: a new lease starts only after the last one ended, so it
 * is always later than any earlier one.
 */
export async function claimDelivery(d1: D1Database, loaded: Pick<LoadedDelivery, "seq" | "nextAttemptAt">, now: number, until: number = now + DEFAULT_LEASE_MS): Promise<boolean> {
  const result = await d1
    .prepare(
      `UPDATE change_deliveries SET lease_until = ?1
       WHERE seq = ?2 AND status = 'pending' AND (lease_until IS NULL OR lease_until < ?3) AND next_attempt_at IS ?4`,
    )
    .bind(until, loaded.seq, now, loaded.nextAttemptAt)
    .run();
  return result.meta.changes === 1;
}

/** What one attempt (or the dead-letter consumer) concluded, as recorded. */
export type DeliveryOutcome =
  | { kind: "delivered"; status: number }
  | { kind: "rejected"; status: number; error: "rejected" | "redirected" }
  /** 410: the endpoint is switched off; this delivery stays pending, untried. */
  | { kind: "gone"; status: number }
  /** A failed try: pending again, tried after `delaySeconds` (backoff or Retry-After), or `failed` when it was the last one allowed. */
  | { kind: "retry"; status: number | null; error: "http_error" | "timeout" | "network_error"; giveUp: boolean; delaySeconds: number }
  /** Given up without a try. */
  | { kind: "abandoned"; error: "dead_lettered" | "change_pruned" };

/**
 * Records an outcome and ends the lease. Only a delivery still pending changes (a replay or the
 * dead-letter consumer meanwhile wins); with `lease` (the outcome of a POST), only while that lease
 * is still this holder's: a holder that overran it does not overwrite the next holder's state.
 * Whether it was recorded.
 */
export async function recordOutcome(d1: D1Database, seq: number, outcome: DeliveryOutcome, now: number, lease: number | null = null): Promise<boolean> {
  const pending = lease === null ? sql`seq = ${seq} AND status = 'pending'` : sql`seq = ${seq} AND status = 'pending' AND lease_until = ${lease}`;
  const changed = (results: D1Result[]) => (results.at(-1)?.meta.changes ?? 0) > 0;
  switch (outcome.kind) {
    case "delivered":
      return changed(
        await runAtomically(d1, [
          sql`UPDATE change_deliveries SET status = 'delivered', attempts = attempts + 1, last_status = ${outcome.status}, last_error = NULL, updated_at = ${now}, delivered_at = ${now}, next_attempt_at = NULL, lease_until = NULL WHERE ${pending}`,
        ]),
      );
    case "rejected":
      return changed(
        await runAtomically(d1, [
          sql`UPDATE change_deliveries SET status = 'rejected', attempts = attempts + 1, last_status = ${outcome.status}, last_error = ${outcome.error}, updated_at = ${now}, next_attempt_at = NULL, lease_until = NULL WHERE ${pending}`,
        ]),
      );
    case "gone":
      // Not counted as a try: the app asked us to stop, and an operator decides when to resume
      // (enabling re-sends each subject's pending head).
      return changed(
        await runAtomically(d1, [
          disableEndpointStatement(now, `${outcome.status} from the endpoint`),
          sql`UPDATE change_deliveries SET last_status = ${outcome.status}, last_error = 'endpoint_gone', updated_at = ${now}, lease_until = NULL WHERE ${pending}`,
        ]),
      );
    case "retry": {
      const next = outcome.giveUp ? null : now + outcome.delaySeconds * 1000;
      return changed(
        await runAtomically(d1, [
          sql`UPDATE change_deliveries SET status = ${outcome.giveUp ? "failed" : "pending"}, attempts = attempts + 1, last_status = ${outcome.status}, last_error = ${outcome.error}, updated_at = ${now}, next_attempt_at = ${next}, lease_until = NULL WHERE ${pending}`,
        ]),
      );
    }
    case "abandoned":
      return changed(
        await runAtomically(d1, [
          sql`UPDATE change_deliveries SET status = 'failed', last_error = ${outcome.error}, updated_at = ${now}, next_attempt_at = NULL, lease_until = NULL WHERE ${pending}`,
        ]),
      );
  }
}

/**
 * The subject's next pending delivery after `seq`, scheduled for now (its message is sent next):
 * called once `seq` is settled. One statement; null when the subject has nothing pending.
 */
export async function scheduleNextOfSubject(d1: D1Database, subjectKey: string, seq: number, now: number): Promise<number | null> {
  const row = await d1
    .prepare(
      `UPDATE change_deliveries SET next_attempt_at = ?1
       WHERE seq = (SELECT seq FROM change_deliveries WHERE subject_key = ?2 AND status = 'pending' AND seq > ?3 ORDER BY seq LIMIT 1)
       RETURNING seq`,
    )
    .bind(now, subjectKey, seq)
    .first<{ seq: number }>();
  return row?.seq ?? null;
}

/**
 * A delivery waiting behind an older pending one of its subject looks again at `at`. Only while it
 * still waits (one statement): if the older one settled meanwhile, its settle already scheduled
 * this one for now, and that must not be pushed back. Whether it was recorded.
 */
export async function scheduleWait(d1: D1Database, seq: number, at: number): Promise<boolean> {
  const result = await d1
    .prepare(
      `UPDATE change_deliveries SET next_attempt_at = ?1
       WHERE seq = ?2 AND status = 'pending'
         AND EXISTS (SELECT 1 FROM change_deliveries AS o WHERE o.subject_key = change_deliveries.subject_key AND o.status = 'pending' AND o.seq < change_deliveries.seq)`,
    )
    .bind(at, seq)
    .run();
  return result.meta.changes === 1;
}

/**
 * Watchdog: the pending deliveries whose message is lost, scheduled for now, oldest first, at most
 * `limit`: next in their subject's order (one waiting behind an older change is never chosen: it
 * goes when that one settles), not leased, and due before `dueBefore` (`next_attempt_at`, which
 * already includes any Retry-After; `updated_at` for rows without one). Choosing and scheduling is
 * one statement, so two watchdog passes cannot both pick a delivery. Reads the pending rows only
 * (the partial index, forced: without statistics SQLite would scan the table for the seq order).
 */
export async function scheduleStalledHeads(d1: D1Database, now: number, dueBefore: number, limit: number): Promise<number[]> {
  const { results } = await d1
    .prepare(
      `UPDATE change_deliveries SET next_attempt_at = ?1
       WHERE seq IN (
         SELECT d.seq FROM change_deliveries AS d INDEXED BY change_deliveries_pending_idx
         WHERE d.status = 'pending' AND coalesce(d.next_attempt_at, d.updated_at) < ?2 AND (d.lease_until IS NULL OR d.lease_until < ?1)
           AND NOT EXISTS (SELECT 1 FROM change_deliveries AS o WHERE o.subject_key = d.subject_key AND o.status = 'pending' AND o.seq < d.seq)
         ORDER BY d.seq LIMIT ?3)
       RETURNING seq`,
    )
    .bind(now, dueBefore, limit)
    .all<{ seq: number }>();
  return results.map((row) => row.seq).sort((a, b) => a - b);
}

/** The oldest pending delivery of each subject (what to send when the endpoint comes back). */
export async function pendingHeads(d1: D1Database, limit: number): Promise<number[]> {
  const { results } = await d1
    .prepare("SELECT min(seq) AS seq FROM change_deliveries WHERE status = 'pending' GROUP BY subject_key ORDER BY 1 LIMIT ?")
    .bind(limit)
    .all<{ seq: number }>();
  return results.map((row) => row.seq);
}

/** Pending deliveries whose message is sent now: due now, so the watchdog waits its grace again. */
export async function scheduleNow(d1: D1Database, seqs: number[], now: number): Promise<void> {
  if (seqs.length === 0) return;
  await runAtomically(d1, [sql`UPDATE change_deliveries SET next_attempt_at = ${now} WHERE status = 'pending' AND seq IN (SELECT value FROM json_each(${JSON.stringify(seqs)}))`]);
}

/**
 * Puts changes back to pending with a fresh count of tries (creating the row of a change not yet
 * relayed), due now: one change, or the next `limit` from `fromSeq`. Returns the seqs, in order.
 * A lease is left alone: a copy POSTing the change right now finishes first.
 */
export async function resetToPending(d1: D1Database, range: { seq: number } | { fromSeq: number; limit: number }, now: number): Promise<number[]> {
  const selection = "seq" in range ? sql`seq = ${range.seq}` : sql`seq >= ${range.fromSeq} ORDER BY seq LIMIT ${range.limit}`;
  const [result] = await runAtomically(d1, [
    sql`INSERT INTO change_deliveries (seq, subject_key, status, attempts, updated_at, next_attempt_at)
        SELECT seq, provider || char(9) || subject, 'pending', 0, ${now}, ${now} FROM changes WHERE ${NOT_MARKER} AND ${selection}
        ON CONFLICT (seq) DO UPDATE SET status = 'pending', attempts = 0, last_status = NULL, last_error = NULL, delivered_at = NULL,
          updated_at = excluded.updated_at, next_attempt_at = excluded.next_attempt_at
        RETURNING seq`,
  ]);
  return ((result?.results ?? []) as { seq: number }[]).map((row) => row.seq).sort((a, b) => a - b);
}

export type DeliveryCounts = Record<DeliveryStatus, number>;

/**
 * Deliveries by status, for GET /admin/notifications, in one statement. Cost: `pending` is counted
 * from the partial index change_deliveries_pending_idx (one index entry read per pending delivery);
 * the three ended states need one pass over the table (no index on status), about one row read
 * per change still in the retention window, since pruning deletes ended deliveries with their
 * change (src/changes/retention.ts). Admin-only and called by hand, so that is paid per call,
 * never per change; a large feed makes it the priciest read of the admin API.
 */
export async function countDeliveries(d1: D1Database): Promise<DeliveryCounts> {
  const row = await d1
    .prepare(
      `SELECT (SELECT count(*) FROM change_deliveries WHERE status = 'pending') AS pending,
              count(*) FILTER (WHERE status = 'delivered') AS delivered,
              count(*) FILTER (WHERE status = 'rejected') AS rejected,
              count(*) FILTER (WHERE status = 'failed') AS failed
       FROM change_deliveries WHERE status <> 'pending'`,
    )
    .first<DeliveryCounts>();
  return { pending: row?.pending ?? 0, delivered: row?.delivered ?? 0, rejected: row?.rejected ?? 0, failed: row?.failed ?? 0 };
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
