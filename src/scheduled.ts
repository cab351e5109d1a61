import { backfillFoldKeys } from "./directory/fold-backfill";
import { log } from "./log";
import { startOrResumeRun, resumeStalledRuns } from "./reconcile/start";
import { upstreamClient, upstreamProviders } from "./upstream";

/** wrangler.toml [triggers]: the nightly run, and the watchdog that resumes stalled runs. */
export const NIGHTLY_RECONCILE_CRON = "0 3 * * *";
export const WATCHDOG_CRON = "*/15 * * * *";

/**
 * Every trigger resumes stalled runs and fills case-folded keys left from before migration 0002;
 * the nightly one also starts a run for each provider whose SCIM upstream is configured, so
 * anything a missed webhook left wrong heals by morning.
 */
export async function handleScheduled(controller: ScheduledController, env: Env, now: () => number = Date.now): Promise<void> {
  const deps = { d1: env.DB, queue: env.EVENTS_QUEUE, now };
  const resumed = await resumeStalledRuns(deps);
  if (resumed.length) log("reconcile.watchdog", { resumed: resumed.map((run) => run.id) });
  const folded = await backfillFoldKeys(env.DB);
  if (folded) log("directory.fold_keys_backfilled", { rows: folded });
  if (controller.cron !== NIGHTLY_RECONCILE_CRON) return;
  for (const provider of upstreamProviders) {
    if (!upstreamClient(env, provider)) continue;
    await startOrResumeRun(deps, provider, "cron");
  }
}
