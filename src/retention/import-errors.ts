import { ROWS_PER_STATEMENT } from "./limits";

/**
 * Bulk imports keep their first per-line errors (imports.errors, JSON: row, line, code, field, never
 * a value) for RETENTION_DAYS after they finished; then the list goes and `errors_pruned_at` says
 * when. The import's row and its totals stay: they are the report. Imports that never finished keep
 * their errors (an operator may still be working through them).
 *
 * One statement through the partial index on finished_at (imports that still hold errors), at most
 * ROWS_PER_STATEMENT imports a call: one round trip, and a cheap read when nothing is old.
 */

export const IMPORT_ERRORS_MAX_ROUND_TRIPS = 1;

export async function pruneImportErrors(d1: D1Database, now: number, retentionDays: number): Promise<{ pruned: number }> {
  const cutoff = now - retentionDays * 86_400_000;
  const result = await d1
    .prepare(
      `UPDATE imports SET errors = NULL, errors_pruned_at = ?1
       WHERE id IN (SELECT id FROM imports WHERE errors IS NOT NULL AND finished_at < ?2 ORDER BY finished_at LIMIT ?3)`,
    )
    .bind(now, cutoff, ROWS_PER_STATEMENT)
    .run();
  return { pruned: result.meta.changes ?? 0 };
}
