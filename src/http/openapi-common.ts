import { OpenAPIRegistry } from "@asteasolutions/zod-to-openapi";
// Types only. Its runtime entry does `import { z } from "zod"`, which pulls every zod locale
// (~260 KB minified) into the Worker; the registry and generator it wraps (zod-to-openapi) and
// hono's validator are used directly below instead. Describe schemas with zod's `.meta()`, never
// `.openapi()`: that extension is typed but not installed.
import type { RouteConfig, RouteHandler } from "@hono/zod-openapi";
import { Hono, type Context, type Env, type Handler, type MiddlewareHandler } from "hono";
import { mergePath } from "hono/utils/url";
import { validator } from "hono/validator";
import * as z from "zod";
import type { AuthFailure } from "./auth";
import { errorResponse, type ErrorCode } from "./errors";

/**
 * What the typed routers under /v1 and /admin share. Each route is one `RouteConfig` object
 * (openapi-v1.ts, openapi-admin.ts): the same zod schemas validate the request and describe it in
 * /openapi.json, and the handler's JSON is type-checked against the declared responses.
 */

/** Security scheme names in /openapi.json (openapi.ts registers them). */
export const READ_SECURITY: Record<string, string[]>[] = [{ readToken: [] }, { adminToken: [] }];
export const ADMIN_SECURITY: Record<string, string[]>[] = [{ adminToken: [] }];

/**
 * Parses the query or the path parameters with the route's schema, for `c.req.valid()`. Failures are
 * 400 `invalid_query` with one `issues` line per problem. The query is `c.req.query()`: a repeated
 * parameter counts once (its first value), as on these routes before they were typed.
 */
