import * as z from "zod";
import { ConfigError } from "../../config";
import { SubrequestBudgetSpent } from "../shared/rate-limit";
import { parseRetryAfter } from "../shared/retry-after";
import { LOOPBACK_HOSTS } from "../../url-policy";

/**
 * A fetch-based client for Scalekit's Directory API (REST/JSON), the listing side of Scalekit
 * reconciliation. Facts: ../shared/docs/providers.md, "Scalekit Directory API (REST), for
 * reconciliation". Route and field names come from the official Node SDK's generated descriptors
 * (github.com/scalekit-inc/scalekit-sdk-node, commit d134011, src/pkg/grpc/scalekit/v1/
 * directories/directories_pb.ts and organizations/organizations_pb.ts: the google.api.http routes,
 * the message fields, and the buf.validate rule `page_size <= 30` on ListDirectoryUsersRequest and
 * ListDirectoryGroupsRequest), and its token call (src/core.ts: `POST oauth/token`, form-encoded
 * client credentials, one re-authentication on 401). The SDK speaks gRPC, which a Worker cannot;
 * the same routes are served as JSON with snake_case fields (proto3 JSON: empty fields may be
 * omitted, so every field but `id` is optional here).
 *
 * Failure handling, within a budget per call (attempts and total waiting time):
 * - 429 and 503 wait for `Retry-After` when it fits the budget; other 5xx, timeouts, network
 *   errors and unparseable bodies back off exponentially with jitter. Exhausted: `unavailable`
 *   (transient: the caller's queue message is retried later).
 * - 401 drops the cached token and fetches a new one once; a second 401, a 403, or the token
 *   route refusing the credentials is `configuration` (not transient: retrying cannot help).
 * - 404 is `not_found` (an organization, directory or group gone, or a wrong environment URL).
 * Errors carry the route template and status only: never the secret, the token, ids or bodies.
 *
 * @example
 * const api = createScalekitDirectoryApi({ environmentUrl, clientId, clientSecret });
 * for await (const page of walkPages((pageToken) => api.listUsers(orgId, dirId, { pageToken }))) {
 *   // page.items: DirectoryUser[]
 * }
 */

export type ScalekitFailureKind = "configuration" | "unavailable" | "protocol" | "not_found" | "client_error";

export class ScalekitApiError extends Error {
  constructor(
    readonly kind: ScalekitFailureKind,
    readonly status: number | null,
    message: string,
  ) {
    super(message);
    this.name = "ScalekitApiError";
  }
  /** Worth retrying later: the API or the network may recover. */
  get transient(): boolean {
    return this.kind === "unavailable" || this.kind === "protocol";
  }
  /** A stable code for logs and run reports. */
  get code(): string {
    return `scalekit_${this.kind}`;
  }
}

export interface ScalekitDirectoryApiOptions {
  /** SCALEKIT_ENVIRONMENT_URL, e.g. https://acme.scalekit.dev (a path prefix is kept). */
  environmentUrl: string;
  clientId: string;
  clientSecret: string;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Milliseconds since the epoch; decides when the cached token is stale. */
  now?: () => number;
  random?: () => number;
  timeoutMs?: number;
  maxAttempts?: number;
  /** Total time one call may spend waiting between attempts. */
  maxWaitMs?: number;
}

/** ListDirectoryUsersRequest / ListDirectoryGroupsRequest: `page_size` lte 30 (buf.validate); default 10. */
export const MAX_DIRECTORY_PAGE_SIZE = 30;
/** ListOrganizationsRequest: "Must be between 10 and 100" (its OpenAPI description). */
export const MAX_ORGANIZATION_PAGE_SIZE = 100;
/** Stop using a token this long before it expires (at most half its lifetime). */
/** Token lifetime assumed when the token response does not say (RFC 6749 makes expires_in optional). */
const DEFAULT_TOKEN_LIFETIME_SECONDS = 300;
const TOKEN_EXPIRY_MARGIN_MS = 60_000;
const BACKOFF_BASE_MS = 500;

// Responses: loose objects (extra fields tolerated), ids required, everything else optional.
const count = z.preprocess((value) => (typeof value === "string" && /^\d+$/.test(value) ? Number(value) : value), z.number().int().nonnegative());
const detail = z.record(z.string(), z.unknown());
const id = z.string().min(1).max(256);

