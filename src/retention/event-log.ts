import { ROWS_PER_STATEMENT } from "./limits";

/**
 * Prunes the event log, which is also the exactly-once record of applied events (migration 0010),
 * past RETENTION_DAYS. Only finished rows go (`applied`, `ignored`) whose last update is older than
 * the cutoff:
 * - no id younger than MIN_RETENTION_DAYS goes (src/config.ts says why; RETENTION_DAYS cannot be
 *   set below it), so exactly-once holds for every copy of an event that can still arrive; a copy
 *   arriving later still changes nothing older than the state it would replace (every write is
 *   version-guarded), it only costs the work;
 * - an unresolved event (failed, dead_lettered, held, quarantined, rejected) stays: operators act on
 *   it, and the dead-letter prune reads a missing event row as a resolved event that was pruned;
 * - an event that still has a dead letter stays (dead_letters_event_idx answers that in one seek):
 *   replaying the dead letter must still find the id and dedupe.
 *
 * event_log has no index on its age (an applied event writes one row and no index entry: that is
 * the point of 0010), so this is a sweep in primary-key order: each call looks at the next windows
 * of ROWS_PER_STATEMENT × 10 keys from where the last call stopped (feed_state
 * `retention:event_log`), deletes what is old in them, and starts over at the end of the table.
 * Rows read are billed at $0.001 per million, so a pass over 30 million rows costs three cents;
 * at 3 windows per call every 15 minutes a pass covers 14.4 million rows a day, and the table holds
 * RETENTION_DAYS plus one pass of events (BENCHMARKS.md, storage).
 */

/** Keys looked at per window; a window is one read of its end key and one delete. */
export const EVENT_LOG_WINDOW = ROWS_PER_STATEMENT * 10;
const WINDOWS_PER_CALL = 3;
/** The cursor read, then per window: its end key, and the delete with the cursor's update. */
export const EVENT_LOG_MAX_ROUND_TRIPS = 1 + WINDOWS_PER_CALL * 2;

const CURSOR_KEY = "retention:event_log";

type Key = [provider: string, eventId: string];

export async function pruneEventLog(d1: D1Database, now: number, retentionDays: number, window = EVENT_LOG_WINDOW): Promise<{ deleted: number }> {
  const cutoff = now - retentionDays * 24 * 3600 * 1000;
  const stored = await d1.prepare("SELECT note FROM feed_state WHERE key = ?").bind(CURSOR_KEY).first<{ note: string | null }>();
  let after = parseKey(stored?.note ?? null);
  let deleted = 0;
  for (let i = 0; i < WINDOWS_PER_CALL; i++) {
    const end = await d1
      .prepare(
        `SELECT provider, event_id FROM event_log WHERE (provider, event_id) > (?1, ?2)
         ORDER BY provider, event_id LIMIT 1 OFFSET ?3`,
      )
      .bind(after?.[0] ?? "", after?.[1] ?? "", window - 1)
      .first<{ provider: string; event_id: string }>();
    const through: Key | null = end ? [end.provider, end.event_id] : null;
    // The upper bound is written only when there is one: SQLite plans a statement before it sees
    // its parameters, so `(?3 IS NULL OR key <= …)` would not bound the primary-key range and every
    // window's delete would read from the cursor to the end of the table.
    const [result] = await d1.batch([
      d1
        .prepare(
          `DELETE FROM event_log
           WHERE (provider, event_id) > (?1, ?2) ${through ? "AND (provider, event_id) <= (?3, ?4)" : ""}
             AND status IN ('applied', 'ignored') AND updated_at < ?5 AND received_at < ?5
             AND NOT EXISTS (SELECT 1 FROM dead_letters AS d WHERE d.provider = event_log.provider AND d.event_id = event_log.event_id)`,
        )
        .bind(after?.[0] ?? "", after?.[1] ?? "", through?.[0] ?? null, through?.[1] ?? null, cutoff),
      through
        ? d1
            .prepare("INSERT INTO feed_state (key, note) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET note = excluded.note")
            .bind(CURSOR_KEY, JSON.stringify(through))
        : d1.prepare("DELETE FROM feed_state WHERE key = ?1").bind(CURSOR_KEY),
    ]);
    deleted += result?.meta.changes ?? 0;
    // The end of the table: this pass is over, the next call starts a new one from the front.
    if (!through) break;
    after = through;
  }
  return { deleted };
}

function parseKey(note: string | null): Key | null {
  if (!note) return null;
  try {
    const value: unknown = JSON.parse(note);
    return Array.isArray(value) && value.length === 2 && value.every((part) => typeof part === "string") ? (value as Key) : null;
  } catch {
    return null;
  }
}
