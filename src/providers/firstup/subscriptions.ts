import { timingSafeEqual } from "hono/utils/buffer";
import * as z from "zod";
import { isHttpsOrLoopback } from "../../url-policy.ts";

/**
 * Firstup's webhook subscriptions: a fetch-only client (runs in workerd and in Node, for the
 * console's status panel and for `npm run firstup:subscribe` / `firstup:status`), and the pure
 * check of whether Firstup will deliver what this Worker needs.
 *
 * What Firstup documents (developers.firstup.io, "Webhooks" API reference and "Webhooks Overview"):
 * - `GET /v2/webhooks/subscriptions` (scope `webhooks.read`) answers
 *   `{ data: [{ id, url, authorization_header, active, events: [{ name, version }], created_at,
 *   updated_at }], meta: { pagination: { cursor, next, page_size } } }`, paged by the query
 *   parameters `page.size` and `page.number`;
 * - `POST /v2/webhooks/subscriptions` (scope `webhooks.write`) takes `{ url, authorization_header,
 *   active, events }` and answers 201 `{ data: <subscription> }`;
 * - `PUT /v2/webhooks/subscriptions/{subscription_id}` (scope `webhooks.write`) updates "as a
 *   patch": only the properties sent change, except `events`, which is replaced whole. 200
 *   `{ data: <subscription> }`;
 * - every success body wraps its data in `data` ("Responses"); 401 is an unidentified token, 403
 *   a missing permission. Error bodies are not documented, so they are never parsed.
 * The user-sync guide (seed 000) also sends a `name`; the API reference does not list it, so it is
 * sent and read back when present, never relied on. Unknown fields are kept by the parser
 * (`looseObject`) and ignored: Firstup may add fields without breaking this.
 *
 * No relative imports other than types: the scripts import this file straight into Node.
 *
 * @example
 * const client = createFirstupSubscriptionsClient({ baseUrl: "https://partner.socialchorus.com", token });
 * const assessment = await assessSubscriptions(await client.list(), { expectedUrl: "https://sync.example.com/webhooks/firstup", acceptedAuthorization: null });
 * assessment.ok; // false, with assessment.problems saying why
 */

/** The events this Worker handles (src/providers/firstup/adapter.ts), at the version it parses. */
export const FIRSTUP_WEBHOOK_EVENTS = ["user.updated", "user.deactivated", "user.deleted"] as const;
export const FIRSTUP_EVENT_VERSION = "1";
/** Where this Worker receives Firstup's deliveries (src/http/webhooks.ts). */
export const FIRSTUP_WEBHOOK_PATH = "/webhooks/firstup";
export const DEFAULT_SUBSCRIPTION_NAME = "directory-sync";

const SUBSCRIPTIONS_PATH = "/v2/webhooks/subscriptions";
const DEFAULT_PAGE_SIZE = 100;
/** 20 pages of 100: far more subscriptions than one program has; past it the listing is incomplete. */
const DEFAULT_MAX_PAGES = 20;

export interface SubscriptionEvent {
  name: string;
  /** As Firstup sent it, as a string (the reference types it "any"; the examples say "1"). */
  version: string | null;
}

export interface FirstupSubscription {
  id: string;
  name: string | null;
  url: string;
  active: boolean;
  events: SubscriptionEvent[];
  /** Whether Firstup reported an `authorization_header`; its value stays inside this module. */
  hasAuthorizationHeader: boolean;
}

export interface SubscriptionListing {
  subscriptions: FirstupSubscription[];
  /** false when paging stopped at the page cap: absence from the listing proves nothing then. */
  complete: boolean;
}

/** The body of a create, and (any subset of it) of an update. */
export interface SubscriptionInput {
  name?: string;
  url: string;
  active: boolean;
  events: { name: string; version: string }[];
  authorization_header?: string;
}

export type FirstupApiErrorCode = "unauthorized" | "forbidden" | "not_found" | "rejected" | "rate_limited" | "unavailable" | "timeout" | "network" | "bad_response";

export class FirstupApiError extends Error {
  // Plain fields, not constructor parameter properties: Node's type stripping (the scripts) has none.
  readonly code: FirstupApiErrorCode;
  readonly status: number | null;
  constructor(code: FirstupApiErrorCode, status: number | null, message: string) {
    // Messages name the method, path and status: never the token, never a body.
    super(message);
    this.name = "FirstupApiError";
    this.code = code;
    this.status = status;
  }
}

