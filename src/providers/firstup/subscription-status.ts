import { ConfigError, firstupApiConfig } from "../../config";
import { configuredAuthentication } from "../../http/authenticate";
import { log } from "../../log";
import { firstup } from "./adapter";
import {
  assessSubscriptions,
  createFirstupSubscriptionsClient,
  FirstupApiError,
  type FirstupApiErrorCode,
  type SubscriptionEvent,
  type SubscriptionProblem,
} from "./subscriptions";

/**
 * The console's view of Firstup's webhook subscriptions (`data-testid="firstup-subscription"` on
 * the overview): does Firstup deliver the user events to this Worker? Never throws: every outcome
 * is a status the panel can show. Reads with FIRSTUP_API_TOKEN, which needs only `webhooks.read`;
 * creating or repairing a subscription is `npm run firstup:subscribe`, from an operator's machine.
 *
 * The overview may be loaded often, and Firstup allows 1,000 requests a minute per program
 * (shared with everything else using its API): a report is reused for CACHE_MS within an isolate,
 * and the whole check (every page, at most MAX_PAGES) has TIMEOUT_MS, so a slow Firstup never
 * holds the page for long.
 */

export interface SubscriptionSummary {
  id: string;
  name: string | null;
  url: string;
  active: boolean;
  events: SubscriptionEvent[];
}

export type FirstupSubscriptionReport =
  | { status: "not_configured"; reason: "no_api_url" | "no_token" | "invalid_setting" }
  | { status: "unreachable"; reason: Exclude<FirstupApiErrorCode, "unauthorized" | "forbidden"> | "internal_error"; checkedAt: string }
  /** 401: the token is not recognized (expired?); 403: it lacks webhooks.read. */
  | { status: "unauthorized"; reason: "unauthorized" | "forbidden"; checkedAt: string }
  | {
      status: "ok" | "problems";
      expectedUrl: string;
      /** The subscriptions that concern this Worker (at its URL, or carrying the user events). */
      subscriptions: SubscriptionSummary[];
      /** How many others the program has (other integrations), not shown. */
      otherSubscriptions: number;
      problems: SubscriptionProblem[];
      checkedAt: string;
    };

export interface CheckOptions {
  fetch?: typeof fetch;
  now?: () => number;
  /** How long a report is reused; 0: never. */
  cacheMs?: number;
  /** The whole check's budget (every request, every page). */
  timeoutMs?: number;
}

const CACHE_MS = 60_000;
/** For the whole check, every page included: the overview waits for it on a cache miss. */
const TIMEOUT_MS = 3_000;
/** 5 pages of 100 subscriptions: the console's bound; past it the report says listing_incomplete. */
const MAX_PAGES = 5;

const cache = new Map<string, { report: FirstupSubscriptionReport; expiresAt: number }>();

export async function checkFirstupSubscriptions(env: Env, expectedUrl: string, options: CheckOptions = {}): Promise<FirstupSubscriptionReport> {
  const now = options.now ?? Date.now;
  let config;
  try {
    config = firstupApiConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return { status: "not_configured", reason: "invalid_setting" };
    return { status: "unreachable", reason: "internal_error", checkedAt: new Date(now()).toISOString() };
  }
  if (config.url === null) return { status: "not_configured", reason: "no_api_url" };
  if (config.token === null) return { status: "not_configured", reason: "no_token" };

  const cacheMs = options.cacheMs ?? CACHE_MS;
  const key = `${config.url}\n${expectedUrl}`;
  const cached = cache.get(key);
  if (cacheMs > 0 && cached && cached.expiresAt > now()) return cached.report;

  const report = await check(env, config.url, config.token, expectedUrl, options, new Date(now()).toISOString());
  if (report.status !== "ok") {
    const detail = "problems" in report ? { problems: report.problems.map((problem) => problem.code) } : { reason: report.reason };
    log("firstup_subscription_check", { status: report.status, ...detail });
  }
  if (cacheMs > 0) {
    // One entry per API and Worker URL: in practice one; bounded anyway.
    if (cache.size >= 16) cache.clear();
    cache.set(key, { report, expiresAt: now() + cacheMs });
  }
  return report;
}

async function check(env: Env, apiUrl: string, token: string, expectedUrl: string, options: CheckOptions, checkedAt: string): Promise<FirstupSubscriptionReport> {
  try {
    const timeoutMs = options.timeoutMs ?? TIMEOUT_MS;
    const client = createFirstupSubscriptionsClient({ baseUrl: apiUrl, token, fetch: options.fetch, timeoutMs, signal: AbortSignal.timeout(timeoutMs), maxPages: MAX_PAGES });
    const listing = await client.list();
    // Header mode: the subscription's Authorization value must be one the Worker accepts. With
    // Standard Webhooks signatures configured, the header plays no part and is not checked.
    const authentication = configuredAuthentication(firstup, env);
    const acceptedAuthorization = authentication?.kind === "authorization-header" ? authentication.accepted : null;
    const assessment = await assessSubscriptions(listing, { expectedUrl, acceptedAuthorization });
    return {
      status: assessment.ok ? "ok" : "problems",
      expectedUrl: assessment.expectedUrl ?? expectedUrl,
      subscriptions: assessment.relevant.map(({ id, name, url, active, events }) => ({ id, name, url, active, events })),
      otherSubscriptions: listing.subscriptions.length - assessment.relevant.length,
      problems: assessment.problems,
      checkedAt,
    };
  } catch (error) {
    if (!(error instanceof FirstupApiError)) return { status: "unreachable", reason: "internal_error", checkedAt };
    if (error.code === "unauthorized" || error.code === "forbidden") return { status: "unauthorized", reason: error.code, checkedAt };
    return { status: "unreachable", reason: error.code, checkedAt };
  }
}
