import type { ReconcileConfig } from "../config";
import { runAtomically } from "../d1";
import { log } from "../log";
import { reconcileSources } from "../providers";
import { QUEUE_MESSAGE_VERSION, type ReconcileMessage } from "../queue-message";
import { checkpointOf, failRun, isLostRace, loadRun, recordStepError } from "./runs";

/**
 * A reconciliation run is a chain of queue messages, each one step from a checkpoint in D1. Each
 * provider's source (src/providers/<name>/reconcile.ts, a ReconcileSource) decides what a
 * step reads and writes; Firstup's, for example:
 *
 * 1. scan: read up to `pagesPerMessage` pages of the upstream listing; write what changed;
 * 2. sweep: local users the listing did not show are confirmed one by one with GET, because
 *    offset paging skips records when the upstream changes mid-scan: 404 → to be forgotten,
 *    found → applied like a listed user;
 * 3. finish: the mass-removal guard, then the removals, then the scratch tables are dropped.
 *
 * Each step's writes, its counters and the checkpoint move commit in one D1 batch together with
 * a claim on the step (work_claims), so a step runs to effect once however often its
 * message is delivered, and a crash resumes from the last committed checkpoint. A step stops
 * issuing upstream requests once its wall-clock budget is spent and hands over from what it
 * committed. An upstream answer that says our configuration is wrong ends the run as failed, with
 * nothing removed.
 */

export interface StepDeps {
  d1: D1Database;
  /** The provider's upstream client (ReconcileSource.clientFromEnv), or null when not configured. */
  clientFor: (provider: string) => unknown;
  /** For sources whose steps start other runs; the consumer passes its queue. */
  queue?: Queue;
  config: ReconcileConfig;
  now: () => number;
  /** Wall-clock budget of one step; STEP_WALL_CLOCK_MS unless a test shortens it. */
  stepBudgetMs?: number;
}

/**
 * Wall-clock time a step may spend on upstream requests before it commits what it has and hands
 * over to the next message. A queue consumer invocation may run 15 minutes of wall clock, and the
 * batch may carry event deliveries besides this step; yet one SCIM call can take about 55 s on its
 * own (4 attempts of 10 s, plus up to 15 s of waiting: providers/firstup/scim-client.ts), so 40 sequential
 * GETs against a slow upstream could take over half an hour. The budget is checked before each
 * request, so a step ends within it plus one call: about two minutes. Each retried attempt is also
 * a subrequest, so the budget keeps a struggling upstream from eating the invocation's subrequests.
 * At least one request is made per step, so a run always advances.
 */
export const STEP_WALL_CLOCK_MS = 60_000;

/** The run's provider has no reconciliation source, or its upstream is not configured (any more). */
class UpstreamNotConfigured extends Error {
  constructor(provider: string) {
    super(`no upstream is configured for ${provider}`);
    this.name = "UpstreamNotConfigured";
  }
}

/** Runs the step a message asks for, if it is still the run's checkpoint; returns the next one. */
export async function continueRun(message: ReconcileMessage, deps: StepDeps): Promise<ReconcileMessage | null> {
  const run = await loadRun(deps.d1, message.runId);
  if (!run || run.status !== "running") return null;
  const checkpoint = checkpointOf(run);
  if (checkpoint.phase !== message.phase || checkpoint.cursor !== message.cursor) {
    log("reconcile.stale_message", { runId: run.id, phase: message.phase, cursor: message.cursor });
    return null;
  }
  try {
    const source = reconcileSources.get(run.provider);
    const client = source ? deps.clientFor(run.provider) : null;
    if (!source || !client) throw new UpstreamNotConfigured(run.provider);
    const next = await source.step(run, { d1: deps.d1, client, queue: deps.queue ?? null, config: deps.config, now: deps.now, deadline: deps.now() + (deps.stepBudgetMs ?? STEP_WALL_CLOCK_MS) });
    return next ? { v: QUEUE_MESSAGE_VERSION, kind: "reconcile", runId: run.id, ...next } : null;
  } catch (error) {
    if (isLostRace(error)) return null; // another delivery of this step committed first
    const detail = String(error instanceof Error ? error.message : error);
    const fatal = error instanceof UpstreamNotConfigured || (reconcileSources.get(run.provider)?.isConfigurationError(error) ?? false);
    log("reconcile.step_failed", { runId: run.id, phase: message.phase, fatal, error: detail });
    if (!fatal) {
      await recordStepError(deps.d1, run.id, detail, deps.now()).catch(() => {});
      throw error;
    }
    // Retrying cannot help, and evidence from a misconfigured upstream must not remove anyone.
    const note = `Stopped: ${detail}. The upstream's configuration is wrong, so retrying cannot help; nobody was deactivated or forgotten. Fix it, then start a run.`;
    await runAtomically(deps.d1, failRun(run.id, detail, note, deps.now()));
    return null;
  }
}
