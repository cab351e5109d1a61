import { nextWindow, saveCursor } from "./sweep";
import { ROWS_PER_STATEMENT } from "./limits";

/**
 * Dead letters that were dealt with go once they are older than RETENTION_DAYS:
 * - an event's dead letter, once the event is resolved: its event_log row is `applied` or
 *   `ignored` (a replay went through), or gone (the event log keeps an unresolved event, so a
 *   missing row was a resolved one, pruned);
 * - a reconciliation step's dead letter, once its run is no longer running (the watchdog resumed
 *   the run from its checkpoint, or it ended).
 *
 * Everything else stays, however old: a dead letter of an event still failed, dead-lettered or held
 * is an operator's to act on, and so is one whose body does not decode. They are counted in the
 * `retention.dead_letters` log line (`kept_unresolved`), so they can be alerted on.
 */

export type DeadLetterPrune = {
  deleted: number;
  /** Dead letters past the age looked at in this window and kept because nothing resolved them. */
  keptUnresolved: number;
};

/** D1 round trips at most: the window (a peek, a read) and one batch (the delete, the cursor). */
export const DEAD_LETTERS_MAX_ROUND_TRIPS = 3;

export async function pruneDeadLetters(d1: D1Database, now: number, retentionDays: number): Promise<DeadLetterPrune> {
  const cutoff = now - retentionDays * 86_400_000;
  const window = await nextWindow(d1, "dead_letters", cutoff, ROWS_PER_STATEMENT);
  const statements: D1PreparedStatement[] = [];
  if (window.range) {
    statements.push(
      d1
        .prepare(
          `DELETE FROM dead_letters
           WHERE rowid > ?1 AND rowid <= ?2 AND recorded_at < ?3
             AND CASE
                   WHEN provider IS NOT NULL AND event_id IS NOT NULL THEN
                     coalesce((SELECT e.status IN ('applied', 'ignored') FROM event_log AS e
                               WHERE e.provider = dead_letters.provider AND e.event_id = dead_letters.event_id), 1)
                   WHEN json_valid(body) AND body ->> '$.kind' = 'reconcile' THEN
                     NOT EXISTS (SELECT 1 FROM reconcile_runs AS r WHERE r.id = body ->> '$.runId' AND r.status = 'running')
                   ELSE 0
                 END`,
        )
        .bind(window.range.after, window.range.through, cutoff),
    );
  }
  const cursor = saveCursor(d1, "dead_letters", window);
  if (cursor) statements.push(cursor);
  if (statements.length === 0) return { deleted: 0, keptUnresolved: 0 };
  const [result] = await d1.batch(statements);
  const deleted = window.range ? (result?.meta.changes ?? 0) : 0;
  return { deleted, keptUnresolved: window.old - deleted };
}
