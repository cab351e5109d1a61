/**
 * Firstup's webhook subscription API, emulated beside the SCIM server (test/support/scim-server.ts
 * mounts it under each tenant, `/t/<tenant>/v2/webhooks/subscriptions`), for tests and for
 * `npm run upstream`. Built from Firstup's API reference (developers.firstup.io, "Webhooks"):
 *
 * - `GET /v2/webhooks/subscriptions?page.size=&page.number=` (scope `webhooks.read`):
 *   `{ data: [subscription], meta: { pagination: { cursor, next, page_size } } }`;
 * - `POST /v2/webhooks/subscriptions` (scope `webhooks.write`): a url and at least one event are
 *   required; 201 `{ data: subscription }`;
 * - `PUT /v2/webhooks/subscriptions/:id` (scope `webhooks.write`): a patch (only the properties
 *   sent change; `events` is replaced whole); 200 `{ data: subscription }`; 404 for an unknown id.
 * - A subscription: `{ id, name, url, authorization_header, active, events: [{ name, version }],
 *   created_at, updated_at }` (`name` from Firstup's user-sync guide).
 * - 401 for a missing or unknown bearer token, 403 for a token without the route's scope.
 *
 * Not documented by Firstup, and chosen here: the error body (`{ errors: [{ status, code,
 * detail }] }`; clients must not depend on it), 422 for an invalid body, `active` defaulting to
 * true, page.size defaulting to 20 and capped at 100, and scopes that do not imply each other
 * (`webhooks.write` alone cannot list).
 *
 * Control plane (tests and local development only), per tenant, independent of the SCIM tenant:
 * `PUT /t/<tenant>/__control/webhooks` with `{ tokens: { "<token>": ["webhooks.read", …] },
 * subscriptions?, failures?: { times, status | "garbage" }, delayMs? }` resets it;
 * `GET` returns `{ subscriptions, requests }` (every stored field, for assertions).
 *
 * Runs in Node, never in workerd.
 */
import express, { type NextFunction, type Request, type Response, type Router } from "express";

export const WEBHOOKS_READ = "webhooks.read";
export const WEBHOOKS_WRITE = "webhooks.write";

export interface StoredSubscription {
  id: string;
  name?: string;
  url: string;
  authorization_header?: string;
  active: boolean;
  events: { name: string; version: string }[];
  created_at: string;
  updated_at: string;
}

export interface WebhookTenantSetup {
  tokens?: Record<string, string[]>;
  subscriptions?: (Partial<StoredSubscription> & { url: string })[];
  /** Answer the next `times` API requests with this status, or with a 200 that is not JSON. */
  failures?: { times: number; status: number | "garbage" };
  /** Hold every API answer this long (timeouts). */
  delayMs?: number;
}

interface WebhookTenant {
  tokens: Map<string, Set<string>>;
  subscriptions: Map<string, StoredSubscription>;
  failures: { times: number; status: number | "garbage" } | null;
  delayMs: number;
  nextId: number;
  requests: { list: number; create: number; update: number };
}

const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;
const tenants = new Map<string, WebhookTenant>();

function errorBody(status: number, code: string, detail: string) {
  return { errors: [{ status: String(status), code, detail }] };
}

/** The `:tenant` of the mount point (`/t/:tenant`), seen through mergeParams. */
function tenantName(request: Request): string {
  return String((request.params as { tenant?: string }).tenant);
}

function tenantOf(request: Request): WebhookTenant | undefined {
  return tenants.get(tenantName(request));
}

function newTenant(setup: WebhookTenantSetup): WebhookTenant {
  const tenant: WebhookTenant = {
    tokens: new Map(Object.entries(setup.tokens ?? {}).map(([token, scopes]) => [token, new Set(scopes)])),
    subscriptions: new Map(),
    failures: setup.failures ?? null,
    delayMs: setup.delayMs ?? 0,
    nextId: 1,
    requests: { list: 0, create: 0, update: 0 },
  };
  for (const subscription of setup.subscriptions ?? []) {
    const id = subscription.id ?? `sub_${tenant.nextId++}`;
    const at = new Date().toISOString();
    tenant.subscriptions.set(id, { active: true, events: [], created_at: at, updated_at: at, ...subscription, id });
  }
  return tenant;
}

/** The fields a create or update may carry; `partial` for the update's patch semantics. */
function validate(body: unknown, partial: boolean): { ok: true; value: Partial<StoredSubscription> } | { ok: false; detail: string } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { ok: false, detail: "body must be a JSON object" };
  const input = body as Record<string, unknown>;
  const value: Partial<StoredSubscription> = {};
  if (input.url !== undefined || !partial) {
    if (typeof input.url !== "string" || !URL.canParse(input.url)) return { ok: false, detail: "url is required and must be an absolute URL" };
    value.url = input.url;
  }
  if (input.events !== undefined || !partial) {
    if (!Array.isArray(input.events) || input.events.length === 0) return { ok: false, detail: "at least one event is required" };
    const events: { name: string; version: string }[] = [];
    for (const event of input.events as unknown[]) {
      const { name, version } = (event ?? {}) as Record<string, unknown>;
      if (typeof name !== "string" || name === "" || (typeof version !== "string" && typeof version !== "number")) return { ok: false, detail: "each event needs a name and a version" };
      events.push({ name, version: String(version) });
    }
    value.events = events;
  }
  if (input.active !== undefined) {
    if (typeof input.active !== "boolean") return { ok: false, detail: "active must be a boolean" };
    value.active = input.active;
  }
  for (const field of ["name", "authorization_header"] as const) {
    if (input[field] === undefined) continue;
    if (typeof input[field] !== "string") return { ok: false, detail: `${field} must be a string` };
    value[field] = input[field];
  }
  return { ok: true, value };
}

