import { ConfigError } from "../config";
import { reconcileSources } from "../providers";
import { startOrResumeRun, type StartResult } from "../reconcile/start";

/**
 * An operator starting a reconciliation run, shared by the JSON API (POST /admin/reconcile/:provider)
 * and the console (POST /admin/console/runs).
 */

export type ReconcileProviderState = { provider: string; state: "configured" | "not_configured" | "misconfigured" };

/** Every provider that can be reconciled, and whether its upstream is configured in these bindings. */
export function reconcileProviderStates(env: Env): ReconcileProviderState[] {
  return [...reconcileSources.keys()].map((provider) => {
    try {
      return { provider, state: reconcileSources.get(provider)!.clientFromEnv(env) ? "configured" : "not_configured" };
    } catch (error) {
      if (error instanceof ConfigError) return { provider, state: "misconfigured" };
      throw error;
    }
  });
}

/**
 * Starts a run over the provider's whole upstream now, or returns (and resumes, if stalled) the one
 * already running. Refused as `provider_not_found` when the provider has no configured upstream; a
 * setting that is present but invalid throws ConfigError (answered 503 by the app).
 */
export async function startRunNow(
  deps: { env: Env; queue: Queue; now: () => number },
  provider: string,
): Promise<({ ok: true } & StartResult) | { ok: false; reason: "provider_not_found" }> {
  if (!reconcileSources.get(provider)?.clientFromEnv(deps.env)) return { ok: false, reason: "provider_not_found" };
  const result = await startOrResumeRun({ d1: deps.env.DB, queue: deps.queue, now: deps.now }, provider, "manual");
  return { ok: true, ...result };
}
