import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { JSX } from "hono/jsx/jsx-runtime";
import { ErrorPage, type ConsoleErrorCode } from "../../console/views/error";
import type { ConsoleSession } from "./session";

/** A console page as an HTML response (the security headers are added by the router's middleware). */
export function renderPage(c: Context, page: JSX.Element, status: ContentfulStatusCode = 200): Response | Promise<Response> {
  return c.html(page, status);
}

/** The error page with its stable code, e.g. 403 `insufficient_scope`, 403 `csrf_invalid`, 404 `not_found`. */
export function consoleErrorPage(c: Context, status: ContentfulStatusCode, code: ConsoleErrorCode): Response | Promise<Response> {
  const session = (c.get("console") as ConsoleSession | undefined) ?? null;
  return c.html(<ErrorPage code={code} session={session} />, status);
}
