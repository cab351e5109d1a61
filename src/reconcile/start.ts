import { log } from "../log";
import { QUEUE_MESSAGE_VERSION, type ReconcileMessage } from "../queue-message";
import { activeRun, checkpointOf, createRun, stalledRuns, STALL_AFTER_MS, touch, type ReconcileRun } from "./runs";
import { runAtomically } from "../d1";

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
  const active = await activeRun(deps.d1, provider);
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

/** The watchdog: continues every run that has not moved for a while. */
export async function resumeStalledRuns(deps: { d1: D1Database; queue: Queue; now: () => number }): Promise<ReconcileRun[]> {
  const stalled = await stalledRuns(deps.d1, deps.now());
  for (const run of stalled) await resume(deps, run);
  return stalled;
}

async function resume(deps: { d1: D1Database; queue: Queue; now: () => number }, run: ReconcileRun): Promise<void> {
  await runAtomically(deps.d1, [touch(run.id, deps.now())]);
  await deps.queue.send(messageFor(run), { contentType: "json" });
  log("reconcile.resumed", { runId: run.id, ...checkpointOf(run) });
}

export function messageFor(run: ReconcileRun): ReconcileMessage {
  return { v: QUEUE_MESSAGE_VERSION, kind: "reconcile", runId: run.id, ...checkpointOf(run) };
}
