import { and, desc, eq, getTableColumns, gte, lte, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { deadLetters, eventLog, eventStatuses, type EventStatus } from "../directory/schema";

/** Reads of the event log and dead letters, for operator routes. */

export type EventRow = typeof eventLog.$inferSelect;
export type DeadLetterRow = typeof deadLetters.$inferSelect;

/**
 * A position in the event log: in (received_at DESC, provider, event_id) order for events that
 * need attention, or in (provider, event_id) key order (`receivedAt` null) for the rest.
 */
export interface EventCursor {
  receivedAt: number | null;
  provider: string;
  eventId: string;
}

/** Statuses an operator acts on; the only rows event_log_attention_idx holds (migration 0010). */
export const ATTENTION_STATUSES: readonly EventStatus[] = eventStatuses.filter((status) => status !== "applied" && status !== "ignored");

/**
 * Keys one page of finished events looks at, at most. No index orders applied events by time (an
 * applied event writes its row and no index entry), so such a page walks the primary key from its
 * cursor and stops after this many rows whatever it found: it may hold fewer than `limit` events,
 * and its cursor says where the next one goes on.
 */
export const EVENT_SCAN_WINDOW = 5_000;

export interface EventPage {
  rows: EventRow[];
  next: EventCursor | null;
}

/**
 * A page of the event log. Events that need attention (`status` = failed, held, …) come newest
 * first through their partial index; every other listing (applied, ignored, or no status) comes in
 * key order, bounded by EVENT_SCAN_WINDOW keys per page. An attention listing filtered by what the
 * index does not hold (provider, source type) looks at EVENT_SCAN_WINDOW index entries at most, too.
 */
export async function listEvents(
  d1: D1Database,
  filters: { status?: EventStatus; provider?: string; sourceType?: string; since?: number; until?: number },
  page: { after: EventCursor | null; limit: number },
): Promise<EventPage> {
  const selection = listSelection();
  const filtered = and(
    filters.status === undefined ? undefined : eq(eventLog.status, filters.status),
    filters.provider === undefined ? undefined : eq(eventLog.provider, filters.provider),
    filters.sourceType === undefined ? undefined : eq(eventLog.sourceType, filters.sourceType),
    filters.since === undefined ? undefined : gte(eventLog.receivedAt, filters.since),
    filters.until === undefined ? undefined : lte(eventLog.receivedAt, filters.until),
  );
  const db = drizzle(d1);

  if (filters.status !== undefined && ATTENTION_STATUSES.includes(filters.status)) {
    if (filters.provider !== undefined || filters.sourceType !== undefined) return attentionWindow(d1, { ...filters, status: filters.status }, page);
    const after = page.after?.receivedAt != null ? page.after : null;
    const rows = await db
      .select(selection)
      .from(eventLog)
      .where(
        and(
          // Spelled as the partial index's WHERE, so SQLite uses it.
          sql`status NOT IN ('applied', 'ignored')`,
          filtered,
          after
            ? sql`(${eventLog.receivedAt} < ${after.receivedAt} OR (${eventLog.receivedAt} = ${after.receivedAt} AND (${eventLog.provider}, ${eventLog.eventId}) > (${after.provider}, ${after.eventId})))`
            : undefined,
        ),
      )
      .orderBy(desc(eventLog.receivedAt), eventLog.provider, eventLog.eventId)
      .limit(page.limit + 1)
      .all();
    const shown = rows.slice(0, page.limit);
    const last = shown.at(-1);
    return { rows: shown, next: rows.length > page.limit && last ? { receivedAt: last.receivedAt, provider: last.provider, eventId: last.eventId } : null };
  }

  const after = page.after ?? { receivedAt: null, provider: "", eventId: "" };
  // The window: the next EVENT_SCAN_WINDOW keys after the cursor (within the provider, if given).
  // It is a subquery with its own LIMIT, so the page reads at most the window whatever its filters
  // match: a bound compared to a row value computed by a subquery would bound only the provider
  // column, and in a one-provider log a filtered page would read to the end of the table.
  const afterCursor =
    filters.provider === undefined
      ? sql`(${eventLog.provider}, ${eventLog.eventId}) > (${after.provider}, ${after.eventId})`
      : and(eq(eventLog.provider, filters.provider), sql`${eventLog.eventId} > ${after.provider === filters.provider ? after.eventId : ""}`);
  const windowed = db.select(selection).from(eventLog).where(afterCursor).orderBy(eventLog.provider, eventLog.eventId).limit(EVENT_SCAN_WINDOW).as("windowed");
  const pageQuery = db
    .select()
    .from(windowed)
    .where(
      and(
        filters.status === undefined ? undefined : eq(windowed.status, filters.status),
        filters.sourceType === undefined ? undefined : eq(windowed.sourceType, filters.sourceType),
        filters.since === undefined ? undefined : gte(windowed.receivedAt, filters.since),
        filters.until === undefined ? undefined : lte(windowed.receivedAt, filters.until),
      ),
    )
    .orderBy(windowed.provider, windowed.eventId)
    .limit(page.limit)
    .toSQL();
  // The window's last key, when the window is full (fewer keys left: the listing ends in it).
  const endQuery = db
    .select({ provider: eventLog.provider, eventId: eventLog.eventId })
    .from(eventLog)
    .where(afterCursor)
    .orderBy(eventLog.provider, eventLog.eventId)
    .limit(1)
    .offset(EVENT_SCAN_WINDOW - 1)
    .toSQL();
  // One round trip: the page and the window's end, as two statements of a batch.
  const [pageResult, endResult] = await d1.batch([d1.prepare(pageQuery.sql).bind(...pageQuery.params), d1.prepare(endQuery.sql).bind(...endQuery.params)]);
  const rows = ((pageResult?.results ?? []) as Record<string, unknown>[]).map(eventRowFromColumns);
  const end = ((endResult?.results ?? []) as { provider: string; event_id: string }[])[0];
  const last = rows.at(-1);
  // Full page: go on after its last event. Short page from a full window: go on after the window.
  const next: EventCursor | null =
    rows.length === page.limit && last
      ? { receivedAt: null, provider: last.provider, eventId: last.eventId }
      : end
        ? { receivedAt: null, provider: end.provider, eventId: end.event_id }
        : null;
  return { rows, next };
}

/**
 * A list page's columns. A page says whether a message or delivery is stored, never its content: a
 * stored delivery can be a megabyte, and 200 of them must not be read to draw one list page.
 */
function listSelection() {
  const { message: _message, delivery: _delivery, ...columns } = getTableColumns(eventLog);
  const stored = (column: typeof eventLog.message | typeof eventLog.delivery) => sql<string | null>`CASE WHEN ${column} IS NULL THEN NULL ELSE '' END`;
  return { ...columns, message: stored(eventLog.message).as("message"), delivery: stored(eventLog.delivery).as("delivery") };
}

/**
 * Events that need attention, newest first, filtered by columns the attention index does not order
 * by (provider, source type): the next EVENT_SCAN_WINDOW index entries of the status (and time
 * range) after the cursor, filtered, so a provider with no failed events among a million failed
 * events of another reads one window, not the million. A short page from a full window goes on
 * after the window's last entry, as key-order pages do.
 *
 * Ties on received_at are broken by (provider, event_id) descending, the index's own order read
 * backwards: the ascending tie-break of the unfiltered listing would sort each window once more.
 */
async function attentionWindow(
  d1: D1Database,
  filters: { status: EventStatus; provider?: string; sourceType?: string; since?: number; until?: number },
  page: { after: EventCursor | null; limit: number },
): Promise<EventPage> {
  const db = drizzle(d1);
  const after = page.after?.receivedAt != null ? page.after : null;
  const indexed = and(
    // Spelled as the partial index's WHERE, so SQLite uses it.
    sql`status NOT IN ('applied', 'ignored')`,
    eq(eventLog.status, filters.status),
    filters.since === undefined ? undefined : gte(eventLog.receivedAt, filters.since),
    filters.until === undefined ? undefined : lte(eventLog.receivedAt, filters.until),
    after ? sql`(${eventLog.receivedAt}, ${eventLog.provider}, ${eventLog.eventId}) < (${after.receivedAt}, ${after.provider}, ${after.eventId})` : undefined,
  );
  const order = [desc(eventLog.receivedAt), desc(eventLog.provider), desc(eventLog.eventId)] as const;
  const windowed = db.select(listSelection()).from(eventLog).where(indexed).orderBy(...order).limit(EVENT_SCAN_WINDOW).as("windowed");
  const pageQuery = db
    .select()
    .from(windowed)
    .where(
      and(
        filters.provider === undefined ? undefined : eq(windowed.provider, filters.provider),
        filters.sourceType === undefined ? undefined : eq(windowed.sourceType, filters.sourceType),
      ),
    )
    .orderBy(desc(windowed.receivedAt), desc(windowed.provider), desc(windowed.eventId))
    .limit(page.limit + 1)
    .toSQL();
  const endQuery = db
    .select({ receivedAt: eventLog.receivedAt, provider: eventLog.provider, eventId: eventLog.eventId })
    .from(eventLog)
    .where(indexed)
    .orderBy(...order)
    .limit(1)
    .offset(EVENT_SCAN_WINDOW - 1)
    .toSQL();
  // One round trip: the page and the window's end, as two statements of a batch.
  const [pageResult, endResult] = await d1.batch([d1.prepare(pageQuery.sql).bind(...pageQuery.params), d1.prepare(endQuery.sql).bind(...endQuery.params)]);
  const rows = ((pageResult?.results ?? []) as Record<string, unknown>[]).map(eventRowFromColumns);
  const end = ((endResult?.results ?? []) as { received_at: number; provider: string; event_id: string }[])[0];
  const shown = rows.slice(0, page.limit);
  const last = shown.at(-1);
  const next: EventCursor | null =
    rows.length > page.limit && last
      ? { receivedAt: last.receivedAt, provider: last.provider, eventId: last.eventId }
      : end
        ? { receivedAt: end.received_at, provider: end.provider, eventId: end.event_id }
        : null;
  return { rows: shown, next };
}

/** A raw event_log row (snake_case, as the page query selects it) as drizzle would map it. */
function eventRowFromColumns(row: Record<string, unknown>): EventRow {
  return {
    provider: row.provider as string,
    eventId: row.event_id as string,
    sourceType: row.source_type as string,
    status: row.status as EventStatus,
    reason: (row.reason ?? null) as string | null,
    error: (row.error ?? null) as string | null,
    attempts: row.attempts as number,
    occurredAt: (row.occurred_at ?? null) as number | null,
    receivedAt: row.received_at as number,
    updatedAt: row.updated_at as number,
    message: (row.message ?? null) as string | null,
    subject: (row.subject ?? null) as string | null,
    delivery: (row.delivery ?? null) as string | null,
    absentSince: (row.absent_since ?? null) as number | null,
  };
}

export async function getEvent(d1: D1Database, provider: string, eventId: string): Promise<EventRow | null> {
  return (await drizzle(d1).select().from(eventLog).where(and(eq(eventLog.provider, provider), eq(eventLog.eventId, eventId))).get()) ?? null;
}

/** Newest first, keyset on (recorded_at DESC, message_id). */
export async function listDeadLetters(d1: D1Database, page: { after: { recordedAt: number; messageId: string } | null; limit: number }): Promise<DeadLetterRow[]> {
  return drizzle(d1)
    .select()
    .from(deadLetters)
    .where(
      page.after === null
        ? undefined
        : sql`(${deadLetters.recordedAt} < ${page.after.recordedAt} OR (${deadLetters.recordedAt} = ${page.after.recordedAt} AND ${deadLetters.messageId} > ${page.after.messageId}))`,
    )
    .orderBy(desc(deadLetters.recordedAt), deadLetters.messageId)
    .limit(page.limit)
    .all();
}

export async function getDeadLetter(d1: D1Database, messageId: string): Promise<DeadLetterRow | null> {
  return (await drizzle(d1).select().from(deadLetters).where(eq(deadLetters.messageId, messageId)).get()) ?? null;
}