const tokenResponse = z.looseObject({
  access_token: z.string().min(1),
  token_type: z.string().optional(),
  expires_in: count.optional(),
});

/** Scalekit's DirectoryGroup message. */
export const directoryGroup = z.looseObject({
  id,
  display_name: z.string().nullish(),
  total_users: count.nullish(),
  updated_at: z.string().nullish(),
  /** Free-form, present with include_detail=true. */
  group_detail: detail.nullish(),
});
export type DirectoryGroup = z.infer<typeof directoryGroup>;

/** Scalekit's DirectoryUser message. */
export const directoryUser = z.looseObject({
  id,
  email: z.string().nullish(),
  preferred_username: z.string().nullish(),
  given_name: z.string().nullish(),
  family_name: z.string().nullish(),
  /** RFC 3339 with the provider's precision; kept as text so no digit is lost. */
  updated_at: z.string().nullish(),
  emails: z.array(z.string()).nullish(),
  /**
   * The user's groups as listed. Absent is not the same as `[]` to us, though proto3 JSON may omit
   * an empty list: membership truth comes from listing each group's members (`directory_group_id`).
   */
  groups: z.array(directoryGroup).nullish(),
  /** Free-form, present with include_detail=true: the rest of the profile, `active` included. */
  user_detail: detail.nullish(),
});
export type DirectoryUser = z.infer<typeof directoryUser>;

/** Scalekit's Directory message. proto3 JSON omits `false`, so a missing `enabled` is false. */
export const directory = z.looseObject({
  id,
  organization_id: z.string().nullish(),
  name: z.string().nullish(),
  enabled: z.boolean().nullish().transform((value) => value ?? false),
  directory_type: z.string().nullish(),
  directory_provider: z.string().nullish(),
  last_synced_at: z.string().nullish(),
  total_users: count.nullish(),
  total_groups: count.nullish(),
  status: z.string().nullish(),
});
export type Directory = z.infer<typeof directory>;

/** Scalekit's Organization message. */
export const organization = z.looseObject({
  id,
  display_name: z.string().nullish(),
  external_id: z.string().nullish(),
});
export type Organization = z.infer<typeof organization>;

const pageFields = { next_page_token: z.string().nullish(), total_size: count.nullish() };
const organizationsPage = z.looseObject({ organizations: z.array(z.unknown()).nullish(), ...pageFields });
const directoriesResponse = z.looseObject({ directories: z.array(z.unknown()).nullish() });
const usersPage = z.looseObject({ users: z.array(z.unknown()).nullish(), ...pageFields });
const groupsPage = z.looseObject({ groups: z.array(z.unknown()).nullish(), ...pageFields });

export interface Page<T> {
  items: T[];
  /** Items on the page that failed validation (counted, not returned). */
  invalid: number;
  /** null: this was the last page (an empty or absent `next_page_token`). */
  nextPageToken: string | null;
  totalSize: number | null;
}

export interface PageRequest {
  pageToken?: string | null;
  /** Capped at the route's maximum. */
  pageSize?: number;
}

export interface ListUsersRequest extends PageRequest {
  /** RFC 3339: only users updated after this instant (an incremental listing). */
  updatedAfter?: string;
  /** Only this group's members. */
  directoryGroupId?: string;
  /** Defaults to true: reconciliation needs the whole profile, `active` included. */
  includeDetail?: boolean;
}

export interface ListGroupsRequest extends PageRequest {
  updatedAfter?: string;
  includeDetail?: boolean;
}

const rfc3339 = z.iso.datetime({ offset: true });

