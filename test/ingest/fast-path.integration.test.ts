import { env } from "cloudflare:test";
import { afterEach, describe, expect, it, vi } from "vitest";
import { deliverBatch } from "../support/consumer";
import { signedHeaders } from "../support/sign";
import { scalekitEvent, scalekitUser } from "../support/scalekit";
import { callApp } from "../support/worker";

/**
 * The dedupe fast path at ingress (DEDUPE_KV), through the Worker and then the real consumer: each
 * mode stops a redelivery where it should, a broken fast path only lets copies through, and D1
 * applies every event exactly once whatever the mode.
 */
const URL_SCALEKIT = "https://sync.example.com/webhooks/scalekit";

/** A queue that keeps what it is sent, for the consumer below. */
function capturingQueue() {
  const sent: unknown[] = [];
  const queue = { send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
  return { queue, sent };
}

/** One provider delivery attempt of `body`: a fresh webhook id, timestamp and signature each time. */
async function deliver(body: string, overrides: Partial<Env>) {
  const response = await callApp(new Request(URL_SCALEKIT, { method: "POST", body, headers: await signedHeaders(body) }), overrides);
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

function userCreated(name: string) {
  return { eventId: `evt_${name}`, userId: `user_${name}`, body: JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: `user_${name}` }), { id: `evt_${name}` })) };
}

/** What the consumer made of the event: its event_log rows and the user's change-feed entries. */
async function effects(eventId: string, userId: string) {
  const log = await env.DB.prepare("SELECT status FROM event_log WHERE provider = 'scalekit' AND event_id = ?").bind(eventId).all<{ status: string }>();
  const changes = await env.DB.prepare("SELECT type FROM changes WHERE provider = 'scalekit' AND subject = ?").bind(userId).all<{ type: string }>();
  return { eventLog: log.results.map((row) => row.status), changes: changes.results.map((row) => row.type) };
}

const throwing = (what: string) => async () => {
  throw new Error(`${what} unavailable`);
};

afterEach(() => vi.unstubAllGlobals());