function validated(target: "query" | "param", schema: z.ZodType): MiddlewareHandler {
  return validator(target, (_value, c: Context) => {
    const result = schema.safeParse(target === "query" ? c.req.query() : c.req.param());
    if (result.success) return result.data;
    return errorResponse(c, 400, "invalid_query", { issues: result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`) });
  });
}

/**
 * Parses a JSON request body with the route's schema, for `c.req.valid("json")`. Anything else
 * (not JSON, or not the shape) is 400 `invalid_body` with one `issues` line per problem. Parsed
 * here rather than by hono's json validator, whose malformed-JSON answer is not our error format.
 */
function validatedJsonBody(schema: z.ZodType): MiddlewareHandler {
  return async (c, next) => {
    let body: unknown;
    try {
      body = JSON.parse(await c.req.text());
    } catch {
      return errorResponse(c, 400, "invalid_body", { issues: ["body: not JSON"] });
    }
    const result = schema.safeParse(body);
    if (!result.success) return errorResponse(c, 400, "invalid_body", { issues: result.error.issues.map((issue) => `${issue.path.join(".") || "body"}: ${issue.message}`) });
    c.req.addValidatedData("json", result.data as {});
    await next();
  };
}

/** Keeps a route's literal types (method, path, statuses) for the handler's typing. */
export const defineRoute = <R extends RouteConfig>(route: R) => route;

/** Copies route descriptions from one registry to another under a path prefix (hono's mergePath). */
export function copyRoutes(from: OpenAPIRegistry, to: OpenAPIRegistry, prefix: string) {
  for (const definition of from.definitions) {
    if (definition.type !== "route") throw new Error(`unexpected ${definition.type} definition: register components in openapi.ts`);
    to.registerPath({ ...definition.route, path: mergePath(prefix, definition.route.path) });
  }
}

/**
 * A hono router whose `openapi()` routes are validated (query and path) and recorded in `registry`,
 * from which openapi.ts builds the document. What @hono/zod-openapi's OpenAPIHono does, without
 * its runtime (see the import above).
 */
export class TypedRouter<E extends Env> extends Hono<E> {
  readonly registry = new OpenAPIRegistry();

  openapi<R extends RouteConfig>(route: R, handler: RouteHandler<R, E>) {
    this.registry.registerPath(route);
    const validators: MiddlewareHandler[] = [];
    const { query, params, body } = route.request ?? {};
    if (query) validators.push(validated("query", query as z.ZodType));
    if (params) validators.push(validated("param", params as z.ZodType));
    const json = body?.content["application/json"];
    if (json && "schema" in json && json.schema) validators.push(validatedJsonBody(json.schema as z.ZodType));
    this.on([route.method.toUpperCase()], [route.path.replace(/\{(\w+)\}/g, ":$1")], ...validators, handler as Handler<E>);
  }

  /** `route()` for a typed sub-router: its descriptions come along. */
  nest(path: string, child: TypedRouter<E>) {
    this.route(path, child);
    copyRoutes(child.registry, this.registry, path);
  }
}

export const pageLimit = (max: number, fallback: number) =>
  z.coerce.number().int().min(1).max(max).default(fallback).meta({ description: `Page size, 1-${max}.` });

export const cursorParam = <T extends z.ZodType>(cursor: T) =>
  cursor.optional().meta({ description: "`next_cursor` from the previous page, passed back as given (opaque)." });

export const timestamp = z.iso.datetime().nullable();

/** Stored times (integer milliseconds) as the API shows them: ISO 8601 UTC, null stays null. */
export function isoTime(ms: number): string;
export function isoTime(ms: number | null): string | null;
export function isoTime(ms: number | null) {
  return ms === null ? null : new Date(ms).toISOString();
}
export const nextCursor = z.string().nullable().meta({ description: "Pass back as `cursor` for the next page; null on the last page." });

type Code = ErrorCode | AuthFailure;

/**
 * The error body, `{ error, message }` (errors.ts), with `error` narrowed to the stable codes one
 * status can carry, so a client can switch on them.
 */
export function errorBody<const C extends readonly [Code, ...Code[]], S extends z.ZodRawShape = {}>(codes: C, extra: S = {} as S) {
  return z.object({ error: z.enum(codes), message: z.string(), ...extra });
}

/** A JSON response entry for `createRoute({ responses })`. */
export const jsonResponse = <T extends z.ZodType>(schema: T, description: string) => ({ description, content: { "application/json": { schema } } });

export const issueList = z.array(z.string()).meta({ description: "One line per problem: `path: message`." });

/**
 * Error responses the auth middleware (auth.ts) and the routers give. A route spreads the ones it
 * can answer; 400 on a route with a query also covers `invalid_query`.
 */
export const errorResponses = {
  badHeader: jsonResponse(errorBody(["invalid_authorization_header"]), "Malformed Authorization header (RFC 6750 `invalid_request`)."),
  invalidQuery: jsonResponse(
    errorBody(["invalid_query", "invalid_authorization_header"], { issues: issueList.optional() }),
    "A query parameter is missing or invalid (`invalid_query`, with `issues`), or the Authorization header is malformed.",
  ),
  invalidBody: jsonResponse(
    errorBody(["invalid_body", "invalid_authorization_header"], { issues: issueList.optional() }),
    "The JSON body is missing or invalid (`invalid_body`, with `issues`), or the Authorization header is malformed.",
  ),
  unauthorized: jsonResponse(errorBody(["unauthorized"]), "No bearer token, or not a configured one."),
  insufficientScope: jsonResponse(errorBody(["insufficient_scope"]), "A read token on a route that needs an admin token."),
  notFound: jsonResponse(errorBody(["not_found"]), "No such record (or not in the token's organization), or no token is configured that could reach this route."),
  internal: jsonResponse(errorBody(["internal_error"]), "Unexpected error; nothing about it is shown."),
  misconfigured: jsonResponse(errorBody(["service_misconfigured"]), "A setting this route needs is invalid; `/healthz` names it. Sent with Retry-After."),
};

/** What the read auth middleware can answer on any /v1 route, besides the route's own responses. */
export const readAuthResponses = { 400: errorResponses.badHeader, 401: errorResponses.unauthorized, 404: errorResponses.notFound, 500: errorResponses.internal };
/** The same for admin routes, which also refuse read tokens. */
export const adminAuthResponses = { ...readAuthResponses, 403: errorResponses.insufficientScope };
