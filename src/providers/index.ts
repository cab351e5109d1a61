import type { ReconcileSource } from "../reconcile/source";
import { firstup } from "./firstup/adapter";
import { firstupReconcileSource } from "./firstup/reconcile";
import { scimRefreshUpstream } from "./firstup/resolve-refresh";
import { firstupScimClient } from "./firstup/upstream";
import { scalekit } from "./scalekit/adapter";
import { scalekitReconcileSource } from "./scalekit/reconcile";
import type { ProviderAdapter, RefreshUpstream } from "./types";

/**
 * Every provider is one folder (src/providers/<name>/) registered here with up to three parts:
 * - adapter: its webhooks, mapped to directory events (`/webhooks/:provider`);
 * - refreshUpstream: the upstream the consumer reads to resolve its thin `user_refresh` events;
 * - reconcile: its reconciliation source, run by the nightly cron and the admin API.
 * Adding a provider is one new folder and one entry in `registered`.
 */
export interface ProviderModule {
  adapter: ProviderAdapter;
  /** Null when the upstream is not configured; throws ConfigError when a setting is invalid. */
  refreshUpstream?: (env: Env, fetch?: typeof globalThis.fetch) => RefreshUpstream | null;
  reconcile?: ReconcileSource<any>;
}

const registered: ProviderModule[] = [
  { adapter: scalekit, reconcile: scalekitReconcileSource },
  {
    adapter: firstup,
    refreshUpstream: (env, fetch) => {
      const client = firstupScimClient(env, fetch ? { fetch } : {});
      return client ? scimRefreshUpstream(client) : null;
    },
    reconcile: firstupReconcileSource,
  },
];

export const providerModules: ReadonlyMap<string, ProviderModule> = new Map(registered.map((module) => [module.adapter.name, module]));

/** Registered webhook providers, by the `:provider` path segment. */
export const providers: ReadonlyMap<string, ProviderAdapter> = new Map(registered.map((module) => [module.adapter.name, module.adapter]));

/** Providers that can be reconciled, by name. */
export const reconcileSources: ReadonlyMap<string, ReconcileSource<any>> = new Map(
  registered.flatMap((module) => (module.reconcile ? [[module.adapter.name, module.reconcile] as const] : [])),
);
