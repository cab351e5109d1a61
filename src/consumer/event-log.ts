import { sql, type SQL } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { DeliveryMessage, EventMessage, QueueMessage } from "../queue-message";
import { runAtomically } from "../d1";
import { countOutcomes } from "./pipeline-hourly";

/**
 * The only code that writes event_log, work_claims and dead_letters (retention deletes old rows).
 *
 * event_log is the exactly-once authority: an event is applied once its row says `applied`, and
 * that row is written in the same D1 batch as the event's effects. The batch first re-inserts the
 * rows of any of its events already applied, with a plain INSERT, so two consumers racing on one
 * event cannot both commit: the loser's batch fails on the primary key and rolls back whole. (One
 * table for both jobs is one row written per event instead of two: migration 0010.)
 */

export interface EventKey {
  provider: string;
  eventId: string;
}

export function keyOf(message: DeliveryMessage): EventKey {
  return message.kind === "event"
    ? { provider: message.event.provider, eventId: message.event.eventId }
    : { provider: message.provider, eventId: message.eventId };
}

export const keyString = (key: EventKey) => `${key.provider}\u0000${key.eventId}`;

/** The user or group a message is about, so that erasing a user can find its messages. */
export function subjectOf(message: DeliveryMessage): string | null {
  if (message.kind !== "event") return null;
  const event = message.event;
  switch (event.kind) {
    case "user_upserted":
    case "user_deleted":
      return event.user.externalId;
    case "user_refresh":
    case "user_forgotten":
      return event.externalId;
    case "group_upserted":
    case "group_deleted":
      return event.group.externalId;
    case "group_members_changed":
      return event.groupExternalId;
    case "directory_changed":
      return event.directory.id;
  }
}

const MAX_ERROR_LENGTH = 500;

/**
 * The keys among `keys` already applied (with `held`, or held for an operator): one read, whatever
 * the batch size.
 */
export async function findProcessed(db: DrizzleD1Database, keys: EventKey[], options: { held?: boolean } = {}): Promise<Set<string>> {
  if (keys.length === 0) return new Set();
  const rows = await db.all<{ provider: string; event_id: string }>(sql`
    SELECT p.provider, p.event_id FROM event_log AS p
    JOIN json_each(${JSON.stringify(keys.map((k) => [k.provider, k.eventId]))}) AS k
      ON p.provider = k.value ->> 0 AND p.event_id = k.value ->> 1
    WHERE p.status = 'applied'${options.held ? sql` OR p.status = 'held'` : sql``}`);
  return new Set(rows.map((row) => keyString({ provider: row.provider, eventId: row.event_id })));
}

/**
 * Claims a unit of internal work (a reconciliation step) exactly once: a plain INSERT in the same
 * batch as the work's writes, so a second worker doing the same step fails and rolls back whole.
 */
export function claimOnce(scope: string, key: string, now: number): SQL {
  return sql`INSERT INTO work_claims (scope, key, claimed_at) VALUES (${scope}, ${key}, ${now})`;
}

/** Recognizes a batch that failed because its claim was already taken (another worker did the step). */
export function isClaimTaken(error: unknown): boolean {
  return error instanceof Error && /UNIQUE constraint failed: work_claims/.test(error.message);
}

export interface OutcomeRow {
  message: DeliveryMessage;
  attempts: number;
  /** For applied events: what the upstream said, if noteworthy (e.g. `forgotten_upstream`). */
  note: string | null;
}

/**
 * Logs every outcome in the batch; an applied event's row is its exactly-once record. Two
 * statements: the race guard (a plain INSERT of any row already `applied`, which fails on the
 * primary key and aborts the batch), then the rows themselves.
 */
