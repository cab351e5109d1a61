import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import type { DirectoryEvent } from "../../../src/events";
import type { EventMessage } from "../../../src/queue-message";
import { deliverBatch } from "../../support/consumer";
import { eventMessage, events } from "../../support/directory";
import { changesOf, GROUP_SCHEMA, newConnection, PATCH_OP, USER_SCHEMA, type ScimReply, type TestConnection } from "../../support/scim-connection";
import { callApp } from "../../support/worker";

/**
 * SCIM connection writes under the destructive guard: a leaked connection token that deactivates
 * or deletes every user gets the window's budget applied and the rest held for an operator (429
 * with Retry-After), through the Worker, with the real consumer applying a release.
 */

/** Budget: max(3, 5 % of the organization's users) per hour; with a dozen users, 3. */
const GUARD: Partial<Env> = { DESTRUCTIVE_GUARD_MIN: "3", DESTRUCTIVE_GUARD_MAX_SHARE: "0.05", DESTRUCTIVE_GUARD_WINDOW_SECONDS: "3600" };
const BUDGET = 3;
/** 1,000 s into an hour: the window ends 2,600 s later. */
const HOUR = Date.parse("2027-03-01T10:00:00Z");
const T0 = HOUR + 1_000_000;
const SECONDS_TO_WINDOW_END = 2_600;

/** Okta's deactivation (a path-less replace) and Entra's default form ("Replace", the string "False"). */
const OKTA_DEACTIVATE = { schemas: [PATCH_OP], Operations: [{ op: "replace", value: { active: false } }] };
const ENTRA_DEACTIVATE = { schemas: [PATCH_OP], Operations: [{ op: "Replace", path: "active", value: "False" }] };

async function call(connection: TestConnection, now: number, method: string, path: string, body?: unknown): Promise<ScimReply> {
  const headers: Record<string, string> = { authorization: `Bearer ${connection.token}` };
  if (body !== undefined) headers["content-type"] = "application/scim+json";
  const response = await callApp(new Request(connection.base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }), GUARD, { now: () => now });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null };
}

async function createUsers(connection: TestConnection, count: number, options: { active?: boolean } = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const userName = `guard.${i}.${Math.random().toString(36).slice(2, 8)}@example.com`;
    const created = await call(connection, T0, "POST", "/Users", { schemas: [USER_SCHEMA], userName, active: options.active ?? true, name: { givenName: "G", familyName: `${i}` } });
    expect(created.status).toBe(201);
    ids.push(created.body.id as string);
  }
  return ids;
}

const userState = (connection: TestConnection, id: string) =>
  env.DB.prepare("SELECT active, deleted_at FROM users WHERE provider = ? AND external_id = ?").bind(connection.provider, id).first<{ active: number; deleted_at: number | null }>();

async function activeIds(connection: TestConnection, ids: string[]): Promise<string[]> {
  const rows = await env.DB.prepare("SELECT external_id FROM users WHERE provider = ? AND active = 1 AND deleted_at IS NULL AND external_id IN (SELECT value FROM json_each(?))")
    .bind(connection.provider, JSON.stringify(ids))
    .all<{ external_id: string }>();
  return rows.results.map((row) => row.external_id).sort();
}

interface HeldRow {
  event_id: string;
  subject: string;
  source_type: string;
  status: string;
  reason: string | null;
  message: string | null;
}
const guardRows = async (connection: TestConnection) =>
  (
    await env.DB.prepare("SELECT event_id, subject, source_type, status, reason, message FROM event_log WHERE provider = ? AND reason = 'destructive_guard' ORDER BY subject")
      .bind(connection.provider)
      .all<HeldRow>()
  ).results;
const logRow = (connection: TestConnection, eventId: string) =>
  env.DB.prepare("SELECT status, reason, message FROM event_log WHERE provider = ? AND event_id = ?").bind(connection.provider, eventId).first<{ status: string; reason: string | null; message: string | null }>();
const deactivatedSubjects = async (connection: TestConnection) =>
  (await changesOf(connection.provider)).filter((change) => change.type === "user.deactivated").map((change) => change.subject).sort();
const windowSpent = async (connection: TestConnection, now: number) =>
  (
    await env.DB.prepare("SELECT applied FROM destructive_windows WHERE provider = ? AND organization_id = ? AND window_start = ?")
      .bind(connection.provider, connection.organizationId, Math.floor(now / 3_600_000) * 3_600_000)
      .first<{ applied: number }>()
  )?.applied ?? 0;

