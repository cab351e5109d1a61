import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import type { AppEnv } from "./app-env";
import { errorResponse } from "./errors";

/**
 * `Authorization: Bearer <ADMIN_TOKEN>` for operator routes. ADMIN_TOKEN may list several tokens
 * (space-separated) for rotation; hono's bearerAuth compares in constant time. Without a
 * configured token the routes do not exist (404): nothing is reachable by default.
 *
 * Responses: 401 `unauthorized` for a missing or wrong token, 400 for a malformed header
 * (RFC 6750 `invalid_request`).
 */
export type AuthFailure = "unauthorized" | "invalid_authorization_header" | "not_found";

/** How a router words an auth failure: JSON errors by default, SCIM errors under /scim/v2. */
export type AuthFailureRenderer = (c: Context<AppEnv>, failure: AuthFailure) => Response;

const jsonFailure: AuthFailureRenderer = (c, failure) =>
  failure === "not_found"
    ? errorResponse(c, 404, "not_found")
    : c.json({ error: failure, message: "Send Authorization: Bearer <ADMIN_TOKEN>." }, failure === "unauthorized" ? 401 : 400);

export function adminAuth(render: AuthFailureRenderer = jsonFailure): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const tokens = (c.env.ADMIN_TOKEN ?? "").split(/\s+/).filter(Boolean);
    if (tokens.length === 0) return render(c, "not_found");
    const failure = (kind: "unauthorized" | "invalid_authorization_header") => ({ message: () => render(c, kind) });
    return bearerAuth<AppEnv>({
      token: tokens,
      noAuthenticationHeader: failure("unauthorized"),
      invalidToken: failure("unauthorized"),
      invalidAuthenticationHeader: failure("invalid_authorization_header"),
    })(c, next);
  };
}
