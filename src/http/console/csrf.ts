import type { Context, MiddlewareHandler } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { timingSafeEqual } from "hono/utils/buffer";
import { consoleErrorPage } from "./render";
import { csrfMatches, isLoopbackHttp, randomId, type ConsoleEnv } from "./session";

/**
 * CSRF defence for the console's forms, two layers:
 *
 * 1. Origin: a browser names the page a POST comes from. When `Origin` is sent it must be this
 *    Worker's own origin (`null`, sent from sandboxed frames and some privacy modes, is refused);
 *    when `Sec-Fetch-Site` is sent it must be `same-origin` (or `none`: typed by the user). Clients
 *    that send neither (curl, tests) are judged by the token alone.
 * 2. A token in a hidden field `csrf`:
 *    - signed in, it is the session's (HMAC of the session id under the session key, session.ts):
 *      another site can neither read nor compute it;
 *    - at sign-in there is no session yet (login CSRF: a forged sign-in into the attacker's own
 *      session), so the sign-in page sets a random value both in a short-lived pre-session cookie
 *      (HttpOnly, SameSite=Strict, Path=/admin/sign-in) and in the form: a cross-site POST carries
 *      neither the cookie (SameSite) nor the value.
 * Comparisons are constant time. Any failure: the 403 page, code `csrf_invalid`.
 */

/** Origin and Sec-Fetch-Site, when the browser sends them, name this origin. */
export function sameOriginRequest(c: Context): boolean {
  const origin = c.req.header("origin");
  if (origin !== undefined && origin !== new URL(c.req.url).origin) return false;
  const site = c.req.header("sec-fetch-site");
  if (site !== undefined && site !== "same-origin" && site !== "none") return false;
  return true;
}

/** The submitted `csrf` field of a form post, or null. The parsed body is cached for the handler. */
export async function submittedCsrf(c: Context): Promise<string | null> {
  const contentType = c.req.header("content-type") ?? "";
  if (!contentType.startsWith("application/x-www-form-urlencoded") && !contentType.startsWith("multipart/form-data")) return null;
  const body = await c.req.parseBody({ all: true }).catch(() => null);
  const value = body?.csrf;
  return typeof value === "string" ? value : null;
}

/** Every console POST of a signed-in session, after requireConsoleSession. */
export function verifyCsrf(): MiddlewareHandler<ConsoleEnv> {
  return async (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD") return next();
    if (!sameOriginRequest(c) || !(await csrfMatches(c.get("console"), await submittedCsrf(c)))) {
      return consoleErrorPage(c, 403, "csrf_invalid");
    }
    await next();
  };
}

const SIGN_IN_COOKIE = "console_sign_in";
/** How long a sign-in page may sit open before its form is refused. */
const SIGN_IN_FORM_TTL_SECONDS = 60 * 60;

/** A fresh pre-session pair: the cookie is set on `c`, the value goes into the form. */
export function issueSignInFormToken(c: Context): string {
  const value = randomId();
  setCookie(c, SIGN_IN_COOKIE, value, {
    path: "/admin/sign-in",
    httpOnly: true,
    secure: !isLoopbackHttp(c.req.url),
    sameSite: "Strict",
    maxAge: SIGN_IN_FORM_TTL_SECONDS,
  });
  return value;
}

/** Signed in: the pre-session pair has done its job. */
export function clearSignInFormToken(c: Context): void {
  deleteCookie(c, SIGN_IN_COOKIE, { path: "/admin/sign-in", httpOnly: true, secure: !isLoopbackHttp(c.req.url), sameSite: "Strict" });
}

/** The sign-in POST: same origin, and the form's value equals the pre-session cookie's. */
export async function signInFormVerified(c: Context, submitted: string | null): Promise<boolean> {
  if (!sameOriginRequest(c)) return false;
  const cookie = getCookie(c, SIGN_IN_COOKIE);
  if (!cookie || !submitted) return false;
  return timingSafeEqual(cookie, submitted);
}
