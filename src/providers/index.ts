import { firstup } from "./firstup";
import { scalekit } from "./scalekit/adapter";
import type { ProviderAdapter } from "./types";

/** Registered webhook providers, by the `:provider` path segment. */
export const providers: ReadonlyMap<string, ProviderAdapter> = new Map([scalekit, firstup].map((adapter) => [adapter.name, adapter]));
