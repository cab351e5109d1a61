import { timingSafeEqual } from "hono/utils/buffer";
import type { ProviderAdapter } from "../providers/types";
import { InvalidSecretError, verificationKeysFor } from "../verify/keys";
import { verifyStandardWebhook } from "../verify/standard-webhooks";
import type { ErrorCode } from "./errors";

/** How this deployment authenticates a provider's deliveries, from its configuration. */
export type ConfiguredAuthentication =
  | { kind: "standard-webhooks"; secretList: string }
  | { kind: "authorization-header"; accepted: string[] };

/** The provider's configured method, or null when none is: the provider is then off (404). */
export function configuredAuthentication(adapter: ProviderAdapter, env: Env): ConfiguredAuthentication | null {
  const secretList = valueOf(env, adapter.authentication.standardWebhooksSecret);
  if (secretList) return { kind: "standard-webhooks", secretList };
  const configured = adapter.authentication.authorizationHeader ? valueOf(env, adapter.authentication.authorizationHeader) : null;
  const accepted = configured ? acceptedHeaderValues(configured) : [];
  return accepted.length > 0 ? { kind: "authorization-header", accepted } : null;
}

/**
 * The accepted Authorization values: one per line, or separated by commas, so a new value can be
 * added before the sender switches to it and the old one removed after (rotation). Header values
 * such as `Bearer abc` keep their inner spaces.
 */
export function acceptedHeaderValues(configured: string): string[] {
  return configured
    .split(/[\n,]/)
    .map((value) => value.trim())
    .filter((value) => value !== "");
}

export type AuthenticationResult =
  | { ok: true; webhookId: string | null; signedAtMs: number | null }
  | { ok: false; status: 401 | 503; code: ErrorCode };

/**
 * Standard Webhooks: signature over id, timestamp and the exact body, within the tolerance.
 * Authorization header: one of the configured values, compared in constant time against every one
 * of them. The header authenticates the sender, not the body, and has no timestamp, so a captured
 * value lets anyone send any body at any time: that is why header-mode events only ever trigger a
 * SCIM read (see the README's threat model), never an erasure or deactivation on their own word.
 */
export async function authenticateDelivery(
  method: ConfiguredAuthentication,
  input: { headers: Headers; body: Uint8Array; nowMs: number; toleranceSeconds: number },
): Promise<AuthenticationResult> {
  if (method.kind === "authorization-header") {
    const presented = input.headers.get("authorization");
    if (!presented) return { ok: false, status: 401, code: "missing_authorization" };
    // Every value is compared (no early exit), so timing does not reveal which one matched.
    let matched = false;
    for (const accepted of method.accepted) matched = (await timingSafeEqual(presented, accepted)) || matched;
    return matched ? { ok: true, webhookId: null, signedAtMs: null } : { ok: false, status: 401, code: "invalid_authorization" };
  }

  let keys;
  try {
    keys = await verificationKeysFor(method.secretList);
  } catch (error) {
    if (error instanceof InvalidSecretError) return { ok: false, status: 503, code: "provider_misconfigured" };
    throw error;
  }
  const verification = await verifyStandardWebhook({
    headers: input.headers,
    body: input.body,
    keys,
    nowSeconds: Math.floor(input.nowMs / 1000),
    toleranceSeconds: input.toleranceSeconds,
  });
  return verification.ok
    ? { ok: true, webhookId: verification.webhookId, signedAtMs: verification.timestampSeconds * 1000 }
    : { ok: false, status: 401, code: verification.code };
}

function valueOf(env: Env, name: keyof Env): string | null {
  const value = env[name];
  return typeof value === "string" && value.trim() !== "" ? value : null;
}
