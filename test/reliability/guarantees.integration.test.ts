import { runRetention } from "../../src/retention";
import { env } from "cloudflare:test";
import { describe, expect, it, vi } from "vitest";
import { createApp } from "../../src/http/app";
import { isConsolePath } from "../../src/http/console/paths";
import { deliverBatch } from "../support/consumer";
import { countingD1 } from "../support/d1";
import { eventMessage, events } from "../support/directory";
import { signedHeaders, TEST_SECRET } from "../support/sign";
import { scalekitEvent, scalekitUser } from "../support/scalekit";
import { scimUser, upstreamTenant } from "../support/upstream";
import { callApp, failingQueue, recordingQueue } from "../support/worker";
import { scalekitEnvironment } from "../support/scalekit-environment";
import { capturingQueue, defaultReconcileConfig } from "../support/reconcile";
import { startOrResumeRun } from "../../src/reconcile/start";
import { continueRun } from "../../src/reconcile/steps";

const URL_SCALEKIT = "https://sync.example.com/webhooks/scalekit";
const processedCount = async (eventId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE status = 'applied' AND event_id = ?").bind(eventId).first<{ n: number }>())?.n;

/** Delivers everything the recording queue captured through the real consumer, in batches of 100. */
async function drain(sent: unknown[], overrides: Partial<Env> = {}) {
  for (let i = 0; i < sent.length; i += 100) await deliverBatch(sent.slice(i, i + 100), { env: { ...env, ...overrides } });
}

describe("replay and duplicates", () => {
  it("the same delivery 10 times at once, and again hours later, has one effect", async () => {
    const sent: unknown[] = [];
    const capture = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: "dup_user", email: "dup@example.com" }), { id: "evt_dup_10" }));
    const burst = await Promise.all(Array.from({ length: 10 }, async () => (await callApp(new Request(URL_SCALEKIT, { method: "POST", body, headers: await signedHeaders(body) }), { EVENTS_QUEUE: capture })).status));
    expect(burst.every((status) => status === 200 || status === 202)).toBe(true);
    // KV is only a fast path: concurrent copies may all pass it. D1 decides.
    await drain(sent);
    const firstUpdate = await env.DB.prepare("SELECT updated_at FROM users WHERE external_id = 'dup_user'").first<{ updated_at: number }>();

    // The provider retries three hours later: new delivery attempt, fresh timestamp and signature.
    const later = Date.now() + 3 * 3600 * 1000;
    const retry = new Request(URL_SCALEKIT, { method: "POST", body, headers: await signedHeaders(body, { timestamp: Math.floor(later / 1000) }) });
    const response = await callApp(retry, { EVENTS_QUEUE: capture }, { now: () => later });
    expect([200, 202]).toContain(response.status);
    await drain(sent.splice(0));
    expect(await processedCount("evt_dup_10")).toBe(1);
    expect(await env.DB.prepare("SELECT updated_at FROM users WHERE external_id = 'dup_user'").first()).toEqual(firstUpdate);
  });

  it("a captured valid delivery replayed after the tolerance window is rejected", async () => {
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: "captured" })));
    const captured = new Request(URL_SCALEKIT, { method: "POST", body, headers: await signedHeaders(body) });
    const { queue, sent } = recordingQueue();
    const response = await callApp(captured, { EVENTS_QUEUE: queue }, { now: () => Date.now() + 301_000 });
    expect(response.status).toBe(401);
    expect(sent).toEqual([]);
  });
});