describe("DEDUPE_KV", () => {
  it("defaults to cache: a redelivery to the same location is answered 200 duplicate, not queued, and KV is never touched", async () => {
    const { eventId, userId, body } = userCreated("cache_default");
    const { queue, sent } = capturingQueue();
    const kv = { get: throwing("KV"), put: throwing("KV") } as unknown as KVNamespace;

    const first = await deliver(body, { EVENTS_QUEUE: queue, SEEN_EVENTS: kv });
    const second = await deliver(body, { EVENTS_QUEUE: queue, SEEN_EVENTS: kv });

    expect(first.status).toBe(202);
    expect(second).toEqual({ status: 200, body: { status: "duplicate", provider: "scalekit", eventId } });
    expect(sent).toHaveLength(1);
    await deliverBatch(sent);
    expect(await effects(eventId, userId)).toEqual({ eventLog: ["applied"], changes: ["user.created"] });
  });

  it("cache marks the delivery for DEDUPE_TTL_SECONDS, under the Worker's own origin", async () => {
    const puts: { url: string; cacheControl: string | null }[] = [];
    const real = caches;
    vi.stubGlobal("caches", {
      open: async (name: string) => {
        const cache = await real.open(name);
        return {
          match: (key: string) => cache.match(key),
          put: (key: string, response: Response) => {
            puts.push({ url: key, cacheControl: response.headers.get("cache-control") });
            return cache.put(key, response);
          },
        };
      },
    });
    const { body } = userCreated("cache_ttl");
    const { queue } = capturingQueue();

    expect((await deliver(body, { EVENTS_QUEUE: queue, DEDUPE_KV: "cache", DEDUPE_TTL_SECONDS: "3600" })).status).toBe(202);

    expect(puts).toHaveLength(1);
    expect(puts[0]!.cacheControl).toBe("max-age=3600");
    expect(new URL(puts[0]!.url).origin).toBe("https://sync.example.com");
  });

  it.each(["kv", "on"] as const)("%s: a redelivery is answered 200 duplicate from the KV key, not queued", async (mode) => {
    const { eventId, userId, body } = userCreated(`kv_mode_${mode}`);
    const { queue, sent } = capturingQueue();

    const first = await deliver(body, { EVENTS_QUEUE: queue, DEDUPE_KV: mode });
    const second = await deliver(body, { EVENTS_QUEUE: queue, DEDUPE_KV: mode });

    expect(first.status).toBe(202);
    expect(second).toEqual({ status: 200, body: { status: "duplicate", provider: "scalekit", eventId } });
    expect(sent).toHaveLength(1);
    expect(await env.SEEN_EVENTS.get(`seen:scalekit:${eventId}`)).toBe("1");
    await deliverBatch(sent);
    expect(await effects(eventId, userId)).toEqual({ eventLog: ["applied"], changes: ["user.created"] });
  });

  it("off: a redelivery is queued again, and the consumer applies the event once", async () => {
    const { eventId, userId, body } = userCreated("off_mode");
    const { queue, sent } = capturingQueue();

    for (let i = 0; i < 2; i++) expect((await deliver(body, { EVENTS_QUEUE: queue, DEDUPE_KV: "off" })).status).toBe(202);

    expect(sent).toHaveLength(2);
    expect(await env.SEEN_EVENTS.get(`seen:scalekit:${eventId}`)).toBeNull();
    // Apart, as a provider retry arrives: the second copy finds the first already applied.
    await deliverBatch([sent[0]]);
    await deliverBatch([sent[1]]);
    expect(await effects(eventId, userId)).toEqual({ eventLog: ["applied"], changes: ["user.created"] });
  });

  it("a throwing Cache API degrades to not seen: every copy is queued and applied once", async () => {
    vi.stubGlobal("caches", { open: async () => ({ match: throwing("Cache API"), put: throwing("Cache API") }) });
    const { eventId, userId, body } = userCreated("cache_down");
    const { queue, sent } = capturingQueue();

    for (let i = 0; i < 3; i++) expect((await deliver(body, { EVENTS_QUEUE: queue, DEDUPE_KV: "cache" })).status).toBe(202);

    expect(sent).toHaveLength(3);
    await deliverBatch(sent);
    expect(await effects(eventId, userId)).toEqual({ eventLog: ["applied"], changes: ["user.created"] });
  });

  it("a throwing KV binding degrades to not seen: every copy is queued and applied once", async () => {
    const kv = { get: throwing("KV"), put: throwing("KV") } as unknown as KVNamespace;
    const { eventId, userId, body } = userCreated("kv_down");
    const { queue, sent } = capturingQueue();

    for (let i = 0; i < 3; i++) expect((await deliver(body, { EVENTS_QUEUE: queue, SEEN_EVENTS: kv, DEDUPE_KV: "kv" })).status).toBe(202);

    expect(sent).toHaveLength(3);
    for (const message of sent) await deliverBatch([message]);
    expect(await effects(eventId, userId)).toEqual({ eventLog: ["applied"], changes: ["user.created"] });
  });

  it("an unknown value stops ingest with 503 service_misconfigured and is named by /healthz", async () => {
    const { eventId, body } = userCreated("bad_mode");
    const { queue, sent } = capturingQueue();

    const response = await deliver(body, { EVENTS_QUEUE: queue, DEDUPE_KV: "sometimes" });
    const health = await callApp(new Request("https://sync.example.com/healthz"), { DEDUPE_KV: "sometimes" });

    expect(response.status).toBe(503);
    expect(response.body).toMatchObject({ error: "service_misconfigured" });
    expect(JSON.stringify(response.body)).not.toContain("sometimes");
    expect(sent).toHaveLength(0);
    expect(await effects(eventId, "user_bad_mode")).toEqual({ eventLog: [], changes: [] });
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ config: "invalid", invalid_settings: [{ setting: "DEDUPE_KV", problem: "invalid_value" }] });
  });
});
