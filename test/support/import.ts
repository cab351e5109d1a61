import { env } from "cloudflare:test";
import { deliverBatch } from "./consumer";
import { callApp } from "./worker";

/** Helpers for the bulk import tests (test/import). */

export const ADMIN = { authorization: "Bearer test-admin-token" };
export const BASE = "https://sync.example.com/admin";

/** A queue that keeps what is sent (sendBatch and send) without delivering it: the test delivers. */
export function capturingQueue() {
  const sent: unknown[] = [];
  const calls: unknown[][] = [];
  const queue = {
    async send(body: unknown) {
      sent.push(body);
      calls.push([body]);
    },
    async sendBatch(messages: Iterable<MessageSendRequest>) {
      const bodies = [...messages].map((message) => message.body);
      sent.push(...bodies);
      calls.push(bodies);
    },
  } as unknown as Queue;
  return { queue, sent, calls };
}

export interface ImportResponse {
  status: number;
  headers: Headers;
  body: Record<string, any>;
}

export async function postImport(
  body: BodyInit,
  options: { type?: string; query?: string; headers?: Record<string, string>; queue?: Queue; env?: Partial<Env> } = {},
): Promise<ImportResponse> {
  const headers = { ...ADMIN, "content-type": options.type ?? "application/x-ndjson", ...options.headers };
  const request = new Request(`${BASE}/import${options.query ?? ""}`, { method: "POST", body, headers, duplex: "half" } as RequestInit);
  const response = await callApp(request, { ...(options.queue ? { EVENTS_QUEUE: options.queue } : {}), ...options.env });
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

export async function getReport(id: string, headers: Record<string, string> = ADMIN): Promise<ImportResponse> {
  const response = await callApp(new Request(`${BASE}/import/${id}`, { headers }));
  return { status: response.status, headers: response.headers, body: (await response.json()) as Record<string, any> };
}

export const ndjson = (...rows: unknown[]) => rows.map((row) => (typeof row === "string" ? row : JSON.stringify(row))).join("\n");

/** Runs the Worker's queue() handler on the messages, in batches of 100 as Queues delivers them. */
export async function deliverAll(messages: unknown[], options: Parameters<typeof deliverBatch>[1] = {}) {
  const results = [];
  for (let i = 0; i < messages.length; i += 100) results.push(await deliverBatch(messages.slice(i, i + 100), options));
  return results;
}

export async function usersIn(provider: string) {
  const rows = await env.DB.prepare(
    "SELECT external_id, email, first_name, last_name, active, organization_id, directory_id FROM users WHERE provider = ? ORDER BY external_id",
  )
    .bind(provider)
    .all<Record<string, unknown>>();
  return rows.results;
}

export async function groupsIn(provider: string) {
  const rows = await env.DB.prepare("SELECT external_id, name, organization_id FROM groups WHERE provider = ? ORDER BY name").bind(provider).all<Record<string, unknown>>();
  return rows.results;
}

/** Memberships as [group name, user id], sorted. */
export async function membersIn(provider: string) {
  const rows = await env.DB.prepare(
    `SELECT g.name, m.user_external_id FROM group_members AS m JOIN groups AS g ON g.provider = m.provider AND g.external_id = m.group_external_id
     WHERE m.provider = ? ORDER BY g.name, m.user_external_id`,
  )
    .bind(provider)
    .all<{ name: string; user_external_id: string }>();
  return rows.results.map((row) => [row.name, row.user_external_id]);
}

export async function changesIn(provider: string) {
  const rows = await env.DB.prepare("SELECT type, subject, cause FROM changes WHERE provider = ? ORDER BY seq").bind(provider).all<{ type: string; subject: string; cause: string }>();
  return rows.results;
}