describe("faults", () => {
  it("D1 failing mid-batch (a later statement fails after earlier ones ran) leaves no partial state, and the retry applies it", async () => {
    const batch = [events.userUpserted("mid_1", 1000), events.groupUpserted("mid_g", 1000), events.members("mid_g", 1001, ["mid_1"])].map((event) => eventMessage(event));
    // Append a statement that fails when D1 executes it: a NOT NULL violation after the real writes.
    const poisoned = {
      ...env.DB,
      prepare: (query: string) => env.DB.prepare(query),
      batch: (statements: D1PreparedStatement[]) => env.DB.batch([...statements, env.DB.prepare("INSERT INTO work_claims (scope, key, claimed_at) VALUES (NULL, NULL, NULL)")]),
    } as unknown as D1Database;
    const first = await deliverBatch(batch, { env: { ...env, DB: poisoned } });
    expect(first.result.retryMessages).toHaveLength(3);
    const count = async (table: string, where: string) => (await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).first<{ n: number }>())?.n;
    expect(await count("users", "external_id = 'mid_1'")).toBe(0);
    expect(await count("groups", "external_id = 'mid_g'")).toBe(0);
    expect(await count("group_members", "group_external_id = 'mid_g'")).toBe(0);
    const retried = await deliverBatch(batch, { attempts: 2 });
    expect(retried.result.explicitAcks).toHaveLength(3);
    expect(await count("group_members", "group_external_id = 'mid_g'")).toBe(1);
  });

  it("with DEDUPE_KV kv and KV unavailable, deliveries are still accepted and applied exactly once through D1", async () => {
    const brokenKv = {
      get: async () => {
        throw new Error("KV unavailable");
      },
      put: async () => {
        throw new Error("KV unavailable");
      },
    } as unknown as KVNamespace;
    const sent: unknown[] = [];
    const capture = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: "kv_down_user" }), { id: "evt_kv_down" }));
    for (let i = 0; i < 3; i++) {
      const response = await callApp(new Request(URL_SCALEKIT, { method: "POST", body, headers: await signedHeaders(body) }), { SEEN_EVENTS: brokenKv, EVENTS_QUEUE: capture, DEDUPE_KV: "kv" });
      expect(response.status).toBe(202);
    }
    expect(sent).toHaveLength(3);
    await drain(sent);
    expect(await processedCount("evt_kv_down")).toBe(1);
  });

  it("a Queue refusing the event answers 503 and nothing is recorded anywhere", async () => {
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: "queue_down_user" }), { id: "evt_queue_refused" }));
    const response = await callApp(new Request(URL_SCALEKIT, { method: "POST", body, headers: await signedHeaders(body) }), { EVENTS_QUEUE: failingQueue });
    expect(response.status).toBe(503);
    expect(await env.SEEN_EVENTS.get("seen:scalekit:evt_queue_refused")).toBeNull();
    expect(await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE event_id = 'evt_queue_refused'").first()).toEqual({ n: 0 });
    // Nor in the default fast path (the Cache API): the retry, once the Queue is back, is accepted.
    const capture = { send: async () => undefined } as unknown as Queue;
    const retry = await callApp(new Request(URL_SCALEKIT, { method: "POST", body, headers: await signedHeaders(body) }), { EVENTS_QUEUE: capture });
    expect(retry.status).toBe(202);
  });

  it.each([
    [{ failures: { times: 1000, status: 500 } }, "HTTP 500"],
    [{ throttle: { times: 1000, retryAfterSeconds: 3600 } }, "HTTP 429"],
    [{ failures: { times: 1000, status: "garbage" as const } }, "not JSON"],
  ])("an upstream that keeps failing (%j) gets a recorded failure and a backed-off retry, never a crash loop", async (quirks, error) => {
    const tenant = upstreamTenant(`reliability-${error.replace(/\W/g, "")}`);
    await tenant.reset({ users: [scimUser("u1")], quirks });
    const event = { provider: "firstup", eventId: `fault_${crypto.randomUUID()}`, occurredAt: Date.now(), sourceType: "user.updated", kind: "user_refresh" as const, externalId: "u1", reason: "updated" as const };
    const { result, retryDelays, ids } = await deliverBatch([eventMessage(event)], { env: tenant.env({ RETRY_BASE_DELAY_SECONDS: "30" }), attempts: 2 });
    expect(result.retryMessages.map((retry) => retry.msgId)).toEqual(ids);
    expect(retryDelays.get(ids[0]!)).toBeGreaterThanOrEqual(30);
    const logged = await env.DB.prepare("SELECT status, error FROM event_log WHERE event_id = ?").bind(event.eventId).first<{ status: string; error: string }>();
    expect(logged).toMatchObject({ status: "failed", error: expect.stringContaining(error) });
  }, 60_000);

  it("an upstream that never answers times out within the client's budget", async () => {
    const tenant = upstreamTenant("reliability-timeout");
    const event = { provider: "firstup", eventId: `timeout_${crypto.randomUUID()}`, occurredAt: Date.now(), sourceType: "user.updated", kind: "user_refresh" as const, externalId: "u1", reason: "updated" as const };
    const { resolveRefresh } = await import("../../src/providers/firstup/resolve-refresh");
    // A fetch that never answers: only the client's own timeout can end it.
    const client = tenant.client({ fetch: (_input, init) => new Promise<Response>((_, reject) => init?.signal?.addEventListener("abort", () => reject(init.signal!.reason))), timeoutMs: 30, maxAttempts: 2, sleep: async () => {} });
    const context = { now: Date.now, receivedAt: Date.now(), released: false, absenceConfirmDelaySeconds: 60, confirmBudgetMs: 0, waitDelaySeconds: 5 };
    await expect(resolveRefresh(event, client, context)).rejects.toMatchObject({ kind: "unavailable" });
  });
});

