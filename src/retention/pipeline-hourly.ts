import { ROWS_PER_STATEMENT } from "./limits";

/**
 * The console's hourly counters (pipeline_hourly, migration 0012) go after RETENTION_DAYS, like the
 * event log they summarize. The table is tiny (at most one row per status per hour: about 170 a
 * day) and keyed by hour first, so the old rows are the front of the primary key: one bounded
 * delete, which reads nothing past the cutoff when there is nothing to do.
 */

/** D1 round trips at most: the delete. */
export const PIPELINE_HOURLY_MAX_ROUND_TRIPS = 1;

export async function prunePipelineHourly(d1: D1Database, now: number, retentionDays: number): Promise<{ deleted: number }> {
  const cutoff = now - retentionDays * 24 * 3600 * 1000;
  const result = await d1
    .prepare(
      `DELETE FROM pipeline_hourly
       WHERE (hour, status) IN (SELECT hour, status FROM pipeline_hourly WHERE hour < ?1 ORDER BY hour LIMIT ?2)`,
    )
    .bind(cutoff, ROWS_PER_STATEMENT)
    .run();
  return { deleted: result.meta.changes ?? 0 };
}
