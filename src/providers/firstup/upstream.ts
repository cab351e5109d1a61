import * as z from "zod";
import { ConfigError } from "../../config";
import { createScimClient, type ScimClient, type ScimClientOptions } from "./scim-client";

/** Firstup's SCIM upstream is configured when both its URL (var) and token (secret) are set. */
const URL_VARIABLE = "FIRSTUP_SCIM_URL";
const TOKEN_VARIABLE = "FIRSTUP_SCIM_TOKEN";

const scimUrl = z.url({ protocol: /^https?$/ });

/** Firstup's SCIM client, or null when its upstream is not configured. */
export function firstupScimClient(env: Env, overrides: Partial<ScimClientOptions> = {}): ScimClient | null {
  const url = String(env[URL_VARIABLE] ?? "").trim();
  const token = String(env[TOKEN_VARIABLE] ?? "").trim();
  if (!url || !token) return null;
  if (!scimUrl.safeParse(url).success) throw new ConfigError([`${URL_VARIABLE}: invalid_url`]);
  return createScimClient({ baseUrl: url, token, ...overrides });
}