describe("secrets and personal data", () => {
  it("secrets never appear in logs or error bodies, whatever fails", async () => {
    const secrets = {
      SCALEKIT_WEBHOOK_SECRET: "whsec_c3VwZXItc2VjcmV0LXNjYWxla2l0LWtleS0xMjM0NQ==",
      FIRSTUP_SCIM_TOKEN: "scim-token-that-must-not-leak",
      ADMIN_TOKEN: "admin-token-that-must-not-leak",
      FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer firstup-auth-that-must-not-leak",
      SCALEKIT_CLIENT_SECRET: "scalekit-client-secret-that-must-not-leak",
      APP_WEBHOOK_SECRET: "whsec_YXBwLXdlYmhvb2stc2VjcmV0LW11c3Qtbm90LWxlYWs=",
    };
    const logged: string[] = [];
    const spies = (["log", "warn", "error"] as const).map((level) => vi.spyOn(console, level).mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" "))));
    const bodies: string[] = [];
    const app = createApp();
    const call = async (request: Request, overrides: Partial<Env> = {}) => {
      const { createExecutionContext, waitOnExecutionContext } = await import("cloudflare:test");
      const ctx = createExecutionContext();
      const response = await app.fetch(request, { ...env, ...secrets, FIRSTUP_WEBHOOK_SECRET: "", ...overrides }, ctx);
      await waitOnExecutionContext(ctx);
      bodies.push(await response.text());
    };
    try {
      const body = JSON.stringify(scalekitEvent("user_created", scalekitUser()));
      await call(new Request(URL_SCALEKIT, { method: "POST", body, headers: await signedHeaders(body) })); // wrong secret
      await call(new Request(URL_SCALEKIT, { method: "POST", body, headers: await signedHeaders(body, { secret: secrets.SCALEKIT_WEBHOOK_SECRET }) }), { EVENTS_QUEUE: failingQueue });
      await call(new Request(URL_SCALEKIT, { method: "POST", body, headers: await signedHeaders(body) }), { SCALEKIT_WEBHOOK_SECRET: "whsec_not*base64*but-secret-ish" });
      await call(new Request("https://sync.example.com/webhooks/firstup", { method: "POST", body: "{}", headers: { authorization: "Bearer firstup-auth-that-must-not-lea" } }));
      await call(new Request("https://sync.example.com/v1/users", { headers: { authorization: "Bearer admin-token-that-must-not-lea" } }));
      await call(new Request("https://sync.example.com/v1/users", { headers: { authorization: `Bearer ${secrets.ADMIN_TOKEN}` } }), { ROLE_MAPPING: "not json" });
      // The consumer with a SCIM upstream that rejects the token.
      const tenant = upstreamTenant("reliability-secrets");
      await tenant.reset({ users: [scimUser("u1")], token: "another-token" });
      const event = { provider: "firstup", eventId: `secret_${crypto.randomUUID()}`, occurredAt: Date.now(), sourceType: "user.updated", kind: "user_refresh" as const, externalId: "u1", reason: "updated" as const };
      await deliverBatch([eventMessage(event)], { env: tenant.env({ FIRSTUP_SCIM_TOKEN: secrets.FIRSTUP_SCIM_TOKEN }) });
      const stored = await env.DB.prepare("SELECT error FROM event_log WHERE event_id = ?").bind(event.eventId).first<{ error: string }>();
      bodies.push(stored?.error ?? "");
      // A refused SCIM connection token, and a Scalekit run whose client secret is refused.
      await call(new Request("https://sync.example.com/scim/v2/connections/scn_nope/Users", { headers: { authorization: "Bearer scimtok_guess-that-must-not-leak" } }));
      const scalekitApi = scalekitEnvironment("reliability-secrets");
      await scalekitApi.reset({ organizations: [{ id: "org_s" }] });
      const captured = capturingQueue();
      const { run } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now: Date.now }, "scalekit", "test");
      const client = scalekitApi.client({ clientSecret: secrets.SCALEKIT_CLIENT_SECRET, sleep: async () => {} });
      for (let message = captured.take(); message; message = captured.take()) {
        const next = await continueRun(message, { d1: env.DB, queue: captured.queue, clientFor: () => client, config: defaultReconcileConfig, now: Date.now });
        if (next) captured.sent.push(next);
      }
      const report = await env.DB.prepare("SELECT status, last_error, note FROM reconcile_runs WHERE id = ?").bind(run.id).first<{ status: string; last_error: string; note: string }>();
      expect(report?.status).toBe("failed");
      bodies.push(report?.last_error ?? "", report?.note ?? "");
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    const everything = [...logged, ...bodies].join("\n");
    expect(logged.length).toBeGreaterThan(3);
    for (const value of [...Object.values(secrets), TEST_SECRET.slice(6), "not*base64*but-secret-ish", "firstup-auth-that-must-not-lea", "admin-token-that-must-not-lea", "scimtok_guess-that-must-not-leak"]) {
      expect(everything).not.toContain(value.replace(/^whsec_|^Bearer /, ""));
    }
  });

  it("a forgotten user's personal data is gone from every table, while the tombstone remains", async () => {
    const tenant = upstreamTenant("reliability-forget");
    const person = { email: "forget.me@example.com", givenName: "Forgettable", familyName: "Person" };
    await tenant.reset({ users: [scimUser("fm", { userName: person.email, emails: [{ value: person.email, primary: true }], name: { givenName: person.givenName, familyName: person.familyName } })] });
    const refresh = { provider: "firstup", eventId: `fm_${crypto.randomUUID()}`, occurredAt: Date.now(), sourceType: "user.updated", kind: "user_refresh" as const, externalId: "fm", reason: "updated" as const };
    await deliverBatch([eventMessage(refresh)], { env: tenant.env() });
    // A failed and a dead-lettered event still hold payloads about this person.
    const failing = countingD1(env.DB, (statements) => (statements.some((s) => s.includes("INSERT INTO users")) ? new Error("injected") : undefined));
    await deliverBatch([eventMessage(events.userUpserted("fm", 5, { email: person.email, firstName: person.givenName }))].map((m) => ({ ...m, event: { ...m.event, provider: "firstup" } })), { env: tenant.env({ DB: failing.db }) });
    await deliverBatch([{ ...eventMessage(events.userUpserted("fm", 6, { email: person.email })), event: { ...events.userUpserted("fm", 6, { email: person.email }), provider: "firstup" } }], { queue: "directory-events-dlq" });
    await deliverBatch([eventMessage(events.members("g_fm", Date.now(), ["fm"]))].map((m) => ({ ...m, event: { ...m.event, provider: "firstup" } })));

    const forget = { provider: "firstup", eventId: `forget_${crypto.randomUUID()}`, occurredAt: Date.now() + 1000, sourceType: "user.deleted", kind: "user_forgotten" as const, externalId: "fm" };
    await deliverBatch([eventMessage(forget)], { env: tenant.env() });

    // The change feed shows ids only from the moment the erasure commits…
    const feed = await callApp(new Request("https://sync.example/v1/changes?after=0&limit=500", { headers: { authorization: `Bearer ${env.ADMIN_TOKEN}` } }));
    const feedText = await feed.text();
    expect(feed.status).toBe(200);
    for (const value of Object.values(person)) expect(feedText, `the feed still shows ${value}`).not.toContain(value);
    // …and the rows themselves are rewritten by the watchdog's retention sweep (changes/erasure.ts).
    await runRetention(env, Date.now());

    const tables = (await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%' AND name <> 'd1_migrations'").all<{ name: string }>()).results;
    expect(tables.map((table) => table.name)).toEqual(expect.arrayContaining(["users", "event_log", "dead_letters", "group_members", "work_claims"]));
    for (const { name } of tables) {
      const rows = JSON.stringify((await env.DB.prepare(`SELECT * FROM "${name}"`).all()).results);
      for (const value of Object.values(person)) expect(rows, `${name} still holds ${value}`).not.toContain(value);
    }
    const tombstone = await env.DB.prepare("SELECT active, forgotten_at FROM users WHERE provider = 'firstup' AND external_id = 'fm'").first<{ active: number; forgotten_at: number | null }>();
    expect(tombstone?.active).toBe(0);
    expect(tombstone?.forgotten_at).not.toBeNull();
  });

  it("every registered route except webhooks and /healthz refuses requests without the admin token", async () => {
    const routes = createApp().routes.filter((route) => !route.path.startsWith("/webhooks") && !route.path.startsWith("/healthz") && route.method !== "ALL" && !route.path.endsWith("*"));
    expect(routes.length).toBeGreaterThan(15);
    const { queue, sent } = recordingQueue();
    const runs = () => env.DB.prepare("SELECT count(*) AS n FROM reconcile_runs").first<{ n: number }>();
    const runsBefore = await runs();
    for (const route of routes) {
      // A real provider, so a request that got through would start a run and queue its first step.
      const path = route.path.replace(":provider", "firstup").replace(/:[A-Za-z]+/g, "x");
      for (const headers of [{}, { authorization: "Bearer not-the-token" }] as Record<string, string>[]) {
        const response = await callApp(new Request(`https://sync.example.com${path}`, { method: route.method, headers, redirect: "manual" }), { EVENTS_QUEUE: queue });
        // The console's HTML routes take a session cookie, never a bearer token (test/console):
        // without one, only the sign-in form and its assets answer; the rest send the browser to
        // sign in (303), and a sign-in without its form token is refused (403).
        const refusal = !isConsolePath(route.path) ? 401 : route.method === "POST" && path === "/admin/sign-in" ? 403 : route.method === "GET" && (path === "/admin/sign-in" || path.startsWith("/admin/assets/")) ? 200 : 303;
        expect(response.status, `${route.method} ${route.path}`).toBe(refusal);
      }
    }
    // Refused means no effect: nothing was queued (a replay or a run's first step) and no run started.
    expect(sent).toEqual([]);
    expect(await runs()).toEqual(runsBefore);
  });
});