export function recordOutcomes(rows: OutcomeRow[], now: number): SQL[] {
  const applied = rows.filter((row) => row.message.kind === "event").map((row) => keyOf(row.message));
  const logged = rows.map(({ message, attempts, note }) => ({
    ...keyOf(message),
    subject: subjectOf(message),
    sourceType: message.kind === "event" ? message.event.sourceType : message.sourceType,
    status: message.kind === "event" ? "applied" : "ignored",
    reason: message.kind === "ignored" ? message.reason : note,
    occurredAt: message.kind === "event" ? message.event.occurredAt : null,
    receivedAt: message.receivedAt,
    attempts,
  }));
  const statements: SQL[] = [];
  if (applied.length > 0) {
    statements.push(sql`
      INSERT INTO event_log (provider, event_id, source_type, status, attempts, received_at, updated_at)
      SELECT e.provider, e.event_id, e.source_type, e.status, e.attempts, e.received_at, e.updated_at
      FROM event_log AS e JOIN json_each(${JSON.stringify(applied)}) AS r
        ON e.provider = r.value ->> 'provider' AND e.event_id = r.value ->> 'eventId'
      WHERE e.status = 'applied'`);
  }
  // The hour's counters, before the rows they count (pipeline-hourly.ts).
  statements.push(...countOutcomes(logged.map(({ provider, eventId, status }) => ({ provider, eventId, status: status as "applied" | "ignored" })), now));
  // The stored message is cleared once an event is applied: it is only kept for replay.
  statements.push(sql`
    INSERT INTO event_log (provider, event_id, subject, source_type, status, reason, error, attempts,
                           occurred_at, received_at, updated_at, message)
    SELECT r.value ->> 'provider', r.value ->> 'eventId', r.value ->> 'subject', r.value ->> 'sourceType',
           r.value ->> 'status', r.value ->> 'reason', NULL, r.value ->> 'attempts', r.value ->> 'occurredAt',
           r.value ->> 'receivedAt', ${now}, NULL
    FROM json_each(${JSON.stringify(logged)}) AS r WHERE true
    ON CONFLICT (provider, event_id) DO UPDATE SET
      status = excluded.status, reason = excluded.reason, error = NULL, attempts = excluded.attempts,
      occurred_at = excluded.occurred_at, updated_at = excluded.updated_at, message = NULL, delivery = NULL`);
  return statements;
}

/** A failed attempt that the queue will retry. Never downgrades an event already applied. */
export async function recordFailure(d1: D1Database, row: OutcomeRow, error: unknown, now: number): Promise<void> {
  const { message, attempts } = row;
  const key = keyOf(message);
  const sourceType = message.kind === "event" ? message.event.sourceType : message.sourceType;
  await runAtomically(d1, [
    ...countOutcomes([{ ...key, status: "failed" }], now),
    sql`
    INSERT INTO event_log (provider, event_id, subject, source_type, status, error, attempts, received_at, updated_at, message)
    VALUES (${key.provider}, ${key.eventId}, ${subjectOf(message)}, ${sourceType}, 'failed', ${describeError(error)}, ${attempts},
            ${message.receivedAt}, ${now}, ${JSON.stringify(message)})
    ON CONFLICT (provider, event_id) DO UPDATE SET
      status = 'failed', error = excluded.error, attempts = excluded.attempts,
      updated_at = excluded.updated_at, message = excluded.message
    WHERE event_log.status NOT IN ('applied', 'ignored')`]);
}

/**
 * An event that did not apply and is not being retried by the queue: `held` (waiting for an
 * operator to release it) or `failed` with a stable code (the upstream never confirmed it, or it
 * is waiting to look again). The message is stored so it can be released or replayed. Never
 * downgrades an event already applied or ignored.
 */