export function firstupSubscriptionRoutes(): Router {
  const router = express.Router({ mergeParams: true });

  router.put("/__control/webhooks", express.json({ limit: "5mb" }), (request, response) => {
    tenants.set(tenantName(request), newTenant(request.body as WebhookTenantSetup));
    response.status(204).end();
  });
  router.get("/__control/webhooks", (request, response) => {
    const tenant = tenantOf(request);
    if (!tenant) return response.status(404).end();
    response.json({ subscriptions: [...tenant.subscriptions.values()], requests: tenant.requests });
  });

  /** Unknown tenant 404; injected failures and delays; then the bearer token and its scope. */
  const gate = (scope: string) => async (request: Request, response: Response, next: NextFunction) => {
    const tenant = tenantOf(request);
    if (!tenant) return response.status(404).json(errorBody(404, "not_found", "Unknown program"));
    if (tenant.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, tenant.delayMs));
    if (tenant.failures && tenant.failures.times > 0) {
      tenant.failures.times--;
      if (tenant.failures.status === "garbage") return response.status(200).type("application/json").send('{"data": [{"id": "sub_');
      return response.status(tenant.failures.status).json(errorBody(tenant.failures.status, "injected_failure", "Injected failure"));
    }
    const match = /^Bearer (.+)$/.exec(request.header("authorization") ?? "");
    const scopes = match ? tenant.tokens.get(match[1]!) : undefined;
    if (!scopes) return response.status(401).json(errorBody(401, "unauthorized", "Missing or unknown access token"));
    if (!scopes.has(scope)) return response.status(403).json(errorBody(403, "forbidden", `This token lacks the ${scope} scope`));
    response.locals.webhookTenant = tenant;
    next();
  };

  router.get("/v2/webhooks/subscriptions", gate(WEBHOOKS_READ), (request, response) => {
    const tenant = response.locals.webhookTenant as WebhookTenant;
    tenant.requests.list++;
    const size = request.query["page.size"] === undefined ? DEFAULT_PAGE_SIZE : Number(request.query["page.size"]);
    const number = request.query["page.number"] === undefined ? 1 : Number(request.query["page.number"]);
    if (!Number.isInteger(size) || size < 1 || !Number.isInteger(number) || number < 1) return response.status(400).json(errorBody(400, "invalid_parameter", "page.size and page.number must be positive integers"));
    const pageSize = Math.min(size, MAX_PAGE_SIZE);
    const all = [...tenant.subscriptions.values()];
    const data = all.slice((number - 1) * pageSize, number * pageSize);
    const more = number * pageSize < all.length;
    response.json({ data, meta: { pagination: { cursor: String(number), next: more ? String(number + 1) : null, page_size: pageSize } } });
  });

  router.post("/v2/webhooks/subscriptions", gate(WEBHOOKS_WRITE), express.json(), (request, response) => {
    const tenant = response.locals.webhookTenant as WebhookTenant;
    tenant.requests.create++;
    const input = validate(request.body, false);
    if (!input.ok) return response.status(422).json(errorBody(422, "invalid_subscription", input.detail));
    const at = new Date().toISOString();
    const subscription: StoredSubscription = { active: true, ...(input.value as Pick<StoredSubscription, "url" | "events">), id: `sub_${tenant.nextId++}`, created_at: at, updated_at: at };
    tenant.subscriptions.set(subscription.id, subscription);
    response.status(201).json({ data: subscription });
  });

  router.put("/v2/webhooks/subscriptions/:id", gate(WEBHOOKS_WRITE), express.json(), (request, response) => {
    const tenant = response.locals.webhookTenant as WebhookTenant;
    tenant.requests.update++;
    const existing = tenant.subscriptions.get(String(request.params.id));
    if (!existing) return response.status(404).json(errorBody(404, "not_found", "No such subscription"));
    const input = validate(request.body, true);
    if (!input.ok) return response.status(422).json(errorBody(422, "invalid_subscription", input.detail));
    const updated: StoredSubscription = { ...existing, ...input.value, id: existing.id, updated_at: new Date().toISOString() };
    tenant.subscriptions.set(existing.id, updated);
    response.json({ data: updated });
  });

  // A body that is not JSON: 400, in the same shape as the other errors.
  router.use((error: unknown, _request: Request, response: Response, next: NextFunction) => {
    if (error instanceof SyntaxError) return response.status(400).json(errorBody(400, "invalid_json", "The body is not JSON"));
    next(error);
  });
  return router;
}
