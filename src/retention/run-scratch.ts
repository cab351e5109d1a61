import { ROWS_PER_STATEMENT } from "./limits";

/**
 * A reconciliation run's scratch (reconcile_seen, reconcile_pending) is deleted in the batch that
 * ends the run. Some can outlive it: a step that commits just after the watchdog gave up on its run
 * writes its seen ids to a run that has ended. Scratch of any run that is not `running` (or no
 * longer exists) goes here, whatever its age.
 *
 * Finding it needs no new index: the runs that have scratch are the distinct first columns of the
 * scratch tables' primary keys, walked one seek at a time (a skip scan), so one read costs a row per
 * run with scratch, not a row per id. Runs that have scratch are few: at most one running run per
 * provider and scope, and the rare leftovers.
 */

/** Runs with scratch looked at per table and invocation; leftovers behind more running runs than this wait for them to end. */
export const SCRATCH_RUNS_PER_READ = 1_000;
/** D1 round trips at most: the read, and one batch (one delete per table). */
export const RUN_SCRATCH_MAX_ROUND_TRIPS = 2;

const distinctRuns = (table: "reconcile_seen" | "reconcile_pending") => `
  ${table}_runs(run_id) AS (
    SELECT (SELECT min(run_id) FROM ${table})
    UNION ALL
    SELECT (SELECT min(s.run_id) FROM ${table} AS s WHERE s.run_id > previous.run_id) FROM ${table}_runs AS previous
    WHERE previous.run_id IS NOT NULL
    LIMIT ?1)`;

export async function pruneRunScratch(d1: D1Database): Promise<{ deleted: number; runs: number }> {
  const { results } = await d1
    .prepare(
      `WITH RECURSIVE ${distinctRuns("reconcile_seen")}, ${distinctRuns("reconcile_pending")}
       SELECT run_id FROM (SELECT run_id FROM reconcile_seen_runs UNION SELECT run_id FROM reconcile_pending_runs) AS scratch
       WHERE run_id IS NOT NULL
         AND NOT EXISTS (SELECT 1 FROM reconcile_runs AS r WHERE r.id = scratch.run_id AND r.status = 'running')`,
    )
    .bind(SCRATCH_RUNS_PER_READ)
    .all<{ run_id: string }>();
  if (results.length === 0) return { deleted: 0, runs: 0 };

  const runs = JSON.stringify(results.map((row) => row.run_id));
  // Checked again inside the delete (a seek per row), so scratch never goes while its run runs.
  const remove = (table: "reconcile_seen" | "reconcile_pending") =>
    d1
      .prepare(
        `DELETE FROM ${table}
         WHERE (run_id, external_id) IN (SELECT run_id, external_id FROM ${table} WHERE run_id IN (SELECT value FROM json_each(?1)) LIMIT ?2)
           AND NOT EXISTS (SELECT 1 FROM reconcile_runs AS r WHERE r.id = ${table}.run_id AND r.status = 'running')`,
      )
      .bind(runs, ROWS_PER_STATEMENT);
  const [seen, pending] = await d1.batch([remove("reconcile_seen"), remove("reconcile_pending")]);
  return { deleted: (seen?.meta.changes ?? 0) + (pending?.meta.changes ?? 0), runs: results.length };
}
