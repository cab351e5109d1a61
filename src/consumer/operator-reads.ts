import { and, desc, eq, getTableColumns, gte, lte, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { deadLetters, eventLog, type EventStatus } from "../directory/schema";

/** Reads of the event log and dead letters, for operator routes. */

export type EventRow = typeof eventLog.$inferSelect;
export type DeadLetterRow = typeof deadLetters.$inferSelect;

/** Position in (received_at DESC, provider, event_id) order. */
export interface EventCursor {
  receivedAt: number;
  provider: string;
  eventId: string;
}

export async function listEvents(
  d1: D1Database,
  filters: { status?: EventStatus; provider?: string; since?: number; until?: number },
  page: { after: EventCursor | null; limit: number },
): Promise<EventRow[]> {
  // A page says whether a message or delivery is stored, never its content: a stored delivery can
  // be a megabyte, and 200 of them must not be read to draw one list page.
  const { message: _message, delivery: _delivery, ...columns } = getTableColumns(eventLog);
  const stored = (column: typeof eventLog.message | typeof eventLog.delivery) => sql<string | null>`CASE WHEN ${column} IS NULL THEN NULL ELSE '' END`;
  return drizzle(d1)
    .select({ ...columns, message: stored(eventLog.message), delivery: stored(eventLog.delivery) })
    .from(eventLog)
    .where(
      and(
        filters.status === undefined ? undefined : eq(eventLog.status, filters.status),
        filters.provider === undefined ? undefined : eq(eventLog.provider, filters.provider),
        filters.since === undefined ? undefined : gte(eventLog.receivedAt, filters.since),
        filters.until === undefined ? undefined : lte(eventLog.receivedAt, filters.until),
        page.after
          ? sql`(${eventLog.receivedAt} < ${page.after.receivedAt} OR (${eventLog.receivedAt} = ${page.after.receivedAt} AND (${eventLog.provider}, ${eventLog.eventId}) > (${page.after.provider}, ${page.after.eventId})))`
          : undefined,
      ),
    )
    .orderBy(desc(eventLog.receivedAt), eventLog.provider, eventLog.eventId)
    .limit(page.limit)
    .all();
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
