import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import * as z from "zod";
import { CONSOLE_CSS, CONSOLE_JS } from "../../console/assets";
import { consoleSecurityHeaders } from "../../console/headers";
import { loadOverview } from "../../console/overview";
import { FirstupSubscriptionPanel } from "../../console/views/firstup-subscription";
import { OverviewPage } from "../../console/views/overview";
import { checkFirstupSubscriptions } from "../../providers/firstup/subscription-status";
import { FIRSTUP_WEBHOOK_PATH } from "../../providers/firstup/subscriptions";
import { SignInPage, type SignInError } from "../../console/views/sign-in";
import type { AppEnv } from "../app-env";
import { errorResponse } from "../errors";
import { log } from "../../log";
import { clearSignInFormToken, issueSignInFormToken, signInFormVerified, verifyCsrf } from "./csrf";
import { clientIp, SIGN_IN_LIMIT_PERIOD_SECONDS, signInAllowed } from "./sign-in-limit";
import { CONSOLE_PATHS } from "./paths";
import { consoleErrorPage, renderPage } from "./render";
import { checkSignInToken, consoleEnabled, endSession, readSession, requireConsoleAdmin, requireConsoleSession, startSession, type ConsoleEnv } from "./session";
import { consolePageRoutes } from "./pages";
import { consoleImportRoutes } from "./imports";

/**
 * The operator console (HTML), mounted at /admin before the JSON admin API (src/http/app.ts):
 * - GET  /admin                  the overview (needs a session; without one: 303 to sign-in)
 * - GET  /admin/sign-in          the sign-in form;  POST: sets the session cookie, 303 → /admin
 *                                (POST is rate-limited per client IP: sign-in-limit.ts; each refusal is logged)
 * - POST /admin/sign-out         clears it (form with csrf), 303 → /admin/sign-in
 * - GET  /admin/assets/console.{css,js}
 * - /admin/console/…             the other pages (pages.tsx)
 *
 * Its middleware is registered on these paths only, never on `*`: every other /admin path
 * (/admin/events, …) falls through to the JSON API untouched, which authenticates with a bearer
 * token only. The session cookie never authenticates the JSON API, so a forged cross-site request
 * cannot reach it with the browser's cookie. Without any credential that could sign in, the console
 * does not exist (the same JSON 404 as any unknown route), like the admin API.
 */
export function consoleRoutes() {
  const app = new Hono<ConsoleEnv>();
  for (const path of CONSOLE_PATHS) {
    app.use(path, async (c, next) => {
      if (!consoleEnabled(c.env)) return errorResponse(c, 404, "not_found");
      await next();
    });
    app.use(path, consoleSecurityHeaders());
    // Before anything reads a form (sign-in answers anyone): refused on Content-Length, or as soon
    // as a streamed body passes the cap, so no post is read whole into memory.
    app.use(path, bodyLimit({ maxSize: CONSOLE_FORM_MAX_BYTES, onError: (c) => consoleErrorPage(c, 413, "payload_too_large") }));
  }

  app.get("/assets/console.css", (c) => c.body(CONSOLE_CSS, 200, { "Content-Type": "text/css; charset=utf-8" }));
  app.get("/assets/console.js", (c) => c.body(CONSOLE_JS, 200, { "Content-Type": "text/javascript; charset=utf-8" }));

  app.get("/sign-in", async (c) => {
    if (await readSession(c, c.get("now")())) return c.redirect("/admin", 303);
    return signInPage(c, null, 200);
  });
  app.post("/sign-in", async (c) => {
    // Counted before the form is read, so a limited client is refused even with the right token.
    const ip = clientIp(c.req.raw);
    if (!(await signInAllowed(c.env, ip))) {
      c.header("Retry-After", String(SIGN_IN_LIMIT_PERIOD_SECONDS));
      return refuseSignIn(c, "rate_limited", 429);
    }
    const form = signInForm.safeParse(await c.req.parseBody().catch(() => ({})));
    const submitted = form.success ? form.data : { csrf: undefined, token: undefined };
    if (!(await signInFormVerified(c, submitted.csrf ?? null))) return refuseSignIn(c, "csrf_invalid", 403);
    if (!submitted.token) return refuseSignIn(c, "invalid_token", 401);
    const result = await checkSignInToken(c.env, submitted.token);
    if (!result.ok) return refuseSignIn(c, result.code, result.code === "insufficient_scope" ? 403 : 401);
    await startSession(c, submitted.token, result.role, c.get("now")());
    clearSignInFormToken(c);
    return c.redirect("/admin", 303);
  });

  app.post("/sign-out", requireConsoleSession(), verifyCsrf(), (c) => {
    endSession(c);
    return c.redirect("/admin/sign-in", 303);
  });

  app.get("/", requireConsoleSession(), async (c) => {
    // Firstup's subscription is checked for this Worker's own origin; the check never throws, is
    // bounded (3 s) and cached (60 s): src/providers/firstup/subscription-status.ts.
    const [overview, firstup] = await Promise.all([loadOverview(c.env, c.get("now")()), checkFirstupSubscriptions(c.env, new URL(FIRSTUP_WEBHOOK_PATH, c.req.url).href)]);
    return renderPage(c, <OverviewPage session={c.get("console")} overview={overview} firstup={<FirstupSubscriptionPanel report={firstup} />} />);
  });

  // Every other page: a session; every POST a valid CSRF token and the admin role.
  app.use("/console/*", requireConsoleSession(), verifyCsrf());
  app.on("POST", "/console/*", requireConsoleAdmin());
  app.route("/console", consolePageRoutes());
  app.route("/console/imports", consoleImportRoutes());
  app.all("/console", (c) => consoleErrorPage(c, 404, "not_found"));
  app.all("/console/*", (c) => consoleErrorPage(c, 404, "not_found"));
  return app as unknown as Hono<AppEnv>;
}

/** The largest console form post: a sign-in token (4 KB at most) or 100 dead-letter ids, with room to spare. */
export const CONSOLE_FORM_MAX_BYTES = 64 * 1024;

const signInForm = z.object({
  csrf: z.string().max(100).optional(),
  token: z.string().max(4096).optional(),
});

function signInPage(c: Context<ConsoleEnv>, error: SignInError | null, status: 200 | 401 | 403 | 429) {
  return renderPage(c, <SignInPage formToken={issueSignInFormToken(c)} error={error} />, status);
}

/**
 * A refused sign-in: one log line with its stable code, never the presented token or any part of
 * it, and not the client's address either (personal data stays out of logs; Cloudflare's own
 * security analytics show who is refused, and the limiter already acts per address).
 */
function refuseSignIn(c: Context<ConsoleEnv>, code: SignInError, status: 401 | 403 | 429) {
  log("console.sign_in_refused", { code, status });
  return signInPage(c, code, status);
}
