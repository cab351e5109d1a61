import { log } from "../log";
import { QUEUE_MESSAGE_VERSION, type ReconcileMessage } from "../queue-message";
import { activeRun, checkpointOf, claimResume, createRun, dropScratch, finish, stalledRuns, STALL_AFTER_MS, type ReconcileRun } from "./runs";
import { runAtomically } from "../d1";
import { reconcileSources } from "../providers";

/**
 * A run still going a day after it started has been failing for hours (upstream down, broken
 * configuration): it is ended as failed, so the next night starts afresh instead of resuming it
 * forever.
 */
export const GIVE_UP_AFTER_MS = 24 * 3600 * 1000;

export interface StartResult {
  run: ReconcileRun;
  /** A new run was created. */
  started: boolean;
  /** An existing run had stalled and was continued from its checkpoint. */
  resumed: boolean;
}

/** Tries before giving up on a start that keeps losing races (a run ending as another starts). */
const START_ATTEMPTS = 3;

/**
 * Starts a run for `provider` over `scope` (a directory id, or "" for the whole upstream), unless
 * one is already running there: then that run is returned, and continued from its checkpoint if it
 * has stalled (its queue chain was lost, e.g. a crash between committing a step and queueing the
 * next). A crashed run therefore resumes; it never restarts.
 *
 * Concurrent starts (the nightly cron and an operator, or two operators) are settled by the unique
 * index on running runs: exactly one creates the run and queues its first step; the others get
 * that run back with `started: false`.
 */
export async function startOrResumeRun(
  deps: { d1: D1Database; queue: Queue; now: () => number },
  provider: string,
  trigger: string,
  scope = "",
): Promise<StartResult> {
  for (let attempt = 1; ; attempt++) {
    const now = deps.now();
    let active = await activeRun(deps.d1, provider, scope);
    // Only a run that is also stalled: ending one whose step is running would let that step's
    // commit land on a finished run with its scratch gone.
    if (active && now - active.startedAt > GIVE_UP_AFTER_MS && now - active.updatedAt > STALL_AFTER_MS) {
      await giveUp(deps, active);
      active = null;
    }
    if (active) {
      const stalled = now - active.updatedAt > STALL_AFTER_MS;
      const resumed = stalled && (await resume(deps, active));
      return { run: active, started: false, resumed };
    }
    const checkpoint = reconcileSources.get(provider)?.initialCheckpoint?.(trigger, scope) ?? null;
    const run = await createRun(deps.d1, { id: crypto.randomUUID(), provider, scope, trigger, now, checkpoint });
    if (run) {
      await deps.queue.send(messageFor(run), { contentType: "json" });
      log("reconcile.started", { runId: run.id, provider, scope, trigger });
      return { run, started: true, resumed: false };
    }
    // Another start inserted its run between our read and our insert: return that run (read again).
    const winner = await activeRun(deps.d1, provider, scope);
    if (winner) return { run: winner, started: false, resumed: false };
    // ...which has already ended: start afresh, a bounded number of times.
    if (attempt >= START_ATTEMPTS) throw new Error(`reconcile: could not start a run for ${provider} after ${START_ATTEMPTS} attempts`);
  }
}

/** The watchdog: continues every run that has not moved for a while, and gives up on old ones. */
export async function resumeStalledRuns(deps: { d1: D1Database; queue: Queue; now: () => number }): Promise<ReconcileRun[]> {
  const resumed: ReconcileRun[] = [];
  for (const run of await stalledRuns(deps.d1, deps.now())) {
    if (deps.now() - run.startedAt > GIVE_UP_AFTER_MS) await giveUp(deps, run);
    else if (await resume(deps, run)) resumed.push(run);
  }
  return resumed;
}

async function giveUp(deps: { d1: D1Database; now: () => number }, run: ReconcileRun): Promise<void> {
  const note = `Gave up: still not finished 24 hours after it started (last error: ${run.lastError ?? "none recorded"}). Nothing pending was removed.`;
  await runAtomically(deps.d1, [finish(run.id, "failed", {}, note, deps.now()), ...dropScratch(run.id)]);
  log("reconcile.given_up", { runId: run.id });
}

/** Re-queues a stalled run's checkpoint; false when another caller resumed it first. */
async function resume(deps: { d1: D1Database; queue: Queue; now: () => number }, run: ReconcileRun): Promise<boolean> {
  if (!(await claimResume(deps.d1, run, deps.now()))) return false;
  await deps.queue.send(messageFor(run), { contentType: "json" });
  log("reconcile.resumed", { runId: run.id, ...checkpointOf(run) });
  return true;
}

export function messageFor(run: ReconcileRun): ReconcileMessage {
  return { v: QUEUE_MESSAGE_VERSION, kind: "reconcile", runId: run.id, ...checkpointOf(run) };
}
