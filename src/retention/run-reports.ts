import { nextWindow, saveCursor } from "./sweep";

/**
 * Reconciliation run reports go once they finished more than RUN_REPORT_RETENTION_DAYS ago, except
 * the newest finished run of each (provider, scope), so operators and the console can always show
 * the last run, and the newest completed one, which Scalekit's hourly run counts its
 * `updated_after` from (without it the hourly run would fall back to a full listing). A running run
 * is never touched.
 *
 * "Newest" is asked of each candidate: is there a run of the same provider and scope that started
 * later and has finished (completed)? The index on (provider, started_at) answers it by reading
 * that provider's later runs up to the first of the same scope: a few rows while a provider has few
 * scopes, more with many (Scalekit, one scope per directory). An index on
 * (provider, scope, started_at) would make it one seek; see the window size below.
 */

/**
 * Runs looked at per invocation. Smaller than the other prunes' batches because of the newer-run
 * check above; still 48,000 runs a day, far above what a day starts.
 */
export const RUN_REPORT_WINDOW = 500;
/** D1 round trips at most: the window (a peek, a read) and one batch (the delete, the cursor). */
export const RUN_REPORTS_MAX_ROUND_TRIPS = 3;

const NEWER_RUN_OF_SAME_SCOPE = (statuses: string) => `
  EXISTS (SELECT 1 FROM reconcile_runs AS newer
          WHERE newer.provider = reconcile_runs.provider AND newer.scope = reconcile_runs.scope
            AND newer.started_at > reconcile_runs.started_at AND newer.status ${statuses})`;

export async function pruneRunReports(d1: D1Database, now: number, retentionDays: number): Promise<{ deleted: number }> {
  const cutoff = now - retentionDays * 86_400_000;
  const window = await nextWindow(d1, "reconcile_runs", cutoff, RUN_REPORT_WINDOW);
  const statements: D1PreparedStatement[] = [];
  if (window.range) {
    statements.push(
      d1
        .prepare(
          `DELETE FROM reconcile_runs
           WHERE rowid > ?1 AND rowid <= ?2 AND started_at < ?3
             AND status <> 'running' AND coalesce(finished_at, updated_at) < ?3
             AND ${NEWER_RUN_OF_SAME_SCOPE("<> 'running'")}
             AND (status <> 'completed' OR ${NEWER_RUN_OF_SAME_SCOPE("= 'completed'")})`,
        )
        .bind(window.range.after, window.range.through, cutoff),
    );
  }
  const cursor = saveCursor(d1, "reconcile_runs", window);
  if (cursor) statements.push(cursor);
  if (statements.length === 0) return { deleted: 0 };
  const [result] = await d1.batch(statements);
  return { deleted: window.range ? (result?.meta.changes ?? 0) : 0 };
}
