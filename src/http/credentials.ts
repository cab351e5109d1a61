import { timingSafeEqual } from "hono/utils/buffer";

/**
 * Bearer credentials, from two secrets:
 * - `ADMIN_TOKEN`: whitespace-separated tokens that may do everything (operator routes and every
 *   read, unscoped). Several may be live at once for rotation.
 * - `READ_TOKENS`: whitespace-separated entries that may only read (`/v1`, GET `/scim/v2`). An
 *   entry is `<token>` (every organization) or `<organization_id>:<token>` (that organization only;
 *   split on the last ':' so organization ids may contain one, tokens may not).
 *
 * Tokens are only ever compared in constant time, each presented token against every configured
 * one, so neither a match nor which secret it matched shows in the timing.
 */

/** RFC 6750 token68: what a bearer token can look like in a header (hono's bearerAuth checks the same). */
const TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;

/** Who a request is, once its token matched. `organizationId` null: every organization. */
export type Principal = { role: "admin" } | { role: "reader"; organizationId: string | null };

interface Credential {
  token: string;
  principal: Principal;
}

interface Credentials {
  /** Every configured credential, admin first. */
  all: Credential[];
  admin: boolean;
  /** Setting name → problem code, for /healthz. Values are never kept here. */
  problems: { setting: string; problem: string }[];
}

const cache = new WeakMap<object, Credentials>();

export function configuredCredentials(env: Env): Credentials {
  const cached = cache.get(env);
  if (cached) return cached;
  const problems: Credentials["problems"] = [];
  const all: Credential[] = [];
  for (const token of words(env.ADMIN_TOKEN)) {
    if (TOKEN.test(token)) all.push({ token, principal: { role: "admin" } });
    else problems.push({ setting: "ADMIN_TOKEN", problem: "unusable_token" });
  }
  const admin = all.length > 0;
  for (const entry of words(env.READ_TOKENS)) {
    const colon = entry.lastIndexOf(":");
    const organizationId = colon === -1 ? null : entry.slice(0, colon);
    const token = entry.slice(colon + 1);
    // "org:" or ":token" is a typo, not an unscoped token: it never authenticates anyone.
    if (organizationId === "" || !TOKEN.test(token)) problems.push({ setting: "READ_TOKENS", problem: "invalid_entry" });
    else all.push({ token, principal: { role: "reader", organizationId } });
  }
  const credentials = { all, admin, problems };
  cache.set(env, credentials);
  return credentials;
}

/** The principal whose token equals `presented`, admin before reader; null when none does. */
export async function identify(presented: string, credentials: Credentials): Promise<Principal | null> {
  // Every comparison runs, whatever matched first.
  const matches = await Promise.all(credentials.all.map((credential) => timingSafeEqual(credential.token, presented)));
  const index = matches.indexOf(true);
  return index === -1 ? null : credentials.all[index]!.principal;
}

function words(value: string | undefined): string[] {
  return typeof value === "string" ? value.split(/\s+/).filter(Boolean) : [];
}
