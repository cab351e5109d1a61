import { ConfigError } from "./config";
import { backfillFoldKeys } from "./directory/fold-backfill";
import { log } from "./log";
import { relayFromEnv } from "./notify/relay";
import { runRetention } from "./retention";
import { startOrResumeRun, resumeStalledRuns } from "./reconcile/start";
import { reconcileSources } from "./providers";

/** wrangler.toml [triggers]: the nightly run, and the watchdog that resumes stalled runs. */
export const NIGHTLY_RECONCILE_CRON = "0 3 * * *";
export const WATCHDOG_CRON = "*/15 * * * *";
/** Cheap incremental runs (`updated_after`) for sources that support them (Scalekit). */
export const HOURLY_RECONCILE_CRON = "30 * * * *";

/**
 * Every trigger resumes stalled runs and fills case-folded keys left from before migration 0002;
 * the nightly one also starts a full run for each provider whose upstream is configured, so
 * anything a missed webhook left wrong heals by morning; the hourly one starts an incremental run
 * (changes since the last completed run, removing nobody) for sources that offer one. The
 * watchdog also relays changes no consumer batch relayed and re-sends lost notifications, then
 * prunes what retention says is past its age (src/retention): in small bounded batches every 15
 * minutes rather than one large nightly job.
 */
export async function handleScheduled(controller: ScheduledController, env: Env, now: () => number = Date.now): Promise<void> {
  const deps = { d1: env.DB, queue: env.EVENTS_QUEUE, now };
  const resumed = await resumeStalledRuns(deps);
  if (resumed.length) log("reconcile.watchdog", { resumed: resumed.map((run) => run.id) });
  const folded = await backfillFoldKeys(env.DB);
  if (folded) log("directory.fold_keys_backfilled", { rows: folded });
  if (controller.cron === WATCHDOG_CRON) {
    await relayFromEnv(env, now, { resendStalled: true });
    // After the relay: a change is pruned only once relayed (while notifications are on).
    await runRetention(env, now());
  }
  const trigger = controller.cron === NIGHTLY_RECONCILE_CRON ? "cron" : controller.cron === HOURLY_RECONCILE_CRON ? "hourly" : null;
  if (!trigger) return;
  for (const source of reconcileSources.values()) {
    if (trigger === "hourly" && !source.incremental) continue;
    try {
      if (!source.clientFromEnv(env)) continue;
    } catch (error) {
      // One provider's invalid setting (named by /healthz) must not stop the others' runs.
      if (!(error instanceof ConfigError)) throw error;
      log("reconcile.not_started", { provider: source.provider, invalid: error.issues });
      continue;
    }
    await startOrResumeRun(deps, source.provider, trigger);
  }
}
