import { env } from "cloudflare:test";
import { createConnection } from "../../src/scim/connections";
import { callApp } from "./worker";

/** A SCIM connection's client for tests: requests through the Worker with the connection's token. */

export const ORIGIN = "https://sync.example.com";
export const USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User";
export const GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group";
export const ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
export const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

export interface TestConnection {
  id: string;
  token: string;
  provider: string;
  organizationId: string;
  base: string;
}

export async function newConnection(organizationId: string, now: number): Promise<TestConnection> {
  const { connection, token } = await createConnection(env.DB, { organizationId, name: null }, now);
  return { id: connection.id, token, provider: connection.provider, organizationId, base: `${ORIGIN}/scim/v2/connections/${connection.id}` };
}

export interface ScimReply {
  status: number;
  headers: Headers;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/**
 * Sends one SCIM request. `path` is relative to the connection's base URL; `as` sends another
 * connection's token (isolation tests).
 */
export async function scim(
  connection: TestConnection,
  now: () => number,
  method: string,
  path: string,
  body?: unknown,
  options: { token?: string; headers?: Record<string, string>; raw?: string } = {},
): Promise<ScimReply> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.token ?? connection.token}`, ...options.headers };
  const payload = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  if (payload !== undefined) headers["content-type"] = "application/scim+json";
  const response = await callApp(new Request(connection.base + path, { method, headers, body: payload }), {}, { now });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

/** `?filter=…` with the filter URL-encoded, as clients send it. */
export const filterQuery = (filter: string, extra = "") => `?filter=${encodeURIComponent(filter)}${extra}`;

export async function changesOf(provider: string): Promise<{ type: string; subject: string; source: string }[]> {
  const rows = await env.DB.prepare("SELECT type, subject, source FROM changes WHERE provider = ? ORDER BY seq").bind(provider).all<{ type: string; subject: string; source: string }>();
  return rows.results;
}

export async function usersOf(provider: string) {
  const rows = await env.DB.prepare("SELECT external_id, user_name, scim_external_id, email, first_name, last_name, active, deleted_at, attributes FROM users WHERE provider = ? ORDER BY user_name")
    .bind(provider)
    .all<Record<string, unknown>>();
  return rows.results;
}

export async function groupsOf(provider: string) {
  const rows = await env.DB.prepare("SELECT external_id, name, organization_id, deleted_at FROM groups WHERE provider = ? ORDER BY name").bind(provider).all<Record<string, unknown>>();
  return rows.results;
}

export async function membersOfProvider(provider: string): Promise<[string, string][]> {
  const rows = await env.DB.prepare("SELECT group_external_id, user_external_id FROM group_members WHERE provider = ? ORDER BY group_external_id, user_external_id")
    .bind(provider)
    .all<{ group_external_id: string; user_external_id: string }>();
  return rows.results.map((row) => [row.group_external_id, row.user_external_id]);
}

export async function eventLogOf(provider: string) {
  const rows = await env.DB.prepare("SELECT event_id, source_type, status FROM event_log WHERE provider = ? ORDER BY received_at, event_id").bind(provider).all<Record<string, unknown>>();
  return rows.results;
}

/** A clock that moves one second per read, so every request has its own time. */
export function tickingClock(start: number) {
  let now = start;
  return () => (now += 1000);
}