/** The admin route, with a Queue that keeps what it is sent: the test hands it to the consumer itself. */
async function release(connection: TestConnection, eventId: string): Promise<{ status: number; sent: EventMessage[] }> {
  const sent: EventMessage[] = [];
  const queue = {
    async send(body: EventMessage) {
      sent.push(body);
    },
  } as unknown as Queue;
  const response = await callApp(
    new Request(`https://sync.example.com/admin/events/${encodeURIComponent(connection.provider)}/${encodeURIComponent(eventId)}/release`, {
      method: "POST",
      headers: { authorization: "Bearer test-admin-token" },
    }),
    { ...GUARD, EVENTS_QUEUE: queue },
  );
  return { status: response.status, sent };
}

const expectPaused = (reply: ScimReply) => {
  expect(reply.status).toBe(429);
  expect(reply.headers.get("retry-after")).toBe(String(SECONDS_TO_WINDOW_END));
  expect(reply.headers.get("content-type")).toBe("application/scim+json");
  expect(reply.body).toStrictEqual({
    schemas: ["urn:ietf:params:scim:api:messages:2.0:Error"],
    status: "429",
    detail: "deactivations for this connection are paused past the destructive guard; an operator must release them",
  });
};

describe("SCIM connection writes under the destructive guard", () => {
  it("a leaked token deactivating every user: the budget applies, the rest answer 429 and are held, unapplied", async () => {
    const connection = await newConnection("org_guard_leak", T0);
    const ids = await createUsers(connection, 10);
    const replies: ScimReply[] = [];
    for (const [i, id] of ids.entries()) replies.push(await call(connection, T0 + 1 + i, "PATCH", `/Users/${id}`, i % 2 ? ENTRA_DEACTIVATE : OKTA_DEACTIVATE));

    expect(replies.map((reply) => reply.status)).toStrictEqual([200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
    for (const reply of replies.slice(BUDGET)) expectPaused(reply);
    // Nothing of a held write applied: those users are active, and the change feed has only the budget's.
    expect(await activeIds(connection, ids)).toStrictEqual(ids.slice(BUDGET).sort());
    expect(await deactivatedSubjects(connection)).toStrictEqual(ids.slice(0, BUDGET).sort());
    const held = await guardRows(connection);
    expect(held.map((row) => [row.subject, row.status, row.source_type])).toStrictEqual(ids.slice(BUDGET).sort().map((id) => [id, "held", "scim.user.patch"]));
    for (const row of held) expect(JSON.parse(row.message!).event).toMatchObject({ kind: "user_upserted", user: { externalId: row.subject, active: false } });
    expect(await windowSpent(connection, T0)).toBe(BUDGET);
  });

  it("the IdP's retries of a held write reuse its held row; a retry in the next window applies under it", async () => {
    const connection = await newConnection("org_guard_retry", T0);
    const ids = await createUsers(connection, 5);
    for (const id of ids.slice(0, BUDGET)) expect((await call(connection, T0 + 1, "PATCH", `/Users/${id}`, OKTA_DEACTIVATE)).status).toBe(200);
    const target = ids[BUDGET]!;

    // Okta and Entra back off and retry a 429, several times and in either form.
    for (let attempt = 0; attempt < 4; attempt++) expectPaused(await call(connection, T0 + 10 + attempt, "PATCH", `/Users/${target}`, attempt % 2 ? ENTRA_DEACTIVATE : OKTA_DEACTIVATE));
    const held = await guardRows(connection);
    expect(held.map((row) => [row.subject, row.status])).toStrictEqual([[target, "held"]]);
    // The held message is the first request's: a retry cannot change what an operator releases.
    expect(JSON.parse(held[0]!.message!).event.occurredAt).toBe(T0 + 10);

    // After the window ends, the retry applies (a new budget) and closes the held row: it is no longer releasable.
    const nextWindow = HOUR + 3_600_000 + 5;
    expect((await call(connection, nextWindow, "PATCH", `/Users/${target}`, OKTA_DEACTIVATE)).status).toBe(200);
    expect(await userState(connection, target)).toMatchObject({ active: 0 });
    expect(await logRow(connection, held[0]!.event_id)).toMatchObject({ status: "applied", message: null });
    expect((await release(connection, held[0]!.event_id)).status).toBe(409);
    expect(await windowSpent(connection, nextWindow)).toBe(1);
  });

  it("an operator's release applies the held write through the consumer, past the spent window", async () => {
    const connection = await newConnection("org_guard_release", T0);
    const ids = await createUsers(connection, 5);
    for (const id of ids.slice(0, BUDGET)) expect((await call(connection, T0 + 1, "PATCH", `/Users/${id}`, ENTRA_DEACTIVATE)).status).toBe(200);
    const target = ids[BUDGET]!;
    expectPaused(await call(connection, T0 + 2, "PATCH", `/Users/${target}`, ENTRA_DEACTIVATE));
    const [held] = await guardRows(connection);

    const released = await release(connection, held!.event_id);
    expect(released.status).toBe(202);
    expect(released.sent).toHaveLength(1);
    expect(released.sent[0]).toMatchObject({ released: true, event: { provider: connection.provider, eventId: held!.event_id } });
    const { result } = await deliverBatch(released.sent, { env: { ...env, ...GUARD } });
    expect(result.explicitAcks).toHaveLength(1);

    expect(await userState(connection, target)).toMatchObject({ active: 0, deleted_at: null });
    expect(await deactivatedSubjects(connection)).toStrictEqual([...ids.slice(0, BUDGET), target].sort());
    expect(await logRow(connection, held!.event_id)).toMatchObject({ status: "applied" });
    // Released once; the IdP's next retry finds the user inactive already: 200, nothing new held.
    expect((await release(connection, held!.event_id)).status).toBe(409);
    const retry = await call(connection, T0 + 3, "PATCH", `/Users/${target}`, ENTRA_DEACTIVATE);
    expect(retry.status).toBe(200);
    expect(retry.body.active).toBe(false);
    expect(await guardRows(connection)).toStrictEqual([]);
    expect(await logRow(connection, held!.event_id)).toMatchObject({ status: "applied" });
  });

  it("DELETE counts against the same budget: past it, 429, the user stays live and active, and a release deletes them", async () => {
    const connection = await newConnection("org_guard_delete", T0);
    const ids = await createUsers(connection, 5);
    expect((await call(connection, T0 + 1, "PATCH", `/Users/${ids[0]}`, OKTA_DEACTIVATE)).status).toBe(200);
    for (const id of ids.slice(1, BUDGET)) expect((await call(connection, T0 + 1, "DELETE", `/Users/${id}`)).status).toBe(204);
    const target = ids[BUDGET]!;
    expectPaused(await call(connection, T0 + 2, "DELETE", `/Users/${target}`));
    expectPaused(await call(connection, T0 + 3, "DELETE", `/Users/${target}`));

    const fetched = await call(connection, T0 + 4, "GET", `/Users/${target}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body.active).toBe(true);
    const held = await guardRows(connection);
    expect(held.map((row) => [row.subject, row.status, row.source_type])).toStrictEqual([[target, "held", "scim.user.delete"]]);
    expect(JSON.parse(held[0]!.message!).event.kind).toBe("user_deleted");

    const released = await release(connection, held[0]!.event_id);
    await deliverBatch(released.sent, { env: { ...env, ...GUARD } });
    expect(await userState(connection, target)).toMatchObject({ active: 0, deleted_at: expect.any(Number) });
    expect((await call(connection, T0 + 5, "GET", `/Users/${target}`)).status).toBe(404);
  });

  it("only effective deactivations count, and nothing else is ever held", async () => {
    const connection = await newConnection("org_guard_free", T0);
    const [inactiveA, inactiveB] = await createUsers(connection, 2, { active: false });
    const ids = await createUsers(connection, 4);
    for (const id of ids.slice(0, BUDGET)) expect((await call(connection, T0 + 1, "PATCH", `/Users/${id}`, OKTA_DEACTIVATE)).status).toBe(200);
    const survivor = ids[BUDGET]!;
    expectPaused(await call(connection, T0 + 2, "PATCH", `/Users/${survivor}`, OKTA_DEACTIVATE));

    // The window is spent. An inactive user's PUT that keeps them inactive, and their DELETE, are free.
    const put = await call(connection, T0 + 3, "PUT", `/Users/${inactiveA}`, { schemas: [USER_SCHEMA], userName: "renamed.inactive@example.com", active: false });
    expect(put.status).toBe(200);
    expect(put.body.userName).toBe("renamed.inactive@example.com");
    expect((await call(connection, T0 + 3, "DELETE", `/Users/${inactiveB}`)).status).toBe(204);
    // Creates, profile updates, reactivations and group changes are never held.
    const [fresh] = await createUsers(connection, 1);
    const renamed = await call(connection, T0 + 4, "PATCH", `/Users/${survivor}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "name.givenName", value: "Still" }] });
    expect(renamed.status).toBe(200);
    expect((await call(connection, T0 + 4, "PATCH", `/Users/${ids[0]}`, { schemas: [PATCH_OP], Operations: [{ op: "replace", path: "active", value: true }] })).status).toBe(200);
    const group = await call(connection, T0 + 5, "POST", "/Groups", { schemas: [GROUP_SCHEMA], displayName: "Guarded", members: [{ value: survivor }, { value: fresh }] });
    expect(group.status).toBe(201);
    expect((await call(connection, T0 + 6, "PATCH", `/Groups/${group.body.id}`, { schemas: [PATCH_OP], Operations: [{ op: "remove", path: `members[value eq "${fresh}"]` }] })).status).toBe(200);

    expect(await userState(connection, survivor)).toMatchObject({ active: 1 });
    expect((await guardRows(connection)).map((row) => [row.subject, row.status])).toStrictEqual([[survivor, "held"]]);
    expect(await windowSpent(connection, T0)).toBe(BUDGET);
  });

  it("budgets are per connection and per provider: one spent window never holds another tenant's", async () => {
    const organization = "org_guard_shared";
    const spent = await newConnection(organization, T0);
    const spentIds = await createUsers(spent, 5);
    for (const id of spentIds.slice(0, BUDGET)) expect((await call(spent, T0 + 1, "PATCH", `/Users/${id}`, OKTA_DEACTIVATE)).status).toBe(200);
    expectPaused(await call(spent, T0 + 2, "PATCH", `/Users/${spentIds[BUDGET]}`, OKTA_DEACTIVATE));

    // Another connection, even of the same organization, has its own budget.
    const other = await newConnection(organization, T0);
    const otherIds = await createUsers(other, BUDGET);
    for (const id of otherIds) expect((await call(other, T0 + 3, "PATCH", `/Users/${id}`, ENTRA_DEACTIVATE)).status).toBe(200);
    expect(await activeIds(other, otherIds)).toStrictEqual([]);

    // So has a webhook provider in that organization.
    const inOrg = (event: DirectoryEvent) => ({ ...event, user: { ...(event as Extract<DirectoryEvent, { kind: "user_upserted" }>).user, organizationId: organization } }) as DirectoryEvent;
    await deliverBatch([eventMessage(inOrg(events.userUpserted("guard_webhook_user", 1_000)))], { env: { ...env, ...GUARD } });
    const deletion = inOrg(events.userDeleted("guard_webhook_user", 2_000));
    await deliverBatch([eventMessage(deletion)], { env: { ...env, ...GUARD } });
    const webhookLog = await env.DB.prepare("SELECT status FROM event_log WHERE provider = 'scalekit' AND event_id = ?").bind(deletion.eventId).first<{ status: string }>();
    expect(webhookLog).toStrictEqual({ status: "applied" });
  });

  it("concurrent deactivations at the budget's edge never apply more than the budget", async () => {
    const connection = await newConnection("org_guard_race", T0);
    const ids = await createUsers(connection, 12);
    const replies = await Promise.all(ids.map((id, i) => call(connection, T0 + 1, "PATCH", `/Users/${id}`, i % 2 ? ENTRA_DEACTIVATE : OKTA_DEACTIVATE)));

    const applied = ids.filter((_, i) => replies[i]!.status === 200);
    const paused = replies.filter((reply) => reply.status === 429);
    expect(applied.length + paused.length).toBe(ids.length);
    expect(applied.length).toBeGreaterThan(0);
    expect(applied.length).toBeLessThanOrEqual(BUDGET);
    // What answered 200 is exactly what is inactive and what the window counted; no 429 changed anything.
    expect(await activeIds(connection, ids)).toStrictEqual(ids.filter((id) => !applied.includes(id)).sort());
    expect(await windowSpent(connection, T0)).toBe(applied.length);
    expect(await deactivatedSubjects(connection)).toStrictEqual([...applied].sort());
    for (const reply of paused) expect(reply.headers.get("retry-after")).toMatch(/^[1-9][0-9]*$/);
  });
});
