import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import { log } from "../log";
import { authenticateConnection, CONNECTION_ID, type ScimConnection } from "../scim/connections";
import type { AppEnv } from "./app-env";
import { scimError } from "./scim";

/** Routers under /scim/v2/connections/:connectionId: AppEnv plus the authenticated connection. */
export type ConnectionEnv = { Bindings: Env; Variables: AppEnv["Variables"] & { scimConnection: ScimConnection } };

const CHALLENGE = 'Bearer realm="scim"';
const INVALID_TOKEN_CHALLENGE = 'Bearer realm="scim", error="invalid_token"';

/**
 * Every failure is the same 401 in the SCIM error format, a malformed header included (identity
 * providers show a 401 as "check the token"; a 400 would read as a payload bug). The body never
 * says whether the connection exists, is disabled, or the token is wrong; the log line does.
 */
const refuse = (c: Context) => scimError(c, 401, "Send Authorization: Bearer <token> with this connection's token.");

/**
 * Authenticates a SCIM connection's requests (`/scim/v2/connections/:connectionId/*`) with the
 * connection's bearer token (scim/connections.ts) and sets `scimConnection` for the handlers.
 * Admin and read tokens are not connection tokens: they are refused here like any other.
 *
 * @example
 * const app = new Hono<ConnectionEnv>();
 * app.use("/:connectionId/*", connectionAuth());
 * app.get("/:connectionId/Users", (c) => listUsersOf(c.get("scimConnection").provider));
 */
export function connectionAuth(): MiddlewareHandler<ConnectionEnv> {
  return bearerAuth<ConnectionEnv>({
    verifyToken: async (token, c) => {
      const connectionId = c.req.param("connectionId") ?? "";
      const result = await authenticateConnection(c.env.DB, connectionId, token, c.get("now")());
      if (!result.ok) {
        // The id comes from the URL: logged only when it is one this service could have issued.
        log("scim_connection.refused", { connectionId: CONNECTION_ID.test(connectionId) ? connectionId : "malformed", reason: result.reason });
        return false;
      }
      if (result.matched === "previous") log("scim_connection.previous_token_used", { connectionId });
      c.set("scimConnection", result.connection);
      return true;
    },
    noAuthenticationHeader: { message: refuse, wwwAuthenticateHeader: CHALLENGE },
    invalidAuthenticationHeader: { message: refuse, wwwAuthenticateHeader: INVALID_TOKEN_CHALLENGE },
    invalidToken: { message: refuse, wwwAuthenticateHeader: INVALID_TOKEN_CHALLENGE },
  });
}
