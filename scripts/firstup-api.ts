/**
 * What `firstup:subscribe` and `firstup:status` share: where Firstup's API is, the token, and how
 * a subscription prints. The token is read from the environment only (FIRSTUP_API_TOKEN): never a
 * flag, which shell history and process listings would keep, and never .dev.vars, which holds the
 * Worker's own read-only token.
 */
import {
  apiUrlFromScimUrl,
  describeEvents,
  describeProblem,
  FirstupApiError,
  type FirstupSubscription,
  type SubscriptionProblem,
} from "../src/providers/firstup/subscriptions.ts";
import { isHttpsOrLoopback } from "../src/url-policy.ts";
import { devVar } from "./dev-vars.ts";

/** Exit codes: 0 all good, 1 a problem found or a call failed, 2 the command itself is wrong. */
export const EXIT_OK = 0;
export const EXIT_PROBLEM = 1;
export const EXIT_USAGE = 2;

/** Where `npm start` serves the Worker: the expected webhook URL when checking the local emulator. */
export const LOCAL_WORKER_WEBHOOK_URL = "http://127.0.0.1:8787/webhooks/firstup";

export class UsageError extends Error {}

/**
 * The API base: --api, else FIRSTUP_API_URL, else FIRSTUP_SCIM_URL without /scim/v2, each from the
 * environment first, then from .dev.vars (local development against `npm run upstream`).
 */
export function resolveApiBase(flag: string | undefined): string {
  const candidates = [
    flag,
    process.env.FIRSTUP_API_URL,
    process.env.FIRSTUP_SCIM_URL && apiUrlFromScimUrl(process.env.FIRSTUP_SCIM_URL),
    devVar("FIRSTUP_API_URL"),
    devVar("FIRSTUP_SCIM_URL") && apiUrlFromScimUrl(devVar("FIRSTUP_SCIM_URL")!),
  ];
  const base = candidates.map((candidate) => candidate?.trim()).find((candidate) => candidate);
  if (!base) throw new UsageError("Where is Firstup's API? Pass --api https://partner.<region>… (or set FIRSTUP_API_URL).");
  if (!isHttpsOrLoopback(base)) throw new UsageError(`--api must be an https URL (http only for 127.0.0.1, localhost, [::1]), without credentials: ${base}`);
  return base;
}

export function apiToken(scopes: string): string {
  const token = process.env.FIRSTUP_API_TOKEN?.trim();
  if (!token) throw new UsageError(`FIRSTUP_API_TOKEN is not set: put a Firstup access token with ${scopes} in this command's environment (it is never read from a flag or from .dev.vars).`);
  return token;
}

/**
 * FIRSTUP_WEBHOOK_AUTHORIZATION from the environment: the Authorization values the Worker accepts
 * in header mode (one per line or comma-separated, as the Worker reads them), or null: not checked.
 */
export function acceptedAuthorization(): string[] | null {
  const values = (process.env.FIRSTUP_WEBHOOK_AUTHORIZATION ?? "")
    .split(/[\n,]/)
    .map((value) => value.trim())
    .filter((value) => value !== "");
  return values.length > 0 ? values : null;
}

/** One line per subscription; the Authorization header is never printed, only whether one is set. */
export function printSubscriptions(subscriptions: FirstupSubscription[], relevant: Set<FirstupSubscription>): void {
  console.log(`${subscriptions.length} subscription${subscriptions.length === 1 ? "" : "s"}:`);
  for (const subscription of subscriptions) {
    const fields = [
      subscription.id,
      subscription.name ?? "-",
      subscription.url,
      subscription.active ? "active" : "INACTIVE",
      describeEvents(subscription.events),
      subscription.hasAuthorizationHeader ? "authorization header set" : "no authorization header",
    ];
    console.log(`  ${fields.join("  ")}${relevant.has(subscription) ? "" : "  (no user events: not this Worker's)"}`);
  }
}

export function printProblems(problems: SubscriptionProblem[]): void {
  for (const problem of problems) console.log(`  - ${problem.code}: ${describeProblem(problem)}`);
}

/** Prints why the command failed, with what to do about it, and returns the exit code. */
export function reportFailure(error: unknown, scopes: string): number {
  if (error instanceof UsageError) {
    console.error(error.message);
    return EXIT_USAGE;
  }
  if (error instanceof FirstupApiError) {
    const hints: Partial<Record<FirstupApiError["code"], string>> = {
      unauthorized: "Firstup did not recognize FIRSTUP_API_TOKEN (access tokens expire after 2 hours; get a fresh one).",
      forbidden: `The token lacks a scope this needs: ${scopes}.`,
      not_found: "Nothing answers there: check --api (Firstup's API base, without /v2).",
      rate_limited: "Firstup is rate limiting this program; try again in a minute.",
    };
    console.error(`Firstup API: ${error.message}${hints[error.code] ? `\n${hints[error.code]}` : ""}`);
    return EXIT_PROBLEM;
  }
  console.error(error instanceof Error ? error.message : String(error));
  return EXIT_PROBLEM;
}
