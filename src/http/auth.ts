import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { HTTPException } from "hono/http-exception";
import type { ReadScope } from "../directory/read";
import type { AppEnv } from "./app-env";
import { configuredCredentials, identify, type Principal } from "./credentials";
import { errorResponse } from "./errors";

/**
 * `Authorization: Bearer <token>` on every route but webhooks and /healthz (credentials.ts says
 * which tokens exist). Two levels:
 * - admin: operator routes and anything that is not a read. A valid read token gets 403
 *   `insufficient_scope`, so a leaked dashboard token can never replay or reconcile.
 * - read: `/v1` and GET `/scim/v2`. Admin tokens read everything; a read token reads everything or,
 *   when scoped, one organization (`readScope`, which every read query applies).
 *
 * Without a credential that could ever pass, a route does not exist (404): nothing is reachable by
 * default. Missing or wrong token: 401. Malformed header: 400 (RFC 6750 `invalid_request`).
 */
export type AuthFailure = "unauthorized" | "invalid_authorization_header" | "not_found" | "insufficient_scope";

/** How a router words an auth failure: JSON errors by default, SCIM errors under /scim/v2. */
export type AuthFailureRenderer = (c: Context, failure: AuthFailure) => Response;

/** Routers that read the directory: AppEnv plus the caller's scope. */
export type ReadEnv = { Bindings: Env; Variables: AppEnv["Variables"] & { readScope: ReadScope } };

export type Access = "admin" | "read";

const jsonFailure: AuthFailureRenderer = (c, failure) => {
  switch (failure) {
    case "not_found":
      return errorResponse(c, 404, "not_found");
    case "insufficient_scope":
      return errorResponse(c, 403, "insufficient_scope");
    default:
      return c.json({ error: failure, message: "Send Authorization: Bearer <token>." }, failure === "unauthorized" ? 401 : 400);
  }
};

/** Operator routes: admin tokens only. */
export function adminAuth(render: AuthFailureRenderer = jsonFailure): MiddlewareHandler<AppEnv> {
  return authorize(() => "admin", render, () => {});
}

/**
 * Read routes: admin or read tokens; sets `readScope`. `access` can demand admin for some
 * requests of the router (SCIM writes), which read tokens then cannot pass.
 */
export function readAuth(render: AuthFailureRenderer = jsonFailure, access: (c: Context) => Access = () => "read"): MiddlewareHandler<ReadEnv> {
  return authorize(access, render, (c, principal) => {
    c.set("readScope", { organizationId: principal.role === "reader" ? principal.organizationId : null });
  });
}

function authorize<E extends AppEnv | ReadEnv>(
  access: (c: Context<E>) => Access,
  render: AuthFailureRenderer,
  onAuthorized: (c: Context<E>, principal: Principal) => void,
): MiddlewareHandler<E> {
  return async (c, next) => {
    const credentials = configuredCredentials(c.env);
    const required = access(c);
    if (required === "admin" ? !credentials.admin : credentials.all.length === 0) return render(c, "not_found");
    const failure = (kind: AuthFailure) => ({ message: () => render(c, kind) });
    return bearerAuth<E>({
      verifyToken: async (token, context) => {
        const principal = await identify(token, credentials);
        if (principal === null) return false;
        if (required === "admin" && principal.role !== "admin") {
          const response = render(context, "insufficient_scope");
          response.headers.set("WWW-Authenticate", 'Bearer error="insufficient_scope"');
          throw new HTTPException(403, { res: response });
        }
        onAuthorized(context, principal);
        return true;
      },
      noAuthenticationHeader: failure("unauthorized"),
      invalidToken: failure("unauthorized"),
      invalidAuthenticationHeader: failure("invalid_authorization_header"),
    })(c, next);
  };
}
