import { ERASURE_SWEEP_MAX_ROUND_TRIPS, sweepErasures } from "../changes/erasure";
import { pruneChanges, PRUNE_MAX_ROUND_TRIPS as CHANGES_MAX_ROUND_TRIPS } from "../changes/retention";
import { ConfigError, consumerConfig, feedConfig, notifyConfig, retentionConfig } from "../config";
import { describeError } from "../consumer/event-log";
import { log } from "../log";
import { DEAD_LETTERS_MAX_ROUND_TRIPS, pruneDeadLetters } from "./dead-letters";
import { DESTRUCTIVE_WINDOWS_MAX_ROUND_TRIPS, pruneDestructiveWindows } from "./destructive-windows";
import { EVENT_LOG_MAX_ROUND_TRIPS, pruneEventLog } from "./event-log";
import { IMPORT_ERRORS_MAX_ROUND_TRIPS, pruneImportErrors } from "./import-errors";
import { PIPELINE_HOURLY_MAX_ROUND_TRIPS, prunePipelineHourly } from "./pipeline-hourly";
import { pruneRunReports, RUN_REPORTS_MAX_ROUND_TRIPS } from "./run-reports";
import { pruneRunScratch, RUN_SCRATCH_MAX_ROUND_TRIPS } from "./run-scratch";

/**
 * Retention: what would otherwise grow forever is pruned by the watchdog cron (every 15 minutes),
 * a bounded batch per table each time, rather than all at once nightly: each invocation stays
 * small and the tables never build up a night's worth. Every step deletes at most
 * ROWS_PER_STATEMENT rows per statement in a fixed number of round trips, and costs one cheap read
 * when it has nothing to do.
 *
 * Never pruned: forgotten users' tombstones (users rows with forgotten_at), and the directory
 * itself. A mistake in one step's configuration, or a D1 error in one step, stops only that step.
 */

export interface RetentionStep {
  /** Names the step's log line, `retention.<name>`. */
  name: string;
  /** The most D1 round trips one run of the step makes (the tests hold each step to it). */
  maxRoundTrips: number;
  run(d1: D1Database, now: number, env: Env): Promise<Record<string, number>>;
}

/** Round trips one invocation may spend on retention, every step together. */
export const ROUND_TRIPS_PER_INVOCATION = 30;

export const RETENTION_STEPS: RetentionStep[] = [
  {
    name: "changes",
    maxRoundTrips: CHANGES_MAX_ROUND_TRIPS,
    run: async (d1, now, env) => ({ deleted: await pruneChanges(d1, now, feedConfig(env).retentionDays, { holdForRelay: notificationsOn(env) }) }),
  },
  // Erasure first: personal data an erasure covers is rewritten within a few passes (readers
  // already redact it), whatever else retention has to do.
  {
    name: "change_erasures",
    maxRoundTrips: ERASURE_SWEEP_MAX_ROUND_TRIPS,
    run: (d1, now) => sweepErasures(d1, now),
  },
  {
    name: "dead_letters",
    maxRoundTrips: DEAD_LETTERS_MAX_ROUND_TRIPS,
    run: (d1, now, env) => pruneDeadLetters(d1, now, retentionConfig(env).retentionDays),
  },
  // After the dead letters: an event keeps its row while a dead letter of it remains.
  {
    name: "event_log",
    maxRoundTrips: EVENT_LOG_MAX_ROUND_TRIPS,
    run: (d1, now, env) => pruneEventLog(d1, now, retentionConfig(env).retentionDays),
  },
  // The console's hourly counters (migration 0012), kept as long as the event log.
  {
    name: "pipeline_hourly",
    maxRoundTrips: PIPELINE_HOURLY_MAX_ROUND_TRIPS,
    run: (d1, now, env) => prunePipelineHourly(d1, now, retentionConfig(env).retentionDays),
  },
  {
    name: "run_scratch",
    maxRoundTrips: RUN_SCRATCH_MAX_ROUND_TRIPS,
    run: (d1) => pruneRunScratch(d1),
  },
  {
    name: "run_reports",
    maxRoundTrips: RUN_REPORTS_MAX_ROUND_TRIPS,
    run: (d1, now, env) => pruneRunReports(d1, now, retentionConfig(env).runReportRetentionDays),
  },
  {
    name: "destructive_windows",
    maxRoundTrips: DESTRUCTIVE_WINDOWS_MAX_ROUND_TRIPS,
    run: (d1, now, env) => pruneDestructiveWindows(d1, now, consumerConfig(env).destructiveGuard.windowMs),
  },
  {
    name: "import_errors",
    maxRoundTrips: IMPORT_ERRORS_MAX_ROUND_TRIPS,
    run: (d1, now, env) => pruneImportErrors(d1, now, retentionConfig(env).retentionDays),
  },
];

/** Runs every step in order, within the invocation's budget; logs what each pruned or kept. */
export async function runRetention(env: Env, now: number, steps: RetentionStep[] = RETENTION_STEPS): Promise<void> {
  let budget = ROUND_TRIPS_PER_INVOCATION;
  for (const step of steps) {
    if (step.maxRoundTrips > budget) {
      log("retention.deferred", { step: step.name });
      continue;
    }
    budget -= step.maxRoundTrips;
    try {
      const outcome = await step.run(env.DB, now, env);
      if (Object.values(outcome).some((count) => count > 0)) log(`retention.${step.name}`, outcome);
    } catch (error) {
      if (error instanceof ConfigError) log("retention.not_run", { step: step.name, invalid: error.issues });
      else log("retention.failed", { step: step.name, error: describeError(error) });
    }
  }
}

/** Notifications are configured (an invalid setting counts as on: its changes must not be pruned unsent). */
function notificationsOn(env: Env): boolean {
  try {
    return notifyConfig(env).url !== null;
  } catch {
    return true;
  }
}