export interface FirstupApiOptions {
  /** The API's base, e.g. `https://partner.socialchorus.com`; `/v2/...` is appended. */
  baseUrl: string;
  token: string;
  fetch?: typeof fetch;
  /** Per request. */
  timeoutMs?: number;
  /** Aborts every request of the client when it fires: a budget for a whole listing. */
  signal?: AbortSignal;
  pageSize?: number;
  maxPages?: number;
}

const version = z.union([z.string(), z.number()]).transform(String);
const subscriptionRecord = z.looseObject({
  id: z.union([z.string().min(1), z.number()]).transform(String),
  name: z.string().nullish(),
  url: z.string(),
  active: z.boolean(),
  events: z.array(z.looseObject({ name: z.string(), version: version.nullish() })).nullish(),
  authorization_header: z.string().nullish(),
});
const listBody = z.looseObject({
  data: z.array(subscriptionRecord),
  meta: z.looseObject({ pagination: z.looseObject({ next: z.unknown().optional() }).nullish() }).nullish(),
});
const singleBody = z.looseObject({ data: subscriptionRecord });

/** Authorization header values Firstup reported, by subscription: compared, never exposed. */
const authorizationHeaders = new WeakMap<FirstupSubscription, string>();

/** One subscription as Firstup returns it (the `data` object), or null when it is not one. */
export function parseSubscription(raw: unknown): FirstupSubscription | null {
  const parsed = subscriptionRecord.safeParse(raw);
  return parsed.success ? toSubscription(parsed.data) : null;
}

function toSubscription(record: z.infer<typeof subscriptionRecord>): FirstupSubscription {
  const subscription: FirstupSubscription = {
    id: record.id,
    name: record.name ?? null,
    url: record.url,
    active: record.active,
    events: (record.events ?? []).map((event) => ({ name: event.name, version: event.version ?? null })),
    hasAuthorizationHeader: typeof record.authorization_header === "string" && record.authorization_header !== "",
  };
  if (subscription.hasAuthorizationHeader) authorizationHeaders.set(subscription, record.authorization_header!);
  return subscription;
}

