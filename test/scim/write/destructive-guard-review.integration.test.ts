import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { EventMessage } from "../../../src/queue-message";
import { deliverBatch } from "../../support/consumer";
import { newConnection, PATCH_OP, USER_SCHEMA, type ScimReply, type TestConnection } from "../../support/scim-connection";
import { callApp } from "../../support/worker";

/**
 * Ways a leaked SCIM connection token could get past the destructive guard, found in review (fixed):
 * inflating the budget with junk users, and swapping a held row's content before its release.
 * Each test asserts the SAFE behaviour; a failure is the finding.
 */

const GUARD: Partial<Env> = { DESTRUCTIVE_GUARD_MIN: "3", DESTRUCTIVE_GUARD_MAX_SHARE: "0.05", DESTRUCTIVE_GUARD_WINDOW_SECONDS: "3600" };
const BUDGET = 3;
const HOUR = Date.parse("2027-04-01T10:00:00Z");
const T0 = HOUR + 1_000_000;
const DEACTIVATE = { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { active: false } }] };

async function call(connection: TestConnection, now: number, method: string, path: string, body?: unknown): Promise<ScimReply> {
  const headers: Record<string, string> = { authorization: `Bearer ${connection.token}` };
  if (body !== undefined) headers["content-type"] = "application/scim+json";
  const response = await callApp(new Request(connection.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), GUARD, { now: () => now });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

async function createUsers(connection: TestConnection, count: number, prefix: string, active = true): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const created = await call(connection, T0, "POST", "/Users", { schemas: [USER_SCHEMA], userName: `${prefix}.${i}@example.com`, active, name: { givenName: "G", familyName: `${i}` } });
    expect(created.status).toBe(201);
    ids.push(created.body.id as string);
  }
  return ids;
}

describe("SCIM destructive guard: bypasses found in review", () => {
  it("inflating the organization's size with inactive POSTed users must not raise the budget for real users", async () => {
    const connection = await newConnection("org_review_inflate", T0);
    const real = await createUsers(connection, 10, "real");
    // 190 inactive throwaway users: creating them is never guarded, and each counts in the budget's base.
    await createUsers(connection, 190, "junk", false);
    const statuses: number[] = [];
    for (const [i, id] of real.entries()) statuses.push((await call(connection, T0 + 10 + i, "PATCH", `/Users/${id}`, DEACTIVATE)).status);
    const deactivated = statuses.filter((status) => status === 200).length;
    // Safe: the real users get the 3 the guard promises for a 10-user organization.
    expect(deactivated).toBe(BUDGET);
  }, 120_000);

  it("a held row's message cannot be swapped for different content after it was held (operator releases what it saw)", async () => {
    const connection = await newConnection("org_review_swap", T0);
    const ids = await createUsers(connection, 10, "swap");
    // Spend the budget.
    for (const id of ids.slice(0, BUDGET)) expect((await call(connection, T0 + 5, "PATCH", `/Users/${id}`, DEACTIVATE)).status).toBe(200);
    const victim = ids[BUDGET]!;
    // 1. A plain deactivation is held: this is what the operator reviews.
    expect((await call(connection, T0 + 10, "PATCH", `/Users/${victim}`, DEACTIVATE)).status).toBe(429);
    const held = await env.DB.prepare("SELECT event_id, message FROM event_log WHERE provider = ? AND subject = ? AND status = 'held'")
      .bind(connection.provider, victim)
      .first<{ event_id: string; message: string }>();
    expect(JSON.parse(held!.message).event.user.userName).toBe(`swap.${BUDGET}@example.com`);
    // 2. The same token re-sends a deactivation that also moves the account to another address.
    const swapped = await call(connection, T0 + 20, "PUT", `/Users/${victim}`, {
      schemas: [USER_SCHEMA],
      userName: "attacker@evil.example",
      active: false,
      emails: [{ value: "attacker@evil.example", primary: true }],
    });
    expect(swapped.status).toBe(429);
    const after = await env.DB.prepare("SELECT event_id, message FROM event_log WHERE provider = ? AND event_id = ?")
      .bind(connection.provider, held!.event_id)
      .first<{ event_id: string; message: string }>();
    // Safe: the row the operator looked at still says what it said.
    expect(JSON.parse(after!.message).event.user.userName).toBe(`swap.${BUDGET}@example.com`);
  }, 60_000);

  it("releasing a held row after a swap attempt applies what was held, not the attacker's content", async () => {
    const connection = await newConnection("org_review_swap2", T0);
    const ids = await createUsers(connection, 10, "swap2");
    for (const id of ids.slice(0, BUDGET)) await call(connection, T0 + 5, "PATCH", `/Users/${id}`, DEACTIVATE);
    const victim = ids[BUDGET]!;
    await call(connection, T0 + 10, "PATCH", `/Users/${victim}`, DEACTIVATE);
    await call(connection, T0 + 20, "PUT", `/Users/${victim}`, { schemas: [USER_SCHEMA], userName: "attacker2@evil.example", active: false, emails: [{ value: "attacker2@evil.example", primary: true }] });
    const held = await env.DB.prepare("SELECT event_id FROM event_log WHERE provider = ? AND subject = ? AND status = 'held'").bind(connection.provider, victim).first<{ event_id: string }>();
    const sent: EventMessage[] = [];
    const queue = { async send(body: EventMessage) { sent.push(body); } } as unknown as Queue;
    const response = await callApp(
      new Request(`https://sync.example.com/admin/events/${encodeURIComponent(connection.provider)}/${encodeURIComponent(held!.event_id)}/release`, { method: "POST", headers: { authorization: "Bearer test-admin-token" } }),
      { ...GUARD, EVENTS_QUEUE: queue },
    );
    expect(response.status).toBe(202);
    await deliverBatch(sent, { env: { ...env, ...GUARD } });
    const row = await env.DB.prepare("SELECT email, user_name, active FROM users WHERE provider = ? AND external_id = ?").bind(connection.provider, victim).first();
    expect(row).toStrictEqual({ email: null, user_name: `swap2.${BUDGET}@example.com`, active: 0 });
  }, 60_000);
});
