import * as z from "zod";
import { ConfigError } from "../config";
import { createScimClient, type ScimClient, type ScimClientOptions } from "./scim-client";

/**
 * Which providers have a SCIM upstream, and how to reach it. A provider is upstream-enabled when
 * both its URL (var) and token (secret) are set.
 */
const upstreamVariables = {
  firstup: { url: "FIRSTUP_SCIM_URL", token: "FIRSTUP_SCIM_TOKEN" },
} as const satisfies Record<string, { url: keyof Env; token: keyof Env }>;

export type UpstreamProvider = keyof typeof upstreamVariables;
export const upstreamProviders = Object.keys(upstreamVariables) as UpstreamProvider[];

const scimUrl = z.url({ protocol: /^https?$/ });

export function isUpstreamProvider(provider: string): provider is UpstreamProvider {
  return Object.hasOwn(upstreamVariables, provider);
}

/** The provider's SCIM client, or null when its upstream is not configured. */
export function upstreamClient(env: Env, provider: UpstreamProvider, overrides: Partial<ScimClientOptions> = {}): ScimClient | null {
  const names = upstreamVariables[provider];
  const url = String(env[names.url] ?? "").trim();
  const token = String(env[names.token] ?? "").trim();
  if (!url || !token) return null;
  if (!scimUrl.safeParse(url).success) throw new ConfigError([`${names.url}: invalid_url`]);
  return createScimClient({ baseUrl: url, token, ...overrides });
}
