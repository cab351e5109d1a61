import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { checkFirstupSubscriptions } from "../../../src/providers/firstup/subscription-status";
import { createFirstupSubscriptionsClient, FirstupApiError } from "../../../src/providers/firstup/subscriptions";
import { firstupProgram, USER_EVENTS, WEBHOOKS_READ_TOKEN, WEBHOOKS_READ_WRITE_TOKEN, WEBHOOKS_WRITE_ONLY_TOKEN } from "../../support/firstup-api";

/**
 * Firstup's webhook subscription API as emulated beside the SCIM test server, the client over it
 * from inside workerd, and the console's check (checkFirstupSubscriptions) through the Env.
 */

const HERE = "https://sync.example.com/webhooks/firstup";

async function call(url: string, init: { method?: string; token?: string; body?: unknown } = {}) {
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  const response = await fetch(url, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  return { status: response.status, body: (await response.json()) as { data?: unknown } };
}

async function failureOf(promise: Promise<unknown>): Promise<FirstupApiError> {
  const error = await promise.then(
    () => null,
    (reason: unknown) => reason,
  );
  if (!(error instanceof FirstupApiError)) throw new Error(`expected a FirstupApiError, got ${String(error)}`);
  return error;
}

describe("the emulated API behaves as Firstup documents it", () => {
  it("requires a known bearer token, and the route's scope", async () => {
    const program = firstupProgram("subs-auth");
    await program.reset();
    const subscriptions = `${program.api}/v2/webhooks/subscriptions`;
    expect((await call(subscriptions)).status).toBe(401);
    expect((await call(subscriptions, { token: "unknown" })).status).toBe(401);
    expect((await call(subscriptions, { token: WEBHOOKS_WRITE_ONLY_TOKEN })).status).toBe(403);
    expect((await call(subscriptions, { token: WEBHOOKS_READ_TOKEN })).status).toBe(200);
    const create = { url: HERE, active: true, events: USER_EVENTS };
    expect((await call(subscriptions, { method: "POST", token: WEBHOOKS_READ_TOKEN, body: create })).status).toBe(403);
    expect((await program.state()).subscriptions).toHaveLength(0);
  });

  it("creates with a url and at least one event, answering 201 { data }", async () => {
    const program = firstupProgram("subs-create");
    await program.reset();
    const subscriptions = `${program.api}/v2/webhooks/subscriptions`;
    expect((await call(subscriptions, { method: "POST", token: WEBHOOKS_READ_WRITE_TOKEN, body: { url: HERE, events: [] } })).status).toBe(422);
    expect((await call(subscriptions, { method: "POST", token: WEBHOOKS_READ_WRITE_TOKEN, body: { events: USER_EVENTS } })).status).toBe(422);
    const created = await call(subscriptions, { method: "POST", token: WEBHOOKS_READ_WRITE_TOKEN, body: { name: "n", url: HERE, active: true, events: USER_EVENTS } });
    expect(created.status).toBe(201);
    expect(created.body.data).toMatchObject({ id: expect.any(String), name: "n", url: HERE, active: true, events: USER_EVENTS, created_at: expect.any(String) });
  });

  it("updates as a patch: only what is sent changes, and events are replaced whole; 404 for an unknown id", async () => {
    const program = firstupProgram("subs-update");
    await program.reset({ subscriptions: [{ id: "sub_a", url: HERE, active: false, events: USER_EVENTS, authorization_header: "Bearer keep" }] });
    const one = `${program.api}/v2/webhooks/subscriptions/sub_a`;
    const activated = await call(one, { method: "PUT", token: WEBHOOKS_READ_WRITE_TOKEN, body: { active: true } });
    expect(activated.status).toBe(200);
    expect(activated.body.data).toMatchObject({ active: true, events: USER_EVENTS, url: HERE, authorization_header: "Bearer keep" });
    const replaced = await call(one, { method: "PUT", token: WEBHOOKS_READ_WRITE_TOKEN, body: { events: [{ name: "user.updated", version: "1" }] } });
    expect(replaced.body.data).toMatchObject({ active: true, events: [{ name: "user.updated", version: "1" }] });
    expect((await call(`${program.api}/v2/webhooks/subscriptions/sub_none`, { method: "PUT", token: WEBHOOKS_READ_WRITE_TOKEN, body: { active: true } })).status).toBe(404);
  });
});

describe("the subscriptions client", () => {
  it("lists every subscription across pages by page.size and page.number", async () => {
    const program = firstupProgram("subs-pages");
    await program.reset({ subscriptions: Array.from({ length: 45 }, (_, i) => ({ id: `sub_${i}`, url: `https://a.example.com/${i}`, active: true, events: USER_EVENTS })) });
    const listing = await createFirstupSubscriptionsClient({ baseUrl: program.api, token: WEBHOOKS_READ_TOKEN, pageSize: 20 }).list();
    expect(listing.complete).toBe(true);
    expect(listing.subscriptions.map((subscription) => subscription.id)).toEqual(Array.from({ length: 45 }, (_, i) => `sub_${i}`));
    expect((await program.state()).requests.list).toBe(3);
  });

  it("stops at its page cap and says the listing is incomplete", async () => {
    const program = firstupProgram("subs-cap");
    await program.reset({ subscriptions: Array.from({ length: 45 }, (_, i) => ({ id: `sub_${i}`, url: HERE, active: true, events: USER_EVENTS })) });
    const listing = await createFirstupSubscriptionsClient({ baseUrl: program.api, token: WEBHOOKS_READ_TOKEN, pageSize: 20, maxPages: 2 }).list();
    expect(listing).toMatchObject({ complete: false });
    expect(listing.subscriptions).toHaveLength(40);
  });

  it("creates and updates, reading back what Firstup answered", async () => {
    const program = firstupProgram("subs-client-write");
    await program.reset();
    const client = createFirstupSubscriptionsClient({ baseUrl: program.api, token: WEBHOOKS_READ_WRITE_TOKEN });
    const created = await client.create({ name: "directory-sync", url: HERE, active: false, events: USER_EVENTS, authorization_header: "Bearer x" });
    expect(created).toMatchObject({ name: "directory-sync", url: HERE, active: false, hasAuthorizationHeader: true });
    const updated = await client.update(created.id, { active: true });
    expect(updated).toMatchObject({ id: created.id, active: true, events: USER_EVENTS });
  });

  it("turns each failure into a stable code, never with the token in its message", async () => {
    const program = firstupProgram("subs-failures");
    await program.reset();
    const client = (token: string, timeoutMs?: number) => createFirstupSubscriptionsClient({ baseUrl: program.api, token, timeoutMs });

    const unauthorized = await failureOf(client("secret-token-value").list());
    expect([unauthorized.code, unauthorized.status]).toEqual(["unauthorized", 401]);
    expect(unauthorized.message).not.toContain("secret-token-value");
    expect((await failureOf(client(WEBHOOKS_WRITE_ONLY_TOKEN).list())).code).toBe("forbidden");
    expect((await failureOf(client(WEBHOOKS_READ_TOKEN).create({ url: HERE, active: true, events: USER_EVENTS }))).code).toBe("forbidden");
    expect((await failureOf(client(WEBHOOKS_READ_WRITE_TOKEN).update("sub_none", { active: true }))).code).toBe("not_found");

    await program.reset({ failures: { times: 1, status: 503 } });
    expect((await failureOf(client(WEBHOOKS_READ_TOKEN).list())).code).toBe("unavailable");
    await program.reset({ failures: { times: 1, status: 429 } });
    expect((await failureOf(client(WEBHOOKS_READ_TOKEN).list())).code).toBe("rate_limited");
    await program.reset({ failures: { times: 1, status: "garbage" } });
    expect((await failureOf(client(WEBHOOKS_READ_TOKEN).list())).code).toBe("bad_response");
    await program.reset({ delayMs: 2_000 });
    expect((await failureOf(client(WEBHOOKS_READ_TOKEN, 100).list())).code).toBe("timeout");
    const nowhere = createFirstupSubscriptionsClient({ baseUrl: "http://127.0.0.1:1", token: WEBHOOKS_READ_TOKEN });
    expect((await failureOf(nowhere.list())).code).toBe("network");
  });

  it("refuses a 200 that is not a subscription listing", async () => {
    const fakeFetch = (async () => Response.json({ subscriptions: [] })) as unknown as typeof fetch;
    const client = createFirstupSubscriptionsClient({ baseUrl: "https://partner.example.com", token: "t", fetch: fakeFetch });
    expect((await failureOf(client.list())).code).toBe("bad_response");
  });
});

describe("checkFirstupSubscriptions (the console's panel)", () => {
  const fresh = { cacheMs: 0 };

  it("is not_configured without a token, without an API URL, or with an invalid one", async () => {
    const program = firstupProgram("subs-console-config");
    expect(await checkFirstupSubscriptions(program.env({ FIRSTUP_API_TOKEN: "" }), HERE, fresh)).toEqual({ status: "not_configured", reason: "no_token" });
    expect(await checkFirstupSubscriptions(program.env({ FIRSTUP_API_URL: "", FIRSTUP_SCIM_URL: "" }), HERE, fresh)).toEqual({ status: "not_configured", reason: "no_api_url" });
    expect(await checkFirstupSubscriptions(program.env({ FIRSTUP_API_URL: "http://partner.example.com" }), HERE, fresh)).toEqual({ status: "not_configured", reason: "invalid_setting" });
  });

  it("says ok for a working subscription, found through the API base derived from FIRSTUP_SCIM_URL", async () => {
    const program = firstupProgram("subs-console-ok");
    await program.reset({ subscriptions: [{ id: "sub_ok", name: "directory-sync", url: HERE, active: true, events: USER_EVENTS }, { id: "sub_cms", url: "https://cms.example.com", active: true, events: [{ name: "content_published", version: "1" }] }] });
    const report = await checkFirstupSubscriptions(program.env({ FIRSTUP_API_URL: "", FIRSTUP_SCIM_URL: `${program.api}/scim/v2` }), HERE, fresh);
    expect(report).toMatchObject({
      status: "ok",
      expectedUrl: HERE,
      subscriptions: [{ id: "sub_ok", name: "directory-sync", url: HERE, active: true, events: USER_EVENTS }],
      otherSubscriptions: 1,
      problems: [],
      checkedAt: expect.any(String),
    });
  });

  it("reports an inactive subscription and one pointing elsewhere as problems", async () => {
    const program = firstupProgram("subs-console-problems");
    await program.reset({
      subscriptions: [
        { id: "sub_off", url: HERE, active: false, events: USER_EVENTS },
        { id: "sub_old", url: "https://old.example.com/webhooks/firstup", active: true, events: USER_EVENTS },
      ],
    });
    const report = await checkFirstupSubscriptions(program.env(), HERE, fresh);
    expect(report.status).toBe("problems");
    expect(report.status === "problems" && report.problems).toEqual([
      { code: "not_subscribed", url: HERE },
      { code: "inactive", id: "sub_off", url: HERE },
      { code: "elsewhere", id: "sub_old", url: "https://old.example.com/webhooks/firstup" },
    ]);
  });

  it("says unauthorized for a token Firstup does not know (401) and one without webhooks.read (403)", async () => {
    const program = firstupProgram("subs-console-auth");
    await program.reset();
    expect(await checkFirstupSubscriptions(program.env({ FIRSTUP_API_TOKEN: "expired" }), HERE, fresh)).toMatchObject({ status: "unauthorized", reason: "unauthorized" });
    expect(await checkFirstupSubscriptions(program.env({ FIRSTUP_API_TOKEN: WEBHOOKS_WRITE_ONLY_TOKEN }), HERE, fresh)).toMatchObject({ status: "unauthorized", reason: "forbidden" });
  });

  it("says unreachable, never throwing, when Firstup fails, hangs or is not there", async () => {
    const program = firstupProgram("subs-console-down");
    await program.reset({ failures: { times: 1, status: 502 } });
    expect(await checkFirstupSubscriptions(program.env(), HERE, fresh)).toMatchObject({ status: "unreachable", reason: "unavailable" });
    await program.reset({ delayMs: 2_000 });
    expect(await checkFirstupSubscriptions(program.env(), HERE, { ...fresh, timeoutMs: 100 })).toMatchObject({ status: "unreachable", reason: "timeout" });
    expect(await checkFirstupSubscriptions(program.env({ FIRSTUP_API_URL: "http://127.0.0.1:1" }), HERE, fresh)).toMatchObject({ status: "unreachable", reason: "network" });
    const throwing = (async () => {
      throw new TypeError("boom");
    }) as unknown as typeof fetch;
    expect(await checkFirstupSubscriptions(program.env(), HERE, { ...fresh, fetch: throwing })).toMatchObject({ status: "unreachable", reason: "network" });
  });

  it("checks the Authorization value only in header mode, and never reports a value", async () => {
    const program = firstupProgram("subs-console-header");
    await program.reset({ subscriptions: [{ id: "sub_h", url: HERE, active: true, events: USER_EVENTS, authorization_header: "Bearer old-secret" }] });
    // The test Env verifies Firstup by signature (FIRSTUP_WEBHOOK_SECRET): the header plays no part.
    expect((await checkFirstupSubscriptions(program.env(), HERE, fresh)).status).toBe("ok");
    const headerMode = program.env({ FIRSTUP_WEBHOOK_SECRET: "", FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer new-secret" });
    const report = await checkFirstupSubscriptions(headerMode, HERE, fresh);
    expect(report.status === "problems" && report.problems.map((problem) => problem.code)).toEqual(["not_subscribed", "authorization_mismatch"]);
    expect(JSON.stringify(report)).not.toMatch(/old-secret|new-secret|test-webhooks/);
    expect((await checkFirstupSubscriptions({ ...headerMode, FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer new-secret, Bearer old-secret" }, HERE, fresh)).status).toBe("ok");
  });

  it("reuses a report for the cache period, then asks Firstup again", async () => {
    const program = firstupProgram("subs-console-cache");
    await program.reset({ subscriptions: [{ url: HERE, active: true, events: USER_EVENTS }] });
    let now = Date.parse("2026-12-01T00:00:00Z");
    const options = { cacheMs: 60_000, now: () => now };
    const expected = HERE; // the cache key holds the program's own API URL: no other test shares it
    const first = await checkFirstupSubscriptions(program.env(), expected, options);
    now += 59_000;
    expect(await checkFirstupSubscriptions(program.env(), expected, options)).toBe(first);
    expect((await program.state()).requests.list).toBe(1);
    now += 2_000;
    const later = await checkFirstupSubscriptions(program.env(), expected, options);
    expect(later).not.toBe(first);
    expect((await program.state()).requests.list).toBe(2);
  });

  it("is off in an Env without FIRSTUP_API_TOKEN, even with Firstup's SCIM configured", async () => {
    expect(env.FIRSTUP_SCIM_URL).not.toBe("");
    expect(await checkFirstupSubscriptions(env, HERE, fresh)).toEqual({ status: "not_configured", reason: "no_token" });
  });
});
