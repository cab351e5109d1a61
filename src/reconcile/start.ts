import { log } from "../log";
import { QUEUE_MESSAGE_VERSION, type ReconcileMessage } from "../queue-message";
import { activeRun, checkpointOf, createRun, dropScratch, finish, stalledRuns, STALL_AFTER_MS, touch, type ReconcileRun } from "./runs";
import { runAtomically } from "../d1";

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

/**
 * Starts a run for `provider`, unless one is already running: then that run is returned, and
 * continued from its checkpoint if it has stalled (its queue chain was lost, e.g. a crash between
 * committing a step and queueing the next). A crashed run therefore resumes; it never restarts.
 */
export async function startOrResumeRun(
  deps: { d1: D1Database; queue: Queue; now: () => number },
  provider: string,
  trigger: string,
): Promise<StartResult> {
  const now = deps.now();
  let active = await activeRun(deps.d1, provider);
  if (active && now - active.startedAt > GIVE_UP_AFTER_MS) {
    await giveUp(deps, active);
    active = null;
  }
  if (active) {
    const stalled = now - active.updatedAt > STALL_AFTER_MS;
    if (stalled) await resume(deps, active);
    return { run: active, started: false, resumed: stalled };
  }
  const run = await createRun(deps.d1, { id: crypto.randomUUID(), provider, trigger, now });
  await deps.queue.send(messageFor(run), { contentType: "json" });
  log("reconcile.started", { runId: run.id, provider, trigger });
  return { run, started: true, resumed: false };
}

/** The watchdog: continues every run that has not moved for a while, and gives up on old ones. */
export async function resumeStalledRuns(deps: { d1: D1Database; queue: Queue; now: () => number }): Promise<ReconcileRun[]> {
  const resumed: ReconcileRun[] = [];
  for (const run of await stalledRuns(deps.d1, deps.now())) {
    if (deps.now() - run.startedAt > GIVE_UP_AFTER_MS) await giveUp(deps, run);
    else {
      await resume(deps, run);
      resumed.push(run);
    }
  }
  return resumed;
}

async function giveUp(deps: { d1: D1Database; now: () => number }, run: ReconcileRun): Promise<void> {
  const note = `Gave up: still not finished 24 hours after it started (last error: ${run.lastError ?? "none recorded"}). Nothing pending was removed.`;
  await runAtomically(deps.d1, [finish(run.id, "failed", {}, note, deps.now()), ...dropScratch(run.id)]);
  log("reconcile.given_up", { runId: run.id });
}

async function resume(deps: { d1: D1Database; queue: Queue; now: () => number }, run: ReconcileRun): Promise<void> {
  await runAtomically(deps.d1, [touch(run.id, deps.now())]);
  await deps.queue.send(messageFor(run), { contentType: "json" });
  log("reconcile.resumed", { runId: run.id, ...checkpointOf(run) });
}

export function messageFor(run: ReconcileRun): ReconcileMessage {
  return { v: QUEUE_MESSAGE_VERSION, kind: "reconcile", runId: run.id, ...checkpointOf(run) };
}
