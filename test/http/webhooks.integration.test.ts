import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { QUEUE_MESSAGE_VERSION, queueMessage } from "../../src/queue-message";
import { ROTATED_OUT_SECRET, signedHeaders } from "../support/sign";
import { scalekitEvent, scalekitUser } from "../support/scalekit";
import { callApp, failingQueue, recordingQueue } from "../support/worker";
import { deliverBatch } from "../support/consumer";

const URL_SCALEKIT = "https://sync.example.com/webhooks/scalekit";

async function signedRequest(body: string, options: Parameters<typeof signedHeaders>[1] = {}, extraHeaders: Record<string, string> = {}) {
  return new Request(URL_SCALEKIT, { method: "POST", body, headers: { ...(await signedHeaders(body, options)), ...extraHeaders } });
}

describe("POST /webhooks/:provider", () => {
  it("accepts a signed event through the deployed entry point: 202 with the event id", async () => {
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser(), { id: "evt_entry_point" }));
    const response = await exports.default.fetch(await signedRequest(body));
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ status: "accepted", provider: "scalekit", eventId: "evt_entry_point" });
  });

  it("enqueues exactly one normalized, schema-valid message", async () => {
    const { queue, sent } = recordingQueue();
    const body = JSON.stringify(scalekitEvent("user_updated", scalekitUser({ given_name: "Jo" }), { id: "evt_enqueue" }));
    const response = await callApp(await signedRequest(body), { EVENTS_QUEUE: queue });
    expect(response.status).toBe(202);
    expect(sent).toHaveLength(1);
    const message = queueMessage.parse(sent[0]);
    expect(message).toMatchObject({ kind: "event", event: { eventId: "evt_enqueue", kind: "user_upserted", user: { firstName: "Jo" } } });
  });

  it("accepts a delivery signed with any secret in the rotation list", async () => {
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser(), { id: "evt_rotated" }));
    const response = await callApp(await signedRequest(body, { secret: ROTATED_OUT_SECRET }));
    expect(response.status).toBe(202);
  });

  it("with DEDUPE_KV kv, answers a delivery it has already seen with 200 duplicate, and does not enqueue it again", async () => {
    const { queue, sent } = recordingQueue();
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser(), { id: "evt_twice" }));
    const first = await callApp(await signedRequest(body), { EVENTS_QUEUE: queue, DEDUPE_KV: "kv" });
    // A provider retry: same event, new delivery attempt (new timestamp and signature).
    const second = await callApp(await signedRequest(body), { EVENTS_QUEUE: queue, DEDUPE_KV: "kv" });
    expect(first.status).toBe(202);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({ status: "duplicate", provider: "scalekit", eventId: "evt_twice" });
    expect(sent).toHaveLength(1);
    expect(await env.SEEN_EVENTS.get("seen:scalekit:evt_twice")).toBe("1");
  });

  it("with DEDUPE_KV off, a retried delivery is queued again and D1 alone keeps its effect single", async () => {
    const { queue, sent } = recordingQueue(failingQueue);
    const capture = { ...queue, send: async (body: unknown) => void sent.push(body) } as unknown as Queue;
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: "kv_off_user" }), { id: "evt_kv_off" }));
    for (let i = 0; i < 2; i++) expect((await callApp(await signedRequest(body), { EVENTS_QUEUE: capture, DEDUPE_KV: "off" })).status).toBe(202);
    expect(sent).toHaveLength(2);
    expect(await env.SEEN_EVENTS.get("seen:scalekit:evt_kv_off")).toBeNull();
    await deliverBatch([sent[0]]);
    await deliverBatch([sent[1]]);
    const processed = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE status = 'applied' AND event_id = 'evt_kv_off'").first<{ n: number }>();
    expect(processed?.n).toBe(1);
  });

  it("records an unknown but well-formed event type as ignored: 202, queued for the event log", async () => {
    const { queue, sent } = recordingQueue();
    const body = JSON.stringify({ id: "evt_unknown", type: "organization.directory.directory_enabled", data: { id: "dir_1" } });
    const response = await callApp(await signedRequest(body), { EVENTS_QUEUE: queue });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ status: "ignored", provider: "scalekit", eventId: "evt_unknown", reason: "unsupported_event_type" });
    expect(queueMessage.parse(sent[0])).toMatchObject({ kind: "ignored", eventId: "evt_unknown", reason: "unsupported_event_type" });
  });

  describe("401 for anything not provably from the provider", () => {
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ email: "mallory@evil.example" })));

    it.each([
      ["no signature headers", async () => new Request(URL_SCALEKIT, { method: "POST", body }), "missing_signature_headers"],
      ["a wrong secret", async () => signedRequest(body, { secret: "whsec_d3Jvbmctc2VjcmV0LWZvci10ZXN0aW5nLW9ubHk=" }), "invalid_signature"],
      ["an expired timestamp", async () => signedRequest(body, { timestamp: Math.floor(Date.now() / 1000) - 301 }), "timestamp_outside_tolerance"],
      ["a future timestamp", async () => signedRequest(body, { timestamp: Math.floor(Date.now() / 1000) + 301 }), "timestamp_outside_tolerance"],
      ["a non-integer timestamp", async () => signedRequest(body, {}, { "webhook-timestamp": "0123" }), "invalid_timestamp"],
      ["malformed base64", async () => signedRequest(body, {}, { "webhook-signature": "v1,%%%%" }), "invalid_signature"],
      ["a body changed after signing", async () => {
        const request = await signedRequest(body);
        return new Request(request, { body: body.replace("mallory", "admin") });
      }, "invalid_signature"],
    ])("rejects %s", async (_label, build, code) => {
      const { queue, sent } = recordingQueue();
      const response = await callApp(await build(), { EVENTS_QUEUE: queue });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: code });
      expect(sent).toHaveLength(0);
    });

    it("replays of a captured delivery fail once the tolerance window has passed (injected clock)", async () => {
      const request = await signedRequest(body);
      const sixMinutesLater = () => Date.now() + 6 * 60 * 1000;
      const response = await callApp(request, {}, { now: sixMinutesLater });
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: "timestamp_outside_tolerance" });
    });
  });

  describe("authentic bodies we cannot use: 400 and recorded when not JSON, 202 quarantined when JSON we cannot parse", () => {
    it.each([
      ["not JSON", "this is not json"],
      ["invalid UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d])],
    ])("rejects %s with 400 invalid_json, and records it as rejected", async (_label, body) => {
      const { queue, sent } = recordingQueue();
      const headers = await signedHeaders(body);
      const response = await callApp(new Request(URL_SCALEKIT, { method: "POST", body, headers }), { EVENTS_QUEUE: queue });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: "invalid_json" });
      expect(sent).toHaveLength(0);
      const row = await env.DB.prepare("SELECT status, error FROM event_log WHERE provider = 'scalekit' AND event_id = ?").bind(headers["webhook-id"]).first();
      expect(row).toEqual({ status: "rejected", error: "invalid_json" });
    });

    it.each([
      ["JSON that is not an envelope", JSON.stringify({ hello: "world" })],
      ["a user event without a user id", JSON.stringify(scalekitEvent("user_created", { email: "a@b.c" }))],
    ])("quarantines %s: 202, issues by path, nothing queued", async (_label, body) => {
      const { queue, sent } = recordingQueue();
      const response = await callApp(new Request(URL_SCALEKIT, { method: "POST", body, headers: await signedHeaders(body) }), { EVENTS_QUEUE: queue });
      expect(response.status).toBe(202);
      const json = (await response.json()) as { status: string; issues: string[] };
      expect(json.status).toBe("quarantined");
      expect(json.issues.length).toBeGreaterThan(0);
      expect(JSON.stringify(json)).not.toContain("a@b.c");
      expect(sent).toHaveLength(0);
    });

    it("rejects a webhook-id that is not 1-256 printable ASCII characters", async () => {
      const body = JSON.stringify(scalekitEvent("user_created", scalekitUser()));
      const response = await callApp(await signedRequest(body, { id: "msg with spaces" }));
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: "invalid_webhook_id" });
      // Authentic, so recorded, under a digest of the body (the id itself is unusable).
      const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)))].map((b) => b.toString(16).padStart(2, "0")).join("");
      const row = await env.DB.prepare("SELECT status, error FROM event_log WHERE provider = 'scalekit' AND event_id = ?").bind(`sha256:${digest}`).first();
      expect(row).toEqual({ status: "rejected", error: "invalid_webhook_id" });
    });
  });

  it("splits a membership event over 128 KB in UTF-8 (non-ASCII ids) into parts the real Queue accepts", async () => {
    const members = Array.from({ length: 2000 }, (_, i) => `${"用户".repeat(17)}${String(i).padStart(6, "0")}`);
    const event = scalekitEvent("group_membership_updated", { group_id: "group_cjk", added_members: members }, { id: "evt_cjk_members" });
    // The whole event is under 100 K UTF-16 units but far over the Queue's 128 KB in bytes.
    const whole = { v: QUEUE_MESSAGE_VERSION, kind: "event", receivedAt: Date.now(), event: { provider: "scalekit", eventId: "x", occurredAt: 1, sourceType: "t", kind: "group_members_changed", groupExternalId: "group_cjk", added: members, removed: [] } };
    expect(JSON.stringify(whole).length).toBeLessThan(100 * 1024);
    await expect(env.EVENTS_QUEUE.send(whole, { contentType: "json" })).rejects.toThrow();

    const { queue, sent } = recordingQueue();
    const response = await callApp(await signedRequest(JSON.stringify(event)), { EVENTS_QUEUE: queue });
    expect(response.status).toBe(202);
    expect(sent.length).toBeGreaterThan(1);
    const added = sent.flatMap((body) => {
      const message = queueMessage.parse(body);
      return message.kind === "event" && message.event.kind === "group_members_changed" ? message.event.added : [];
    });
    expect(added.sort()).toEqual([...members].sort());
  });

  describe("413 for bodies over the cap", () => {
    it("rejects on Content-Length without reading the body", async () => {
      let pulled = 0;
      const stream = new ReadableStream({
        pull(controller) {
          pulled++;
          controller.enqueue(new Uint8Array(1024));
        },
      });
      const request = new Request(URL_SCALEKIT, {
        method: "POST",
        body: stream,
        headers: { "content-length": String(2 * 1024 * 1024), ...(await signedHeaders("{}")) },
        duplex: "half",
      } as RequestInit);
      const response = await callApp(request);
      expect(response.status).toBe(413);
      expect(await response.json()).toMatchObject({ error: "payload_too_large" });
      expect(pulled).toBeLessThanOrEqual(1);
    });

    it("rejects a streamed body as soon as it passes the cap", async () => {
      let sentBytes = 0;
      const stream = new ReadableStream({
        pull(controller) {
          sentBytes += 64 * 1024;
          if (sentBytes > 8 * 1024 * 1024) controller.close();
          else controller.enqueue(new Uint8Array(64 * 1024));
        },
      });
      const request = new Request(URL_SCALEKIT, {
        method: "POST",
        body: stream,
        headers: await signedHeaders("{}"),
        duplex: "half",
      } as RequestInit);
      const response = await callApp(request);
      expect(response.status).toBe(413);
      expect(sentBytes).toBeLessThan(2 * 1024 * 1024);
    });

    it("accepts a body just under a configured cap", async () => {
      const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ email: "x".repeat(900) })));
      const response = await callApp(await signedRequest(body), { MAX_BODY_BYTES: String(body.length) as Env["MAX_BODY_BYTES"] });
      expect(response.status).toBe(202);
    });
  });

  it("answers 503 queue_unavailable when the Queue refuses the message, and does not mark it seen", async () => {
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser(), { id: "evt_queue_down" }));
    const response = await callApp(await signedRequest(body), { EVENTS_QUEUE: failingQueue });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBeTruthy();
    expect(await response.json()).toMatchObject({ error: "queue_unavailable" });
    expect(await env.SEEN_EVENTS.get("seen:scalekit:evt_queue_down")).toBeNull();
    // The provider's retry, once the queue is back, is accepted rather than treated as a duplicate.
    expect((await callApp(await signedRequest(body))).status).toBe(202);
  });

  it("is 404 for a provider without a configured secret, and for unknown providers", async () => {
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser()));
    const unconfigured = await callApp(await signedRequest(body), { SCALEKIT_WEBHOOK_SECRET: "" });
    expect(unconfigured.status).toBe(404);
    expect(await unconfigured.json()).toMatchObject({ error: "provider_not_found" });
    const unknown = await callApp(new Request("https://sync.example.com/webhooks/okta", { method: "POST", body }));
    expect(unknown.status).toBe(404);
  });

  it("answers 503 provider_misconfigured, without echoing the secret, when the configured secret is not base64", async () => {
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser()));
    const response = await callApp(await signedRequest(body), { SCALEKIT_WEBHOOK_SECRET: "whsec_not*base64*secret" });
    expect(response.status).toBe(503);
    const text = await response.text();
    expect(text).toContain("provider_misconfigured");
    expect(text).not.toContain("not*base64*secret");
  });

  it("answers other methods with 405 and an Allow header, never 3xx", async () => {
    for (const method of ["GET", "PUT", "DELETE", "PATCH"]) {
      const response = await callApp(new Request(URL_SCALEKIT, { method }));
      expect(response.status).toBe(405);
      expect(response.headers.get("allow")).toBe("POST");
    }
  });
});
