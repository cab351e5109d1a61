import * as z from "zod";
import { SubrequestBudgetSpent } from "../shared/rate-limit";
import { parseRetryAfter } from "../shared/retry-after";
import { listResponse, scimError, scimGroup, scimUser, type ScimGroup, type ScimUser } from "./scim-schemas";

/**
 * A fetch-based SCIM 2.0 client for a provider's upstream directory.
 *
 * Failure handling, within a budget per call (attempts and total waiting time):
 * - 429 and 503 wait for `Retry-After` (seconds or HTTP date) when it fits the budget;
 * - other 5xx, timeouts, network errors and unparseable bodies back off exponentially with jitter;
 * - 401/403 are configuration errors: thrown at once, never retried;
 * - 404 on a resource is an answer (`null`) only when its body is a SCIM Error (RFC 7644 §3.12)
 *   saying 404. A bare 404 (a wrong base URL, a gateway, a proxy's error page) proves nothing
 *   about the user and throws `not_found_unverified`: absence is evidence for erasure, so it must
 *   come from a SCIM server.
 * When the budget runs out the call throws, and the caller (a queue message) is retried later.
 *
 * @example
 * const client = createScimClient({ baseUrl: "https://api.example.com/scim/v2", token });
 * const user = await client.getUser("u_987"); // null when the upstream forgot the user
 */

export type ScimFailureKind = "unauthorized" | "client_error" | "invalid_filter" | "unavailable" | "protocol" | "not_found_unverified";

export class ScimRequestError extends Error {
  constructor(
    readonly kind: ScimFailureKind,
    readonly status: number | null,
    message: string,
  ) {
    // Messages name the path and status only: never the token, never query values (personal data).
    super(message);
    this.name = "ScimRequestError";
  }
  /** Worth retrying later (the queue will): the upstream or the network may recover. */
  get transient(): boolean {
    return this.kind === "unavailable" || this.kind === "protocol";
  }
}

export interface ScimClientOptions {
  baseUrl: string;
  token: string;
  fetch?: typeof fetch;
  timeoutMs?: number;
  maxAttempts?: number;
  /** Total time one call may spend waiting between attempts. */
  maxWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface UserPage {
  users: ScimUser[];
  /** Resources on the page that failed validation (counted, not applied). */
  invalid: number;
  /** How many resources the page held: the next page starts this far on. */
  received: number;
  totalResults: number;
  itemsPerPage: number | null;
}

const SCIM_JSON = "application/scim+json";
const SCIM_ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error";
const BACKOFF_BASE_MS = 250;

export function createScimClient(options: ScimClientOptions) {
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? 10_000;
  const maxAttempts = options.maxAttempts ?? 4;
  const maxWaitMs = options.maxWaitMs ?? 15_000;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const random = options.random ?? Math.random;

  /** GET `path` with `query`; resolves to the parsed JSON body, or NOT_FOUND on 404 (verified or not). */
  async function get(path: string, query: Record<string, string> = {}): Promise<unknown> {
    const url = new URL(baseUrl + path);
    for (const [key, value] of Object.entries(query)) url.searchParams.set(key, value);
    let waited = 0;
    let lastFailure: ScimRequestError | undefined;

    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      let waitMs: number;
      try {
        const response = await doFetch(url, {
          headers: { authorization: `Bearer ${options.token}`, accept: `${SCIM_JSON}, application/json` },
          signal: AbortSignal.timeout(timeoutMs),
        });
        if (response.ok) {
          try {
            return await response.json();
          } catch {
            lastFailure = new ScimRequestError("protocol", response.status, `GET ${path}: response is not JSON`);
          }
          waitMs = backoff(attempt);
        } else if (response.status === 404) {
          return (await isScimNotFound(response)) ? NOT_FOUND : UNVERIFIED_NOT_FOUND;
        } else {
          const failure = await describeFailure(path, response);
          if (response.status === 401 || response.status === 403 || failure.kind === "client_error" || failure.kind === "invalid_filter") {
            throw failure;
          }
          lastFailure = failure;
          const retryAfterMs = response.status === 429 || response.status === 503 ? parseRetryAfter(response.headers.get("retry-after")) : null;
          waitMs = retryAfterMs ?? backoff(attempt);
        }
      } catch (error) {
        if (error instanceof ScimRequestError) throw error;
        if (error instanceof SubrequestBudgetSpent) throw new ScimRequestError("unavailable", null, `GET ${path}: ${error.message}`);
        const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
        lastFailure = new ScimRequestError("unavailable", null, `GET ${path}: ${timedOut ? `no response within ${timeoutMs} ms` : "network error"}`);
        waitMs = backoff(attempt);
      }
      if (attempt === maxAttempts || waited + waitMs > maxWaitMs) break;
      waited += waitMs;
      await sleep(waitMs);
    }
    throw lastFailure ?? new ScimRequestError("unavailable", null, `GET ${path}: failed`);
  }