export function createFirstupSubscriptionsClient(options: FirstupApiOptions) {
  const base = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const pageSize = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;

  async function request(method: "GET" | "POST" | "PUT", path: string, body?: unknown, query: Record<string, string> = {}): Promise<unknown> {
    const url = new URL(base + path);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    const what = `${method} ${path}`;
    let response: Response;
    try {
      response = await doFetch(url, {
        method,
        headers: { authorization: `Bearer ${options.token}`, accept: "application/json", ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : JSON.stringify(body),
        // Never followed: fetch drops the bearer token on a cross-origin redirect, but a 307 or 308
        // re-sends the body, and a create's body holds the webhook's authorization_header.
        redirect: "manual",
        signal: options.signal ? AbortSignal.any([options.signal, AbortSignal.timeout(timeoutMs)]) : AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
      throw timedOut ? new FirstupApiError("timeout", null, `${what}: no response in time`) : new FirstupApiError("network", null, `${what}: network error`);
    }
    if (!response.ok) {
      await response.body?.cancel();
      const code = failureCode(response.status);
      throw new FirstupApiError(code, response.status, `${what}: HTTP ${response.status} (${code})`);
    }
    try {
      return await response.json();
    } catch {
      throw new FirstupApiError("bad_response", response.status, `${what}: the response is not JSON`);
    }
  }

  return {
    /** Every subscription of the token's program, page by page, up to the page cap. */
    async list(): Promise<SubscriptionListing> {
      const byId = new Map<string, FirstupSubscription>();
      for (let page = 1; page <= maxPages; page++) {
        const parsed = listBody.safeParse(await request("GET", SUBSCRIPTIONS_PATH, undefined, { "page.size": String(pageSize), "page.number": String(page) }));
        if (!parsed.success) throw new FirstupApiError("bad_response", 200, `GET ${SUBSCRIPTIONS_PATH}: not a subscription listing`);
        const records = parsed.data.data;
        let added = 0;
        for (const record of records) {
          if (byId.has(record.id)) continue;
          byId.set(record.id, toSubscription(record));
          added++;
        }
        const next = parsed.data.meta?.pagination?.next;
        // The page is the last when it is short and names no next page. A page with nothing new
        // on it means the server ignores page.number (it answered page 1 again): stop there too.
        const hasNext = next !== undefined && next !== null && next !== "";
        if (records.length === 0 || added === 0 || (records.length < pageSize && !hasNext)) return { subscriptions: [...byId.values()], complete: true };
      }
      return { subscriptions: [...byId.values()], complete: false };
    },
    async create(input: SubscriptionInput): Promise<FirstupSubscription> {
      return single(await request("POST", SUBSCRIPTIONS_PATH, input), "POST");
    },
    /** Only the properties given change; `events`, when given, replaces the whole list. */
    async update(id: string, patch: Partial<SubscriptionInput>): Promise<FirstupSubscription> {
      return single(await request("PUT", `${SUBSCRIPTIONS_PATH}/${encodeURIComponent(id)}`, patch), "PUT");
    },
  };
}

export type FirstupSubscriptionsClient = ReturnType<typeof createFirstupSubscriptionsClient>;

function single(body: unknown, method: string): FirstupSubscription {
  const parsed = singleBody.safeParse(body);
  if (!parsed.success) throw new FirstupApiError("bad_response", null, `${method} ${SUBSCRIPTIONS_PATH}: not a subscription`);
  return toSubscription(parsed.data.data);
}

function failureCode(status: number): FirstupApiErrorCode {
  if (status === 401) return "unauthorized";
  if (status === 403) return "forbidden";
  if (status === 404) return "not_found";
  if (status === 429) return "rate_limited";
  if (status >= 500) return "unavailable";
  return "rejected";
}

// ---------------------------------------------------------------------------------------------
// The check: does Firstup deliver user.updated, user.deactivated and user.deleted, version 1, to
// this Worker, from an active subscription whose Authorization header the Worker accepts?

export type SubscriptionProblem =
  /** Nothing active and complete delivers to the expected URL (or, with no URL, at all). */
  | { code: "not_subscribed"; url: string | null }
  | { code: "inactive"; id: string; url: string }
  | { code: "missing_events"; id: string; url: string; events: string[] }
  | { code: "wrong_version"; id: string; url: string; events: SubscriptionEvent[] }
  /** Header mode: the subscription sends an Authorization value the Worker does not accept (401s). */
  | { code: "authorization_mismatch"; id: string; url: string }
  /** Sends Firstup's user events somewhere other than the expected URL (an old deployment?). */
  | { code: "elsewhere"; id: string; url: string }
  /** More than one active subscription delivers to the expected URL: every event arrives twice. */
  | { code: "duplicate"; ids: string[]; url: string }
  | { code: "listing_incomplete" };

export interface SubscriptionExpectations {
  /** Where deliveries must go (`<worker origin>/webhooks/firstup`); null: not known, not checked. */
  expectedUrl: string | null;
  /**
   * The Authorization values the Worker accepts (header mode), or null when it verifies Standard
   * Webhooks signatures instead, or the values are not known here: then the header is not checked.
   * A subscription that does not report its header is not flagged (Firstup may not return it).
   */
  acceptedAuthorization: string[] | null;
}

export interface SubscriptionAssessment {
  ok: boolean;
  expectedUrl: string | null;
  /** The subscription that delivers everything needed, if one does. */
  healthy: FirstupSubscription | null;
  /** At the expected URL, or carrying any of the user events: the ones that concern this Worker. */
  relevant: FirstupSubscription[];
  problems: SubscriptionProblem[];
}

export async function assessSubscriptions(listing: SubscriptionListing, expectations: SubscriptionExpectations): Promise<SubscriptionAssessment> {
  const expectedUrl = expectations.expectedUrl === null ? null : normalizeUrl(expectations.expectedUrl);
  const atUrl = (subscription: FirstupSubscription) => expectedUrl !== null && normalizeUrl(subscription.url) === expectedUrl;
  const relevant = listing.subscriptions.filter((subscription) => atUrl(subscription) || carriesUserEvents(subscription));
  // With a URL, the subscriptions there are judged and the others only noted as pointing elsewhere;
  // without one, every subscription carrying the user events is judged.
  const judged = expectedUrl === null ? relevant : relevant.filter(atUrl);
  const problems: SubscriptionProblem[] = [];
  let healthy: FirstupSubscription | null = null;

  for (const subscription of judged) {
    const own = await subscriptionProblems(subscription, expectations.acceptedAuthorization);
    problems.push(...own);
    if (own.length === 0) healthy ??= subscription;
  }
  if (expectedUrl !== null) {
    for (const subscription of relevant) if (!atUrl(subscription)) problems.push({ code: "elsewhere", id: subscription.id, url: subscription.url });
    const delivering = judged.filter((subscription) => subscription.active && carriesUserEvents(subscription));
    if (delivering.length > 1) problems.push({ code: "duplicate", ids: delivering.map((subscription) => subscription.id), url: expectedUrl });
  }
  if (healthy === null) problems.unshift({ code: "not_subscribed", url: expectedUrl });
  if (!listing.complete) problems.push({ code: "listing_incomplete" });
  return { ok: problems.length === 0, expectedUrl, healthy, relevant, problems };
}

async function subscriptionProblems(subscription: FirstupSubscription, acceptedAuthorization: string[] | null): Promise<SubscriptionProblem[]> {
  const { id, url } = subscription;
  const problems: SubscriptionProblem[] = [];
  if (!subscription.active) problems.push({ code: "inactive", id, url });
  const missing = FIRSTUP_WEBHOOK_EVENTS.filter((name) => !subscription.events.some((event) => event.name === name));
  if (missing.length > 0) problems.push({ code: "missing_events", id, url, events: missing });
  const wrongVersion = subscription.events.filter((event) => isUserEvent(event.name) && event.version !== FIRSTUP_EVENT_VERSION);
  if (wrongVersion.length > 0) problems.push({ code: "wrong_version", id, url, events: wrongVersion });
  if (acceptedAuthorization !== null && !(await authorizationAccepted(subscription, acceptedAuthorization))) problems.push({ code: "authorization_mismatch", id, url });
  return problems;
}

/** Unknown (not reported by Firstup) counts as accepted: only a reported, different value is a problem. */
async function authorizationAccepted(subscription: FirstupSubscription, accepted: string[]): Promise<boolean> {
  const presented = authorizationHeaders.get(subscription);
  if (presented === undefined) return true;
  // Every value is compared (no early exit), as the Worker itself does (src/http/authenticate.ts).
  let matched = false;
  for (const value of accepted) matched = (await timingSafeEqual(presented, value)) || matched;
  return matched;
}

function isUserEvent(name: string): boolean {
  return (FIRSTUP_WEBHOOK_EVENTS as readonly string[]).includes(name);
}

function carriesUserEvents(subscription: FirstupSubscription): boolean {
  return subscription.events.some((event) => isUserEvent(event.name));
}

// ---------------------------------------------------------------------------------------------
// What `firstup:subscribe` does about it: nothing, an update through the documented PUT, or a
// create, and never a second subscription to a URL that already has one.

export type SubscribePlan =
  | { action: "none"; subscription: FirstupSubscription }
  /** `changes` says what differs, in words; `patch` is the PUT body. */
  | { action: "update"; subscription: FirstupSubscription; changes: string[]; patch: Partial<SubscriptionInput> }
  | { action: "create"; input: SubscriptionInput }
  /** The listing stopped at its page cap: a subscription to the URL may exist unseen. */
  | { action: "refuse"; reason: "listing_incomplete" };

export interface SubscribeRequest {
  url: string;
  name: string;
  /** The Authorization value deliveries must carry (header mode), or null: none is set. */
  authorization: string | null;
}

export async function planSubscription(listing: SubscriptionListing, wanted: SubscribeRequest): Promise<SubscribePlan> {
  const url = normalizeUrl(wanted.url) ?? wanted.url;
  const accepted = wanted.authorization === null ? null : [wanted.authorization];
  const atUrl = listing.subscriptions.filter((subscription) => normalizeUrl(subscription.url) === url);
  for (const subscription of atUrl) {
    if ((await subscriptionProblems(subscription, accepted)).length === 0) return { action: "none", subscription };
  }
  if (atUrl.length > 0) {
    // The closest one is repaired: active before inactive, then the one with most user events.
    const score = (subscription: FirstupSubscription) => (subscription.active ? 10 : 0) + subscription.events.filter((event) => isUserEvent(event.name)).length;
    const subscription = atUrl.reduce((best, candidate) => (score(candidate) > score(best) ? candidate : best));
    return { action: "update", subscription, ...(await repairOf(subscription, wanted.authorization)) };
  }
  if (!listing.complete) return { action: "refuse", reason: "listing_incomplete" };
  const input: SubscriptionInput = { name: wanted.name, url: wanted.url, active: true, events: requiredEvents() };
  if (wanted.authorization !== null) input.authorization_header = wanted.authorization;
  return { action: "create", input };
}

async function repairOf(subscription: FirstupSubscription, authorization: string | null): Promise<{ changes: string[]; patch: Partial<SubscriptionInput> }> {
  const changes: string[] = [];
  const patch: Partial<SubscriptionInput> = {};
  if (!subscription.active) {
    changes.push("active: false → true");
    patch.active = true;
  }
  const missing = FIRSTUP_WEBHOOK_EVENTS.filter((name) => !subscription.events.some((event) => event.name === name));
  const wrongVersion = subscription.events.filter((event) => isUserEvent(event.name) && event.version !== FIRSTUP_EVENT_VERSION);
  if (missing.length > 0 || wrongVersion.length > 0) {
    for (const name of missing) changes.push(`events: add ${name} (version ${FIRSTUP_EVENT_VERSION})`);
    for (const event of wrongVersion) changes.push(`events: ${event.name} version ${event.version ?? "(none)"} → ${FIRSTUP_EVENT_VERSION}`);
    // `events` is replaced whole: keep the subscription's other events as they are.
    const others = subscription.events.filter((event) => !isUserEvent(event.name)).map((event) => ({ name: event.name, version: event.version ?? FIRSTUP_EVENT_VERSION }));
    patch.events = [...others, ...requiredEvents()];
  }
  if (authorization !== null && !(await authorizationAccepted(subscription, [authorization]))) {
    changes.push("authorization_header: replaced (values not shown)");
    patch.authorization_header = authorization;
  }
  return { changes, patch };
}

function requiredEvents(): { name: string; version: string }[] {
  return FIRSTUP_WEBHOOK_EVENTS.map((name) => ({ name, version: FIRSTUP_EVENT_VERSION }));
}

// ---------------------------------------------------------------------------------------------
// Words and URLs, shared by the scripts and the console.

export function describeProblem(problem: SubscriptionProblem): string {
  switch (problem.code) {
    case "not_subscribed":
      return problem.url === null
        ? "no active subscription delivers user.updated, user.deactivated and user.deleted (version 1)"
        : `no active subscription delivers user.updated, user.deactivated and user.deleted (version 1) to ${problem.url}`;
    case "inactive":
      return `${problem.id} is inactive: Firstup sends it no deliveries`;
    case "missing_events":
      return `${problem.id} does not subscribe ${problem.events.join(", ")}`;
    case "wrong_version":
      return `${problem.id} subscribes ${problem.events.map((event) => `${event.name} at version ${event.version ?? "(none)"}`).join(", ")}; this Worker parses version ${FIRSTUP_EVENT_VERSION}`;
    case "authorization_mismatch":
      return `${problem.id} sends an Authorization header this Worker does not accept (its deliveries are refused 401)`;
    case "elsewhere":
      return `${problem.id} sends user events to ${problem.url}, not here`;
    case "duplicate":
      return `${problem.ids.join(", ")} all deliver to ${problem.url}: every event arrives ${problem.ids.length} times (deduplicated, but each costs a request)`;
    case "listing_incomplete":
      return "the listing stopped at its page cap: some subscriptions were not seen";
  }
}

/** `name@version, …`, for one line of output. */
export function describeEvents(events: SubscriptionEvent[]): string {
  return events.length === 0 ? "(no events)" : events.map((event) => `${event.name}@${event.version ?? "?"}`).join(", ");
}

/** The URL in canonical form (`new URL().href`: host lowercased, default port dropped), or null. */
export function normalizeUrl(text: string): string | null {
  try {
    return new URL(text).href;
  } catch {
    return null;
  }
}


/**
 * The API base from the SCIM base: Firstup serves both from one host per region (the API
 * reference's servers: https://partner.socialchorus.com, https://partner.us2.onfirstup.com,
 * https://partner.onfirstup.eu, with SCIM under /scim/v2), so `<base>/scim/v2` gives `<base>`.
 * null when the SCIM URL does not end in /scim/v2 or is not https (loopback excepted).
 */
export function apiUrlFromScimUrl(scimUrl: string): string | null {
  const trimmed = scimUrl.trim();
  const match = /^(.*)\/scim\/v2\/?$/i.exec(trimmed);
  if (!match?.[1] || !isHttpsOrLoopback(trimmed)) return null;
  return match[1];
}
