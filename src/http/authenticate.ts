import { timingSafeEqual } from "hono/utils/buffer";
import type { ProviderAdapter } from "../providers/types";
import { InvalidSecretError, verificationKeysFor } from "../verify/keys";
import { verifyStandardWebhook } from "../verify/standard-webhooks";
import type { ErrorCode } from "./errors";

/** How this deployment authenticates a provider's deliveries, from its configuration. */
export type ConfiguredAuthentication =
  | { kind: "standard-webhooks"; secretList: string }
  | { kind: "authorization-header"; expected: string };

/** The provider's configured method, or null when none is: the provider is then off (404). */
export function configuredAuthentication(adapter: ProviderAdapter, env: Env): ConfiguredAuthentication | null {
  const secretList = valueOf(env, adapter.authentication.standardWebhooksSecret);
  if (secretList) return { kind: "standard-webhooks", secretList };
  const expected = adapter.authentication.authorizationHeader ? valueOf(env, adapter.authentication.authorizationHeader) : null;
  return expected ? { kind: "authorization-header", expected } : null;
}

export type AuthenticationResult =
  | { ok: true; webhookId: string | null; signedAtMs: number | null }
  | { ok: false; status: 401 | 503; code: ErrorCode };

/**
 * Standard Webhooks: signature over id, timestamp and the exact body, within the tolerance.
 * Authorization header: the exact configured value, compared in constant time. The latter has no
 * timestamp, so it cannot reject a replayed capture by age; dedupe by event id (KV, then D1) keeps
 * a replay from having a second effect, and Firstup events only say "fetch this user again".
 */
export async function authenticateDelivery(
  method: ConfiguredAuthentication,
  input: { headers: Headers; body: Uint8Array; nowMs: number; toleranceSeconds: number },
): Promise<AuthenticationResult> {
  if (method.kind === "authorization-header") {
    const presented = input.headers.get("authorization");
    if (!presented) return { ok: false, status: 401, code: "missing_authorization" };
    return (await timingSafeEqual(presented, method.expected))
      ? { ok: true, webhookId: null, signedAtMs: null }
      : { ok: false, status: 401, code: "invalid_authorization" };
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
