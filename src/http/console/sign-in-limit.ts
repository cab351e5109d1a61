import { describeError } from "../../consumer/event-log";
import { log } from "../../log";

/**
 * The console's sign-in throttle: every POST /admin/sign-in counts, right or wrong, against the
 * SIGN_IN_LIMITER binding (Workers Rate Limiting, wrangler.toml: 10 per 60 s), keyed by the client's
 * IP. Counting every attempt is what lets a limited client be refused even with the right token:
 * the binding cannot be asked without counting. Its counters are per Cloudflare location and
 * approximate (Cloudflare's documentation): a brake on guessing, not an exact quota.
 *
 * Without the binding (a deployment whose wrangler.toml predates it), sign-in is unlimited, said
 * once per isolate. A binding that throws lets the attempt through (logged): the tokens are long
 * random secrets, so a limiter outage must not lock the operators out of the console.
 */

/** wrangler.toml's `simple.period`: the binding does not say when its window ends, so this is Retry-After. */
export const SIGN_IN_LIMIT_PERIOD_SECONDS = 60;

/** The key of requests without CF-Connecting-IP (only local tests and tools): one shared counter. */
export const NO_CLIENT_IP_KEY = "sign-in:no-client-ip";

let reportedUnlimited = false;

/** The address Cloudflare saw, or null: what the limit is keyed by (never logged). */
export function clientIp(request: Request): string | null {
  return request.headers.get("cf-connecting-ip")?.trim() || null;
}

/** Whether this attempt may proceed; counts it. */
export async function signInAllowed(env: Env, ip: string | null): Promise<boolean> {
  const limiter = (env as { SIGN_IN_LIMITER?: RateLimit }).SIGN_IN_LIMITER;
  if (!limiter || typeof limiter.limit !== "function") {
    if (!reportedUnlimited) {
      reportedUnlimited = true;
      log("console.sign_in_unlimited", { reason: "no_binding", binding: "SIGN_IN_LIMITER" });
    }
    return true;
  }
  try {
    const { success } = await limiter.limit({ key: ip ? `sign-in:${ip}` : NO_CLIENT_IP_KEY });
    return success;
  } catch (error) {
    log("console.sign_in_limiter_error", { error: describeError(error) });
    return true;
  }
}
