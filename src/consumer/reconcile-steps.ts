import type { ReconcileConfig } from "../config";
import { log } from "../log";
import type { ReconcileMessage } from "../queue-message";
import { continueRun } from "../reconcile/steps";
import { retryDelaySeconds } from "./backoff";

/**
 * Runs reconciliation steps that arrived on the queue, one at a time (each does its own upstream
 * and D1 work), and queues the step that follows. A step that fails is retried with backoff; the
 * checkpoint in D1 makes the retry pick up exactly where the run stands.
 *
 * The reconcile settings are read here, per step, and not by the caller: an invalid RECONCILE_*
 * value then fails (and retries) only the reconciliation steps, never the event deliveries that
 * share their batch.
 */
export async function runReconcileSteps(
  items: { raw: Message<unknown>; message: ReconcileMessage }[],
  deps: {
    d1: D1Database;
    queue: Queue;
    clientFor: (provider: string) => unknown;
    /** Read lazily: throws ConfigError when a RECONCILE_* setting is invalid. */
    config: () => ReconcileConfig;
    now: () => number;
    retryBaseSeconds: number;
  },
): Promise<void> {
  for (const { raw, message } of items) {
    try {
      const next = await continueRun(message, { ...deps, config: deps.config() });
      if (next) await deps.queue.send(next, { contentType: "json" });
      raw.ack();
    } catch (error) {
      const delaySeconds = retryDelaySeconds(raw.attempts, deps.retryBaseSeconds);
      log("reconcile.step_retry", { runId: message.runId, phase: message.phase, attempts: raw.attempts, delaySeconds, error: String(error) });
      raw.retry({ delaySeconds });
    }
  }
}
