import type { ReconcileConfig } from "../config";
import type { Phase, ReconcileRun } from "./runs";

/**
 * What a provider implements so the run machinery (reconcile/start.ts, reconcile/steps.ts) can
 * reconcile it: how to reach its upstream, how to take one step of a run, and which upstream
 * failures mean "misconfigured" (the run fails with nothing removed) rather than "down" (the
 * step is retried). Each provider's implementation lives in its folder under src/providers.
 */
export interface ReconcileSource<Client = unknown> {
  provider: string;
  /**
   * The upstream client, from bindings; null when the provider's upstream is not configured.
   * Throws ConfigError when a setting is present but invalid. `fetch` is the consumer's
   * rate-limited, budgeted fetch, when a step runs in the consumer.
   */
  clientFromEnv(env: Env, fetch?: typeof globalThis.fetch): Client | null;
  /** The checkpoint a new run starts from, for sources that keep their own (null: SCIM startIndex). */
  initialCheckpoint?(trigger: string, scope: string): string | null;
  /** One step from the run's checkpoint; returns the checkpoint of the next step, or null when the run ended. */
  step(run: ReconcileRun, deps: SourceStepDeps<Client>): Promise<{ phase: Phase; cursor: string } | null>;
  /** An error that retrying cannot cure: the run is failed and nothing is removed. */
  isConfigurationError(error: unknown): boolean;
  /** Offers cheap incremental runs (trigger "hourly"), started by the hourly cron. */
  incremental?: boolean;
}

/** What the run machinery hands a source's step. */
export interface SourceStepDeps<Client> {
  d1: D1Database;
  client: Client;
  /** For steps that start other runs (Scalekit's discovery starts one run per directory). */
  queue: Queue | null;
  config: ReconcileConfig;
  now: () => number;
  /** Wall-clock deadline of this step (ms): stop issuing upstream requests after it. */
  deadline: number;
}