export function recordUnfinished(
  row: OutcomeRow,
  outcome: { status: "held" | "failed"; code: string; absentSince?: number },
  now: number,
): SQL {
  const { message, attempts } = row;
  const key = keyOf(message);
  const sourceType = message.kind === "event" ? message.event.sourceType : message.sourceType;
  const reason = outcome.status === "held" ? outcome.code : null;
  const error = outcome.status === "failed" ? outcome.code : null;
  return sql`
    INSERT INTO event_log (provider, event_id, subject, source_type, status, reason, error, attempts, occurred_at,
                           received_at, updated_at, message, absent_since)
    VALUES (${key.provider}, ${key.eventId}, ${subjectOf(message)}, ${sourceType}, ${outcome.status}, ${reason}, ${error}, ${attempts},
            ${message.kind === "event" ? message.event.occurredAt : null}, ${message.receivedAt}, ${now}, ${JSON.stringify(message)},
            ${outcome.absentSince ?? null})
    ON CONFLICT (provider, event_id) DO UPDATE SET
      status = excluded.status, reason = excluded.reason, error = excluded.error, attempts = excluded.attempts,
      updated_at = excluded.updated_at, message = excluded.message,
      absent_since = coalesce(excluded.absent_since, event_log.absent_since)
    WHERE event_log.status NOT IN ('applied', 'ignored')`;
}

/**
 * A held write whose id is derived from what it changes (a SCIM deactivation or delete: the user
 * and the version it builds on), so the IdP's retries land on one row. The first message held is
 * the one kept: a retry only counts (`attempts`) and touches `updated_at`, so the message an
 * operator inspected is the message a release applies, whatever arrives with the same id later.
 */
export function recordHeldOnce(row: OutcomeRow, code: string, now: number): SQL {
  const { message } = row;
  const key = keyOf(message);
  const sourceType = message.kind === "event" ? message.event.sourceType : message.sourceType;
  return sql`
    INSERT INTO event_log (provider, event_id, subject, source_type, status, reason, attempts, occurred_at, received_at, updated_at, message)
    VALUES (${key.provider}, ${key.eventId}, ${subjectOf(message)}, ${sourceType}, 'held', ${code}, 1,
            ${message.kind === "event" ? message.event.occurredAt : null}, ${message.receivedAt}, ${now}, ${JSON.stringify(message)})
    ON CONFLICT (provider, event_id) DO UPDATE SET attempts = event_log.attempts + 1, updated_at = excluded.updated_at
    WHERE event_log.status = 'held'`;
}

/**
 * A message the queue gave up on. The body is stored verbatim (even if it does not decode) and
 * the event, when known, is marked dead_lettered so operators can find and replay it. Its last
 * error and attempt count stay as the main consumer recorded them: the dead-letter queue counts
 * its own deliveries from 1 again.
 */
export async function recordDeadLetter(
  d1: D1Database,
  input: { messageId: string; body: string; message: QueueMessage | null },
  now: number,
): Promise<void> {
  const delivery = input.message && (input.message.kind === "event" || input.message.kind === "ignored") ? input.message : null;
  const key = delivery ? keyOf(delivery) : null;
  const statements = [
    // Counted once per event entering dead_lettered (pipeline-hourly.ts), before the row changes.
    ...(key ? countOutcomes([{ ...key, status: "dead_lettered" }], now) : []),
    sql`
    INSERT INTO dead_letters (message_id, provider, event_id, subject, body, recorded_at)
    VALUES (${input.messageId}, ${key?.provider ?? null}, ${key?.eventId ?? null}, ${delivery ? subjectOf(delivery) : null},
            ${input.body}, ${now})
    ON CONFLICT (message_id) DO NOTHING`,
  ];
  if (delivery && key) {
    const sourceType = delivery.kind === "event" ? delivery.event.sourceType : delivery.sourceType;
    statements.push(sql`
    INSERT INTO event_log (provider, event_id, subject, source_type, status, error, received_at, updated_at, message)
    VALUES (${key.provider}, ${key.eventId}, ${subjectOf(delivery)}, ${sourceType}, 'dead_lettered', 'max_retries_exceeded',
            ${delivery.receivedAt}, ${now}, ${input.body})
    ON CONFLICT (provider, event_id) DO UPDATE SET
      status = 'dead_lettered', error = coalesce(event_log.error, excluded.error),
      updated_at = excluded.updated_at, message = excluded.message
    WHERE event_log.status NOT IN ('applied', 'ignored')`);
  }
  await runAtomically(d1, statements);
}

