import { ROWS_PER_STATEMENT } from "./limits";

/**
 * The destructive guard's counters (destructive_windows) matter only while their window is the
 * current one: the guard reads the window holding `now` and nothing else. A row goes a day after
 * its window ended (the day covers consumers whose clocks lag, with room to spare).
 *
 * A row is inserted during its own window, so rowid order is window order and the ended windows
 * are the front of the table: the oldest row is read first, and only when it has ended does a
 * bounded delete run. Nothing old is ever kept, so nothing holds the front for long (lengthening
 * DESTRUCTIVE_GUARD_WINDOW_SECONDS can put a later window behind an earlier one: that only delays
 * a delete, by at most one window).
 */

export const ENDED_WINDOW_MARGIN_MS = 86_400_000;
/** D1 round trips at most: the peek and the delete. */
export const DESTRUCTIVE_WINDOWS_MAX_ROUND_TRIPS = 2;

export async function pruneDestructiveWindows(d1: D1Database, now: number, windowMs: number): Promise<{ deleted: number }> {
  const cutoff = now - windowMs - ENDED_WINDOW_MARGIN_MS;
  const oldest = await d1.prepare("SELECT window_start FROM destructive_windows ORDER BY rowid LIMIT 1").first<{ window_start: number }>();
  if (!oldest || oldest.window_start >= cutoff) return { deleted: 0 };
  const result = await d1
    .prepare("DELETE FROM destructive_windows WHERE rowid IN (SELECT rowid FROM destructive_windows ORDER BY rowid LIMIT ?1) AND window_start < ?2")
    .bind(ROWS_PER_STATEMENT, cutoff)
    .run();
  return { deleted: result.meta.changes ?? 0 };
}
