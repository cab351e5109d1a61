import type { MiddlewareHandler } from "hono";

/**
 * Headers on every console response (pages, redirects, assets, error pages):
 * - a strict CSP: nothing inline (no inline script or style; the SVG chart uses presentation
 *   attributes, which CSP does not govern), scripts and styles only from this origin (the Worker's
 *   own /admin/assets), forms post only here, no framing, no <base>;
 * - X-Frame-Options for browsers older than frame-ancestors;
 * - Referrer-Policy same-origin, not no-referrer: under no-referrer browsers send `Origin: null` on
 *   same-origin form posts, and the CSRF check relies on a real Origin (src/http/console/csrf.ts);
 * - no-store: pages carry tenants' data and a per-session CSRF token; nothing is cached anywhere.
 */
export const CONSOLE_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy":
    "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "same-origin",
  "X-Content-Type-Options": "nosniff",
  "Cache-Control": "no-store",
  "Cross-Origin-Opener-Policy": "same-origin",
};

export function consoleSecurityHeaders(): MiddlewareHandler {
  return async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(CONSOLE_SECURITY_HEADERS)) c.res.headers.set(name, value);
  };
}