/**
 * The rows of a bulk-import chunk the queue gave up on (src/import/consume.ts): each row not yet
 * applied becomes a dead letter of its own, holding that row's event message (`messageId` is the
 * chunk's message id and the row number), and its event is marked dead_lettered, so every row is
 * found, replayed and pruned like any dead-lettered event. Set-based: three statements, whatever
 * the chunk's size.
 */
export async function recordDeadLetteredRows(d1: D1Database, rows: { messageId: string; message: EventMessage }[], now: number): Promise<void> {
  if (rows.length === 0) return;
  const payload = JSON.stringify(
    rows.map(({ messageId, message }) => ({
      messageId,
      ...keyOf(message),
      subject: subjectOf(message),
      sourceType: message.event.sourceType,
      receivedAt: message.receivedAt,
      body: JSON.stringify(message),
    })),
  );
  // A row the destructive guard held stays held for an operator's release: it is not a dead letter.
  const unfinished = sql`NOT EXISTS (SELECT 1 FROM event_log AS e WHERE e.provider = r.value ->> 'provider'
    AND e.event_id = r.value ->> 'eventId' AND e.status IN ('applied', 'ignored', 'held'))`;
  await runAtomically(d1, [
    ...countOutcomes(rows.map(({ message }) => ({ ...keyOf(message), status: "dead_lettered" as const })), now, "entered", ["applied", "ignored", "held"]),
    sql`
    INSERT INTO dead_letters (message_id, provider, event_id, subject, body, recorded_at)
    SELECT r.value ->> 'messageId', r.value ->> 'provider', r.value ->> 'eventId', r.value ->> 'subject', r.value ->> 'body', ${now}
    FROM json_each(${payload}) AS r WHERE ${unfinished}
    ON CONFLICT (message_id) DO NOTHING`,
    sql`
    INSERT INTO event_log (provider, event_id, subject, source_type, status, error, received_at, updated_at, message)
    SELECT r.value ->> 'provider', r.value ->> 'eventId', r.value ->> 'subject', r.value ->> 'sourceType', 'dead_lettered',
           'max_retries_exceeded', r.value ->> 'receivedAt', ${now}, r.value ->> 'body'
    FROM json_each(${payload}) AS r WHERE true
    ON CONFLICT (provider, event_id) DO UPDATE SET
      status = 'dead_lettered', error = coalesce(event_log.error, excluded.error),
      updated_at = excluded.updated_at, message = excluded.message
    WHERE event_log.status NOT IN ('applied', 'ignored', 'held')`,
  ]);
}

/**
 * Erasure reaches the operator tables too: stored queue messages about a forgotten user (kept for
 * replay) are deleted from the event log, and dead-letter bodies about them are redacted. The rows
 * stay, so operators still see that something happened and when.
 */
export function purgeMessagesAbout(subjects: { provider: string; subject: string }[]): SQL[] {
  if (subjects.length === 0) return [];
  const list = JSON.stringify(subjects);
  const matches = (table: string) => sql`
    (${sql.raw(table)}.provider, ${sql.raw(table)}.subject) IN (SELECT s.value ->> 'provider', s.value ->> 'subject' FROM json_each(${list}) AS s)`;
  return [
    sql`UPDATE event_log SET message = NULL, delivery = NULL WHERE (message IS NOT NULL OR delivery IS NOT NULL) AND ${matches("event_log")}`,
    sql`UPDATE dead_letters SET body = '{"redacted":"subject_forgotten"}' WHERE ${matches("dead_letters")}`,
  ];
}

/** Error text for operators: the message only, bounded; SQL errors name columns, never values. */
export function describeError(error: unknown): string {
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return text.slice(0, MAX_ERROR_LENGTH);
}