  function backoff(attempt: number): number {
    const ceiling = BACKOFF_BASE_MS * 2 ** (attempt - 1);
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  }

  async function listUsers(startIndex: number, count: number, filter?: string): Promise<UserPage> {
    // Both always sent: servers' defaults differ (some page 20, some 100, some everything).
    const query: Record<string, string> = { startIndex: String(startIndex), count: String(count) };
    if (filter) query.filter = filter;
    const body = await get("/Users", query);
    if (body === NOT_FOUND || body === UNVERIFIED_NOT_FOUND) throw new ScimRequestError("client_error", 404, "GET /Users: HTTP 404: check the upstream's base URL");
    const page = listResponse.safeParse(body);
    if (!page.success) throw new ScimRequestError("protocol", 200, "GET /Users: not a SCIM ListResponse");
    const resources = page.data.Resources ?? [];
    const users: ScimUser[] = [];
    for (const resource of resources) {
      const user = scimUser.safeParse(resource);
      if (user.success) users.push(user.data);
    }
    return {
      users,
      invalid: resources.length - users.length,
      received: resources.length,
      totalResults: page.data.totalResults,
      itemsPerPage: page.data.itemsPerPage ?? null,
    };
  }

  return {
    /** The user, or null if the upstream does not know it (forgotten or never existed). */
    async getUser(id: string): Promise<ScimUser | null> {
      const body = await get(`/Users/${encodeURIComponent(id)}`);
      if (body === NOT_FOUND) return null;
      if (body === UNVERIFIED_NOT_FOUND) {
        throw new ScimRequestError("not_found_unverified", 404, "GET /Users/{id}: HTTP 404 without a SCIM error body: check the upstream's base URL");
      }
      const user = scimUser.safeParse(body);
      if (!user.success) throw new ScimRequestError("protocol", 200, "GET /Users/{id}: not a SCIM User");
      return user.data;
    },

    listUsers: (startIndex: number, count: number) => listUsers(startIndex, count),

    /** How many users the upstream says it holds (one request for one resource). */
    async countUsers(): Promise<number> {
      return (await listUsers(1, 1)).totalResults;
    },

    /**
     * Users whose userName equals `userName` exactly. The value is escaped per RFC 7644
     * (`\` and `"`); servers that reject escaped quotes (400 invalidFilter, as some do) are
     * searched with `sw` on the longest safe prefix and matched exactly here.
     */
    async findUsersByUserName(userName: string, options: { pageSize?: number; maxPages?: number } = {}): Promise<ScimUser[]> {
      const pageSize = options.pageSize ?? 100;
      // userName is case-insensitive in SCIM (RFC 7643 §4.1.1); results are checked here too, so a
      // server that over-matches cannot hand back the wrong person.
      const same = (user: ScimUser) => user.userName?.toLowerCase() === userName.toLowerCase();
      const needsEscaping = /["\\]/.test(userName);
      try {
        const exact = (await listUsers(1, pageSize, `userName eq ${scimString(userName)}`)).users.filter(same);
        // Some servers mis-read escapes and silently match nothing: try the prefix search then.
        if (exact.length > 0 || !needsEscaping) return exact;
      } catch (error) {
        if (!(error instanceof ScimRequestError) || error.kind !== "invalid_filter" || !needsEscaping) throw error;
      }
      const prefix = userName.split(/["\\]/, 1)[0] ?? "";
      if (prefix === "") throw new ScimRequestError("invalid_filter", 400, "GET /Users: this server cannot filter on a userName starting with a quote or backslash");
      const matches: ScimUser[] = [];
      const filter = `userName sw ${scimString(prefix)}`;
      for await (const page of scanPages((start, count) => listUsers(start, count, filter), { pageSize, maxPages: options.maxPages ?? 20 })) {
        matches.push(...page.users.filter(same));
      }
      return matches;
    },

    /** Groups with their members, or null when the upstream has no /Groups endpoint. */
    async listGroups(startIndex: number, count: number): Promise<{ groups: ScimGroup[]; received: number; totalResults: number } | null> {
      const body = await get("/Groups", { startIndex: String(startIndex), count: String(count) });
      if (body === NOT_FOUND || body === UNVERIFIED_NOT_FOUND) return null;
      const page = listResponse.safeParse(body);
      if (!page.success) throw new ScimRequestError("protocol", 200, "GET /Groups: not a SCIM ListResponse");
      const resources = page.data.Resources ?? [];
      const groups = resources.flatMap((resource) => {
        const group = scimGroup.safeParse(resource);
        return group.success ? [group.data] : [];
      });
      return { groups, received: resources.length, totalResults: page.data.totalResults };
    },
  };
}

export type ScimClient = ReturnType<typeof createScimClient>;

const NOT_FOUND = Symbol("scim-not-found");
const UNVERIFIED_NOT_FOUND = Symbol("unverified-not-found");

/** A 404 whose body is a SCIM Error saying 404 (RFC 7644 §3.12): the server says the resource is not there. */
async function isScimNotFound(response: Response): Promise<boolean> {
  try {
    const parsed = scimError.safeParse(await response.json());
    return parsed.success && parsed.data.schemas.includes(SCIM_ERROR_SCHEMA) && String(parsed.data.status) === "404";
  } catch {
    return false;
  }
}

/** A SCIM filter string literal: `"` and `\` escaped (RFC 7644 §3.4.2.2 uses JSON strings). */
export function scimString(value: string): string {
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

export interface ScanOptions {
  pageSize: number;
  maxPages: number;
  startIndex?: number;
  /**
   * Whether any of these ids was already read in this scan. Used only for pages past
   * `totalResults`: some servers answer a startIndex beyond the end with the first page again.
   * Defaults to remembering the ids this generator has yielded.
   */
  seenBefore?: (ids: string[]) => Promise<boolean> | boolean;
}

/**
 * Offset paging that survives real servers: advance by the resources actually returned (not
 * `itemsPerPage`, not `count`), re-read `totalResults` on every page, and stop on an empty page,
 * on a short page past `totalResults`, on a page past `totalResults` that repeats ids already
 * read (a server wrapping around), or at the page cap. A server capping `count` below what was
 * asked returns full-but-smaller pages, which do not end the scan; a server returning genuinely
 * new resources past `totalResults` is read until it runs dry.
 */
export async function* scanPages(
  fetchPage: (startIndex: number, count: number) => Promise<UserPage>,
  options: ScanOptions,
): AsyncGenerator<UserPage & { startIndex: number; nextStartIndex: number; done: boolean }> {
  const yielded = new Set<string>();
  const seenBefore = options.seenBefore ?? ((ids: string[]) => ids.some((id) => yielded.has(id)));
  let startIndex = options.startIndex ?? 1;
  for (let pages = 0; pages < options.maxPages; pages++) {
    const page = await fetchPage(startIndex, options.pageSize);
    if (startIndex > page.totalResults && page.received > 0 && (await seenBefore(page.users.map((user) => user.id)))) return;
    const nextStartIndex = startIndex + page.received;
    const done = isLastPage(page, startIndex, options.pageSize);
    if (!options.seenBefore) for (const user of page.users) yielded.add(user.id);
    yield { ...page, startIndex, nextStartIndex, done };
    if (done) return;
    startIndex = nextStartIndex;
  }
}

export function isLastPage(page: Pick<UserPage, "received" | "totalResults" | "itemsPerPage">, startIndex: number, requested: number): boolean {
  if (page.received === 0) return true;
  const pageSize = Math.min(requested, page.itemsPerPage && page.itemsPerPage > 0 ? page.itemsPerPage : requested);
  const short = page.received < pageSize;
  return short && startIndex + page.received > page.totalResults;
}

async function describeFailure(path: string, response: Response): Promise<ScimRequestError> {
  let detail: z.infer<typeof scimError> | null = null;
  try {
    const parsed = scimError.safeParse(await response.json());
    detail = parsed.success ? parsed.data : null;
  } catch {
    // Not a SCIM error body; the status says enough.
  }
  const status = response.status;
  const kind: ScimFailureKind =
    status === 401 || status === 403
      ? "unauthorized"
      : status === 400 && detail?.scimType === "invalidFilter"
        ? "invalid_filter"
        : status >= 500 || status === 429 || status === 408
          ? "unavailable"
          : "client_error";
  const scimType = detail?.scimType ? ` (${detail.scimType})` : "";
  const hint = kind === "unauthorized" ? ": check the SCIM token and its scopes" : "";
  return new ScimRequestError(kind, status, `GET ${path}: HTTP ${status}${scimType}${hint}`);
}