export function createScalekitDirectoryApi(options: ScalekitDirectoryApiOptions) {
  const baseUrl = options.environmentUrl.replace(/\/+$/, "");
  const doFetch = options.fetch ?? ((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const maxAttempts = options.maxAttempts ?? 5;
  const maxWaitMs = options.maxWaitMs ?? 30_000;

  let cached: { token: string; staleAt: number } | null = null;
  // Concurrent callers share one token request.
  let pending: Promise<string> | null = null;

  function backoff(attempt: number): number {
    const ceiling = BACKOFF_BASE_MS * 2 ** (attempt - 1);
    return Math.round(ceiling / 2 + (random() * ceiling) / 2);
  }

  /**
   * Sends the request built by `send` until it answers something other than 429/5xx or a network
   * failure, within the budget. `label` names the route template for error messages.
   */
  async function withRetries(label: string, send: () => Promise<Response>): Promise<Response> {
    let waited = 0;
    let lastFailure: ScalekitApiError | undefined;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      let waitMs: number;
      try {
        const response = await send();
        if (response.status !== 429 && response.status < 500) return response;
        await response.body?.cancel();
        lastFailure = new ScalekitApiError("unavailable", response.status, `${label}: HTTP ${response.status}`);
        const retryAfter = response.status === 429 || response.status === 503 ? parseRetryAfter(response.headers.get("retry-after"), now()) : null;
        waitMs = retryAfter ?? backoff(attempt);
      } catch (error) {
        // Retrying cannot help within this invocation: hand over at once (the caller retries later).
        if (error instanceof SubrequestBudgetSpent) throw new ScalekitApiError("unavailable", null, `${label}: ${error.message}`);
        const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
        lastFailure = new ScalekitApiError("unavailable", null, `${label}: ${timedOut ? `no response within ${timeoutMs} ms` : "network error"}`);
        waitMs = backoff(attempt);
      }
      if (attempt === maxAttempts || waited + waitMs > maxWaitMs) break;
      waited += waitMs;
      await sleep(waitMs);
    }
    throw lastFailure ?? new ScalekitApiError("unavailable", null, `${label}: failed`);
  }

  async function requestToken(): Promise<string> {
    const label = "POST /oauth/token";
    const body = new URLSearchParams({ grant_type: "client_credentials", client_id: options.clientId, client_secret: options.clientSecret });
    const response = await withRetries(label, () =>
      doFetch(`${baseUrl}/oauth/token`, {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json" },
        body,
        signal: AbortSignal.timeout(timeoutMs),
      }),
    );
    if (!response.ok) {
      // RFC 6749 §5.2 error codes (invalid_client, …) are safe to name; descriptions are not shown.
      const oauthError = await readOAuthError(response);
      const kind = response.status === 404 ? "not_found" : response.status === 400 || response.status === 401 || response.status === 403 ? "configuration" : "client_error";
      throw new ScalekitApiError(kind, response.status, `${label}: HTTP ${response.status}${oauthError ? ` (${oauthError})` : ""}: check SCALEKIT_ENVIRONMENT_URL, SCALEKIT_CLIENT_ID and SCALEKIT_CLIENT_SECRET`);
    }
    const parsed = tokenResponse.safeParse(await readJson(response, label));
    if (!parsed.success) throw new ScalekitApiError("protocol", response.status, `${label}: not a token response`);
    // A token response without expires_in is cached for a conservative default, not refetched on
    // every call; a rejected token is refreshed on its first 401 anyway.
    const lifetimeMs = (parsed.data.expires_in ?? DEFAULT_TOKEN_LIFETIME_SECONDS) * 1000;
    cached = { token: parsed.data.access_token, staleAt: now() + lifetimeMs - Math.min(TOKEN_EXPIRY_MARGIN_MS, lifetimeMs / 2) };
    return parsed.data.access_token;
  }

  async function accessToken(): Promise<string> {
    if (cached && now() < cached.staleAt) return cached.token;
    pending ??= requestToken().finally(() => {
      pending = null;
    });
    return pending;
  }

  /** GET an API route with the cached token; one fresh token on 401. Resolves to the JSON body. */
  async function get(label: string, path: string, query: Record<string, string | undefined> = {}): Promise<unknown> {
    const url = new URL(baseUrl + path);
    for (const [key, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(key, value);
    for (let refreshed = false; ; refreshed = true) {
      const token = await accessToken();
      const response = await withRetries(label, () =>
        doFetch(url, { headers: { authorization: `Bearer ${token}`, accept: "application/json" }, signal: AbortSignal.timeout(timeoutMs) }),
      );
      if (response.ok) return readJson(response, label);
      await response.body?.cancel();
      if (response.status === 401 && !refreshed) {
        // The token may have been revoked or expired early: forget it and try once more.
        if (cached?.token === token) cached = null;
        continue;
      }
      if (response.status === 401 || response.status === 403) {
        throw new ScalekitApiError("configuration", response.status, `${label}: HTTP ${response.status}: check SCALEKIT_CLIENT_ID/SCALEKIT_CLIENT_SECRET and the client's permissions`);
      }
      if (response.status === 404) throw new ScalekitApiError("not_found", 404, `${label}: HTTP 404`);
      throw new ScalekitApiError("client_error", response.status, `${label}: HTTP ${response.status}`);
    }
  }

  function page<T>(raw: unknown[] | null | undefined, schema: z.ZodType<T>, next: string | null | undefined, total: number | null | undefined): Page<T> {
    const items: T[] = [];
    for (const item of raw ?? []) {
      const parsed = schema.safeParse(item);
      if (parsed.success) items.push(parsed.data);
    }
    return { items, invalid: (raw?.length ?? 0) - items.length, nextPageToken: next ? next : null, totalSize: total ?? null };
  }

  function parse<T extends z.ZodType>(schema: T, body: unknown, label: string): z.infer<T> {
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new ScalekitApiError("protocol", 200, `${label}: unexpected response shape`);
    return parsed.data;
  }

  function pageQuery(request: PageRequest, max: number): Record<string, string | undefined> {
    const size = Math.max(1, Math.min(max, Math.floor(request.pageSize ?? max)));
    return { page_size: String(size), page_token: request.pageToken || undefined };
  }

  function timestamp(value: string | undefined, label: string): string | undefined {
    if (value === undefined) return undefined;
    if (!rfc3339.safeParse(value).success) throw new ScalekitApiError("client_error", null, `${label}: updated_after is not an RFC 3339 timestamp`);
    return value;
  }

  const directoryPath = (organizationId: string, directoryId: string) =>
    `/api/v1/organizations/${encodeURIComponent(organizationId)}/directories/${encodeURIComponent(directoryId)}`;

  /** GET /api/v1/organizations (ListOrganizationsRequest: page_size, page_token). */
  async function listOrganizations(request: PageRequest = {}): Promise<Page<Organization>> {
    const label = "GET /api/v1/organizations";
    const body = parse(organizationsPage, await get(label, "/api/v1/organizations", pageQuery(request, MAX_ORGANIZATION_PAGE_SIZE)), label);
    return page(body.organizations, organization, body.next_page_token, body.total_size);
  }

  /** GET /api/v1/organizations/{organization_id}/directories (not paged). */
  async function listDirectories(organizationId: string): Promise<Directory[]> {
    const label = "GET /api/v1/organizations/{organization_id}/directories";
    const body = parse(directoriesResponse, await get(label, `/api/v1/organizations/${encodeURIComponent(organizationId)}/directories`), label);
    return page(body.directories, directory, null, null).items;
  }

  /**
   * GET …/directories/{directory_id}/users (ListDirectoryUsersRequest: page_size ≤ 30,
   * page_token, include_detail, directory_group_id, updated_after).
   */
  async function listUsers(organizationId: string, directoryId: string, request: ListUsersRequest = {}): Promise<Page<DirectoryUser>> {
    const label = "GET /api/v1/organizations/{organization_id}/directories/{directory_id}/users";
    const query = {
      ...pageQuery(request, MAX_DIRECTORY_PAGE_SIZE),
      include_detail: String(request.includeDetail ?? true),
      directory_group_id: request.directoryGroupId,
      updated_after: timestamp(request.updatedAfter, label),
    };
    const body = parse(usersPage, await get(label, `${directoryPath(organizationId, directoryId)}/users`, query), label);
    return page(body.users, directoryUser, body.next_page_token, body.total_size);
  }

  /** One group's members: the users route with `directory_group_id`. */
  function listGroupMembers(organizationId: string, directoryId: string, groupId: string, request: Omit<ListUsersRequest, "directoryGroupId"> = {}) {
    return listUsers(organizationId, directoryId, { includeDetail: false, ...request, directoryGroupId: groupId });
  }

  /** GET …/directories/{directory_id}/groups (ListDirectoryGroupsRequest: page_size ≤ 30, page_token, include_detail, updated_after). */
  async function listGroups(organizationId: string, directoryId: string, request: ListGroupsRequest = {}): Promise<Page<DirectoryGroup>> {
    const label = "GET /api/v1/organizations/{organization_id}/directories/{directory_id}/groups";
    const query = {
      ...pageQuery(request, MAX_DIRECTORY_PAGE_SIZE),
      include_detail: request.includeDetail === undefined ? undefined : String(request.includeDetail),
      updated_after: timestamp(request.updatedAfter, label),
    };
    const body = parse(groupsPage, await get(label, `${directoryPath(organizationId, directoryId)}/groups`, query), label);
    return page(body.groups, directoryGroup, body.next_page_token, body.total_size);
  }

  /** Every organization with its directories, one organizations page at a time. */
  async function* organizationsWithDirectories(options: { maxPages?: number } = {}): AsyncGenerator<{ organization: Organization; directories: Directory[] }> {
    for await (const orgs of walkPages((pageToken) => listOrganizations({ pageToken }), options)) {
      for (const org of orgs.items) yield { organization: org, directories: await listDirectories(org.id) };
    }
  }

  return { listOrganizations, listDirectories, listUsers, listGroupMembers, listGroups, organizationsWithDirectories };
}

export type ScalekitDirectoryApi = ReturnType<typeof createScalekitDirectoryApi>;

/**
 * Follows `next_page_token` until it is empty. A token repeating (a server looping) is a protocol
 * error; `maxPages` (default 10,000) is a runaway guard. Resumable: start from `pageToken`.
 */
export async function* walkPages<T>(
  fetchPage: (pageToken: string | null) => Promise<Page<T>>,
  options: { maxPages?: number; pageToken?: string | null } = {},
): AsyncGenerator<Page<T> & { pageToken: string | null }> {
  const seen = new Set<string>();
  let pageToken = options.pageToken ?? null;
  for (let pages = 0; pages < (options.maxPages ?? 10_000); pages++) {
    const current = await fetchPage(pageToken);
    yield { ...current, pageToken };
    if (current.nextPageToken === null) return;
    if (seen.has(current.nextPageToken)) throw new ScalekitApiError("protocol", 200, "next_page_token repeats: the listing loops");
    seen.add(current.nextPageToken);
    pageToken = current.nextPageToken;
  }
  throw new ScalekitApiError("protocol", 200, `listing exceeds ${options.maxPages ?? 10_000} pages`);
}

/** The client from SCALEKIT_* bindings, or null when all three are unset (ConfigError when only some are). */
export function scalekitDirectoryApiFromEnv(env: Env, overrides: Partial<ScalekitDirectoryApiOptions> = {}): ScalekitDirectoryApi | null {
  const environmentUrl = String(env.SCALEKIT_ENVIRONMENT_URL ?? "").trim();
  const clientId = String(env.SCALEKIT_CLIENT_ID ?? "").trim();
  const clientSecret = String(env.SCALEKIT_CLIENT_SECRET ?? "").trim();
  if (!environmentUrl && !clientId && !clientSecret) return null;
  // Two of the three set is a half-done configuration (often the secret forgotten): say so, rather
  // than silently not reconciling.
  const missing = [!environmentUrl && "SCALEKIT_ENVIRONMENT_URL", !clientId && "SCALEKIT_CLIENT_ID", !clientSecret && "SCALEKIT_CLIENT_SECRET"].filter(Boolean);
  if (missing.length > 0) throw new ConfigError(missing.map((name) => `${name}: missing`));
  if (!z.url({ protocol: /^https?$/ }).safeParse(environmentUrl).success) throw new ConfigError(["SCALEKIT_ENVIRONMENT_URL: invalid_url"]);
  // The client secret and bearer tokens travel to this URL: https only, except on loopback (the local API).
  const { protocol, hostname } = new URL(environmentUrl);
  if (protocol !== "https:" && !LOOPBACK_HOSTS.has(hostname)) throw new ConfigError(["SCALEKIT_ENVIRONMENT_URL: not_https"]);
  return createScalekitDirectoryApi({ environmentUrl, clientId, clientSecret, ...overrides });
}

async function readJson(response: Response, label: string): Promise<unknown> {
  try {
    return await response.json();
  } catch {
    throw new ScalekitApiError("protocol", response.status, `${label}: response is not JSON`);
  }
}

async function readOAuthError(response: Response): Promise<string | null> {
  try {
    const body = (await response.json()) as { error?: unknown };
    return typeof body.error === "string" && /^[a-z_]{1,64}$/.test(body.error) ? body.error : null;
  } catch {
    return null;
  }
}

