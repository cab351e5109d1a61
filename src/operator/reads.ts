import { and, desc, eq, lt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { deadLetters, eventLog, reconcileRuns, type EventStatus } from "../directory/schema";
import type { ReconcileRun } from "../reconcile/runs";

/**
 * Reads behind the console's lists that the JSON API has no bounded form of.
 *
 * Dead letters and runs are listed newest first by rowid, not by their time columns: neither table
 * has an index on recorded_at / started_at alone, so `ORDER BY recorded_at DESC LIMIT 50` would read
 * the whole table to find the newest 50. A row's rowid is assigned one above the largest at insert
 * (neither table declares an INTEGER PRIMARY KEY or AUTOINCREMENT), so rowid order is the order
 * rows were recorded in, and walking the table's own b-tree backwards reads a page's rows and no
 * more. Retention (src/retention) windows these tables by rowid the same way.
 */

export interface DeadLetterListRow {
  /** The page position (rowid); opaque to callers, passed back as `before`. */
  position: number;
  messageId: string;
  provider: string | null;
  eventId: string | null;
  recordedAt: number;
  /** The message's `kind` (event, ignored, reconcile), or null when the body does not decode as JSON. */
  kind: string | null;
  /** Its event's status in the event log now (applied once a replay went through), null if none. */
  eventStatus: EventStatus | null;
}

/** A page of dead letters, newest recorded first, each with its event's current status (never the body). */
export async function deadLetterPage(d1: D1Database, page: { before: number | null; limit: number }): Promise<{ rows: DeadLetterListRow[]; next: number | null }> {
  const position = sql<number>`${deadLetters}.rowid`;
  const rows = await drizzle(d1)
    .select({
      position,
      messageId: deadLetters.messageId,
      provider: deadLetters.provider,
      eventId: deadLetters.eventId,
      recordedAt: deadLetters.recordedAt,
      kind: sql<string | null>`CASE WHEN json_valid(${deadLetters.body}) THEN ${deadLetters.body} ->> '$.kind' END`,
      eventStatus: eventLog.status,
    })
    .from(deadLetters)
    .leftJoin(eventLog, and(eq(eventLog.provider, deadLetters.provider), eq(eventLog.eventId, deadLetters.eventId)))
    .where(page.before === null ? undefined : lt(position, page.before))
    .orderBy(desc(position))
    .limit(page.limit + 1)
    .all();
  const shown = rows.slice(0, page.limit);
  return { rows: shown, next: rows.length > page.limit ? (shown.at(-1)?.position ?? null) : null };
}

/** A page of reconciliation runs, newest started first (by rowid, see above). */
export async function runPage(d1: D1Database, page: { before: number | null; limit: number }): Promise<{ rows: ReconcileRun[]; next: number | null }> {
  const position = sql<number>`${reconcileRuns}.rowid`;
  const rows = await drizzle(d1)
    .select({ position, run: reconcileRuns })
    .from(reconcileRuns)
    .where(page.before === null ? undefined : lt(position, page.before))
    .orderBy(desc(position))
    .limit(page.limit + 1)
    .all();
  const shown = rows.slice(0, page.limit);
  return { rows: shown.map((row) => row.run), next: rows.length > page.limit ? (shown.at(-1)?.position ?? null) : null };
}

/** The stored bodies of these dead letters (one statement, primary-key lookups), in no particular order. */
export async function deadLetterBodies(d1: D1Database, messageIds: string[]): Promise<{ messageId: string; body: string }[]> {
  if (messageIds.length === 0) return [];
  return drizzle(d1)
    .select({ messageId: deadLetters.messageId, body: deadLetters.body })
    .from(deadLetters)
    .where(sql`${deadLetters.messageId} IN (SELECT value FROM json_each(${JSON.stringify(messageIds)}))`)
    .all();
}
