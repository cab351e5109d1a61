import { env } from "cloudflare:test";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { providers } from "../../src/providers";
import { scalekit } from "../../src/providers/scalekit/adapter";
import type { ProviderAdapter } from "../../src/providers/types";
import { queueMessage } from "../../src/queue-message";
import { deliverBatch } from "../support/consumer";
import { scalekitEvent, scalekitUser } from "../support/scalekit";
import { signedHeaders, TEST_SECRET } from "../support/sign";
import { callApp, recordingQueue } from "../support/worker";

/**
 * Authentic deliveries that do not parse are kept (quarantined, 202) or recorded (rejected, 400),
 * and a quarantined one can be replayed after an adapter fix. Deliveries are signed with the
 * Standard Webhooks reference library, so the verifier under test is not checking its own output.
 */

const WEBHOOKS = "https://sync.example.com/webhooks";
const ADMIN = "https://sync.example.com/admin";
const adminAuth = { authorization: "Bearer test-admin-token" };
const reference = new Webhook(TEST_SECRET);
let sequence = 0;

function referenceSigned(provider: string, body: string, options: { id?: string; at?: Date } = {}) {
  const id = options.id ?? `msg_quarantine_${sequence++}`;
  const at = options.at ?? new Date();
  const signature = reference.sign(id, at, body);
  const headers = { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(Math.floor(at.getTime() / 1000)), "webhook-signature": signature };
  return new Request(`${WEBHOOKS}/${provider}`, { method: "POST", body, headers });
}

const admin = (path: string, init: RequestInit = {}, overrides: Partial<Env> = {}, options: Parameters<typeof callApp>[2] = {}) =>
  callApp(new Request(ADMIN + path, { ...init, headers: adminAuth }), overrides, options);

/** A queue that only remembers, so the test decides when the consumer runs. */
function capturingQueue() {
  const sent: unknown[] = [];
  const queue = {
    async send(body: unknown) {
      sent.push(body);
    },
    async sendBatch(messages: Iterable<MessageSendRequest>) {
      for (const message of messages) sent.push(message.body);
    },
  } as unknown as Queue;
  return { queue, sent };
}

const failingD1 = {
  prepare() {
    throw new Error("D1_ERROR: storage unavailable");
  },
  batch() {
    throw new Error("D1_ERROR: storage unavailable");
  },
} as unknown as D1Database;

interface Row {
  status: string;
  source_type: string;
  error: string | null;
  reason: string | null;
  received_at: number;
  delivery: string | null;
}
const rowOf = (provider: string, eventId: string) =>
  env.DB.prepare("SELECT status, source_type, error, reason, received_at, delivery FROM event_log WHERE provider = ? AND event_id = ?").bind(provider, eventId).first<Row>();
const rowCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM event_log").first<{ n: number }>())!.n;

/**
 * The adapter fix, as it would ship: Scalekit's zone-less `occurred_at` read as UTC, and a numeric
 * `id` read as its decimal string; everything else is the deployed adapter, unchanged.
 */
const fixedScalekit: ProviderAdapter = {
  ...scalekit,
  parse(delivery) {
    const body = delivery.body;
    if (typeof body !== "object" || body === null || Array.isArray(body)) return scalekit.parse(delivery);
    const fields = { ...(body as Record<string, unknown>) };
    if (typeof fields.occurred_at === "string" && !/(Z|[+-]\d\d:\d\d)$/.test(fields.occurred_at)) fields.occurred_at += "Z";
    if (typeof fields.id === "number") fields.id = String(fields.id);
    return scalekit.parse({ ...delivery, body: fields });
  },
};
const afterTheFix = { providers: new Map([...providers, ["scalekit", fixedScalekit]]) };

/** A correctly signed Scalekit user event whose `occurred_at` has no zone offset. */
async function quarantineLocalTime(eventId: string, userId: string) {
  const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: userId }), { id: eventId, occurred_at: "2026-01-01T00:00:00", timestamp: undefined }));
  const webhookId = `msg_${eventId}`;
  const { queue, sent } = recordingQueue();
  const response = await callApp(referenceSigned("scalekit", body, { id: webhookId }), { EVENTS_QUEUE: queue });
  return { body, webhookId, response, sent };
}

describe("quarantine: authentic JSON we cannot parse is kept and answered 2xx", () => {
  it("a signed Scalekit event with occurred_at lacking a zone offset: 202 quarantined, stored verbatim, nothing queued", async () => {
    const { body, webhookId, response, sent } = await quarantineLocalTime("evt_local_time", "user_local_time");
    expect(response.status).toBe(202);
    const answer = (await response.json()) as { status: string; provider: string; eventId: string; issues: string[] };
    expect(answer).toMatchObject({ status: "quarantined", provider: "scalekit", eventId: "evt_local_time" });
    expect(answer.issues).toEqual(["occurred_at: invalid_format"]);
    expect(sent).toEqual([]);

    const row = await rowOf("scalekit", "evt_local_time");
    expect(row).toMatchObject({ status: "quarantined", source_type: "organization.directory.user_created", error: "occurred_at: invalid_format" });
    // Paths and codes only: the offending value is not echoed into the log.
    expect(row!.error).not.toContain("2026-01-01");
    const delivery = JSON.parse(row!.delivery!) as { body: string; encoding: string; webhookId: string; signedAtMs: number; headers: object };
    expect(delivery).toEqual({ body, encoding: "utf-8", webhookId, signedAtMs: expect.any(Number), headers: {} });
    expect(delivery.signedAtMs % 1000).toBe(0);
  });

  it("operators list it by status and read its delivery (admin token)", async () => {
    const { body } = await quarantineLocalTime("evt_listed", "user_listed");
    const list = await admin("/events?status=quarantined&provider=scalekit");
    expect(list.status).toBe(200);
    const listed = ((await list.json()) as { events: { event_id: string; status: string; replayable: boolean }[] }).events;
    expect(listed).toContainEqual(expect.objectContaining({ event_id: "evt_listed", status: "quarantined", replayable: true }));
    const one = await admin("/events/scalekit/evt_listed");
    expect(await one.json()).toMatchObject({ status: "quarantined", error: "occurred_at: invalid_format", delivery: { body, encoding: "utf-8" } });
    expect((await callApp(new Request(`${ADMIN}/events/scalekit/evt_listed`))).status).toBe(401);
  });

  it("a redelivery of the same body: still 202, still one row, first receipt time kept", async () => {
    const first = await quarantineLocalTime("evt_redelivered", "user_redelivered");
    expect(first.response.status).toBe(202);
    const before = await rowOf("scalekit", "evt_redelivered");
    const rows = await rowCount();
    // The sender's retry: same webhook-id and body, a new timestamp and signature, a minute later.
    const later = new Date(Date.now() + 60_000);
    const retry = await callApp(referenceSigned("scalekit", first.body, { id: first.webhookId, at: later }), {}, { now: () => later.getTime() });
    expect(retry.status).toBe(202);
    expect(await retry.json()).toMatchObject({ status: "quarantined", eventId: "evt_redelivered" });
    expect(await rowCount()).toBe(rows);
    expect((await rowOf("scalekit", "evt_redelivered"))!.received_at).toBe(before!.received_at);
  });

  it("a Firstup event without a user id is quarantined under its webhook-id", async () => {
    const body = JSON.stringify({ event: "user.updated", timestamp: "2026-01-01T00:00:00Z", data: { changed_fields: ["email"] } });
    const response = await callApp(referenceSigned("firstup", body, { id: "msg_firstup_no_user" }));
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ status: "quarantined", provider: "firstup", eventId: "msg_firstup_no_user", issues: ["data.user_id: missing"] });
    expect(await rowOf("firstup", "msg_firstup_no_user")).toMatchObject({ status: "quarantined", source_type: "user.updated" });
  });

  it("JSON with no id anywhere and no webhook-id is keyed by the digest of its bytes, so retries land on one row", async () => {
    const body = JSON.stringify({ event: "user.updated", data: { changed_fields: ["email"] } });
    const digest = [...new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)))].map((b) => b.toString(16).padStart(2, "0")).join("");
    const headerMode = { FIRSTUP_WEBHOOK_SECRET: "", FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer firstup-subscription" } as Partial<Env>;
    for (let attempt = 0; attempt < 2; attempt++) {
      const request = new Request(`${WEBHOOKS}/firstup`, { method: "POST", body, headers: { authorization: "Bearer firstup-subscription" } });
      const response = await callApp(request, headerMode);
      expect(response.status).toBe(202);
      expect(await response.json()).toMatchObject({ status: "quarantined", eventId: `sha256:${digest}` });
    }
    const rows = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE event_id = ?").bind(`sha256:${digest}`).first<{ n: number }>();
    expect(rows!.n).toBe(1);
  });

  it("never downgrades an event already applied under the same id: 200 duplicate, row untouched", async () => {
    const good = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: "user_applied_first" }), { id: "evt_applied_first" }));
    const { queue, sent } = capturingQueue();
    expect((await callApp(referenceSigned("scalekit", good), { EVENTS_QUEUE: queue })).status).toBe(202);
    await deliverBatch(sent);
    expect(await rowOf("scalekit", "evt_applied_first")).toMatchObject({ status: "applied" });

    const bad = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: "user_applied_first" }), { id: "evt_applied_first", occurred_at: "2026-01-01T00:00:00" }));
    const response = await callApp(referenceSigned("scalekit", bad));
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: "duplicate", eventId: "evt_applied_first" });
    expect(await rowOf("scalekit", "evt_applied_first")).toMatchObject({ status: "applied", delivery: null, error: null });
  });

  it("answers 503 quarantine_unavailable with Retry-After when D1 cannot store it; the sender's retry is kept", async () => {
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: "user_d1_down" }), { id: "evt_d1_down", occurred_at: "2026-01-01T00:00:00" }));
    const { queue, sent } = recordingQueue();
    const response = await callApp(referenceSigned("scalekit", body, { id: "msg_d1_down" }), { DB: failingD1, EVENTS_QUEUE: queue });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBeTruthy();
    expect(await response.json()).toMatchObject({ error: "quarantine_unavailable" });
    expect(sent).toEqual([]);
    expect(await rowOf("scalekit", "evt_d1_down")).toBeNull();

    const retry = await callApp(referenceSigned("scalekit", body, { id: "msg_d1_down" }));
    expect(retry.status).toBe(202);
    expect(await rowOf("scalekit", "evt_d1_down")).toMatchObject({ status: "quarantined" });
  });

  it("an event too large for a queue message is quarantined as message_too_large, never a 503 loop", async () => {
    // An adapter version whose events carry large attributes (no shipped adapter produces one today).
    const attributes = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`attr_${i}`, "é".repeat(1024)]));
    const bloated: ProviderAdapter = {
      ...scalekit,
      parse(delivery) {
        const result = scalekit.parse(delivery);
        return result.outcome === "event" && result.event.kind === "user_upserted" ? { outcome: "event", event: { ...result.event, user: { ...result.event.user, attributes } } } : result;
      },
    };
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: "user_too_large" }), { id: "evt_too_large" }));
    const { queue, sent } = recordingQueue();
    const response = await callApp(referenceSigned("scalekit", body), { EVENTS_QUEUE: queue }, { providers: new Map([["scalekit", bloated]]) });
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ status: "quarantined", eventId: "evt_too_large", issues: ["message_too_large"] });
    expect(sent).toEqual([]);
    expect(await rowOf("scalekit", "evt_too_large")).toMatchObject({ status: "quarantined", error: "message_too_large", source_type: "organization.directory.user_created" });
  });
});

describe("rejected: authentic bodies that are not UTF-8 JSON stay 400, and are recorded", () => {
  it("records invalid UTF-8 as base64 of the exact bytes, under the webhook-id", async () => {
    const bytes = new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]);
    // The reference library signs payloads as strings, so these raw bytes are signed by our helper.
    const response = await callApp(new Request(`${WEBHOOKS}/scalekit`, { method: "POST", body: bytes, headers: await signedHeaders(bytes, { id: "msg_not_utf8" }) }));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_json" });
    const row = await rowOf("scalekit", "msg_not_utf8");
    expect(row).toMatchObject({ status: "rejected", error: "invalid_json", source_type: "unknown" });
    const delivery = JSON.parse(row!.delivery!) as { body: string; encoding: string };
    expect(delivery.encoding).toBe("base64");
    expect(Uint8Array.from(atob(delivery.body), (c) => c.charCodeAt(0))).toEqual(bytes);
  });

  it("records UTF-8 text that is not JSON as text; replaying it says still_invalid", async () => {
    const response = await callApp(referenceSigned("scalekit", "definitely { not json", { id: "msg_not_json" }));
    expect(response.status).toBe(400);
    expect(JSON.parse((await rowOf("scalekit", "msg_not_json"))!.delivery!)).toMatchObject({ body: "definitely { not json", encoding: "utf-8" });
    const replay = await admin("/events/scalekit/msg_not_json/replay", { method: "POST" }, {}, afterTheFix);
    expect(replay.status).toBe(422);
    expect(await replay.json()).toMatchObject({ error: "still_invalid", issues: ["(body): invalid_json"] });
  });

  it("still answers 400 when D1 cannot record it (best effort: the sender keeps its copy)", async () => {
    const response = await callApp(referenceSigned("scalekit", "not json", { id: "msg_rejected_d1_down" }), { DB: failingD1 });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: "invalid_json" });
  });

  it("never stores what is not authenticated: unsigned or wrongly signed junk is 401 and leaves no row", async () => {
    const before = await rowCount();
    const unsigned = await callApp(new Request(`${WEBHOOKS}/scalekit`, { method: "POST", body: "junk junk junk" }));
    expect(unsigned.status).toBe(401);
    const wrongKey = await callApp(
      new Request(`${WEBHOOKS}/scalekit`, { method: "POST", body: "{\"id\":1}", headers: await signedHeaders("{\"id\":1}", { secret: "whsec_d3Jvbmctc2VjcmV0LWZvci10ZXN0aW5nLW9ubHk=" }) }),
    );
    expect(wrongKey.status).toBe(401);
    expect(await rowCount()).toBe(before);
  });
});

describe("replay of a quarantined delivery after an adapter fix", () => {
  it("with the adapter deployed now it is still invalid: 422 still_invalid, row kept", async () => {
    await quarantineLocalTime("evt_not_fixed_yet", "user_not_fixed_yet");
    const { queue, sent } = capturingQueue();
    const replay = await admin("/events/scalekit/evt_not_fixed_yet/replay", { method: "POST" }, { EVENTS_QUEUE: queue });
    expect(replay.status).toBe(422);
    expect(await replay.json()).toMatchObject({ error: "still_invalid", issues: ["occurred_at: invalid_format"] });
    expect(sent).toEqual([]);
    expect(await rowOf("scalekit", "evt_not_fixed_yet")).toMatchObject({ status: "quarantined" });
  });

  it("with the fixed adapter it is re-parsed from the stored bytes, enqueued as ingress would, and applied by the consumer", async () => {
    await quarantineLocalTime("evt_fixed", "user_fixed");
    const quarantined = await rowOf("scalekit", "evt_fixed");
    const { queue, sent } = capturingQueue();
    const replay = await admin("/events/scalekit/evt_fixed/replay", { method: "POST" }, { EVENTS_QUEUE: queue }, afterTheFix);
    expect(replay.status).toBe(202);
    expect(await replay.json()).toEqual({ replayed: true, provider: "scalekit", event_id: "evt_fixed", outcome: "event", enqueued_event_ids: ["evt_fixed"] });
    expect(sent).toHaveLength(1);
    const message = queueMessage.parse(sent[0]);
    expect(message).toMatchObject({
      kind: "event",
      receivedAt: quarantined!.received_at,
      event: { eventId: "evt_fixed", occurredAt: Date.parse("2026-01-01T00:00:00Z"), kind: "user_upserted", user: { externalId: "user_fixed" } },
    });
    // Left for the consumer, whose outcome overwrites the quarantined row.
    expect(await rowOf("scalekit", "evt_fixed")).toMatchObject({ status: "quarantined" });
    await deliverBatch(sent);
    expect(await rowOf("scalekit", "evt_fixed")).toMatchObject({ status: "applied", error: null });
    const user = await env.DB.prepare("SELECT email FROM users WHERE provider = 'scalekit' AND external_id = 'user_fixed'").first();
    expect(user).toEqual({ email: "john@company.com" });
  });

  it("when the fix derives another event id, the quarantined row is closed as ignored, replayed_as the new id", async () => {
    const body = JSON.stringify(scalekitEvent("user_created", scalekitUser({ id: "user_numeric_id" }), { id: 12345 }));
    const quarantined = await callApp(referenceSigned("scalekit", body, { id: "msg_numeric_id" }));
    expect(await quarantined.json()).toMatchObject({ status: "quarantined", eventId: "msg_numeric_id" });

    const { queue, sent } = capturingQueue();
    const replay = await admin("/events/scalekit/msg_numeric_id/replay", { method: "POST" }, { EVENTS_QUEUE: queue }, afterTheFix);
    expect(replay.status).toBe(202);
    expect(await replay.json()).toMatchObject({ replayed: true, event_id: "msg_numeric_id", enqueued_event_ids: ["12345"] });
    expect(await rowOf("scalekit", "msg_numeric_id")).toMatchObject({ status: "ignored", reason: "replayed_as:12345" });
    await deliverBatch(sent);
    expect(await rowOf("scalekit", "12345")).toMatchObject({ status: "applied" });
    const listed = await admin("/events?status=quarantined&provider=scalekit");
    expect(((await listed.json()) as { events: { event_id: string }[] }).events.map((e) => e.event_id)).not.toContain("msg_numeric_id");
    // Closed: a second replay is refused rather than enqueued again.
    expect((await admin("/events/scalekit/msg_numeric_id/replay", { method: "POST" }, { EVENTS_QUEUE: queue }, afterTheFix)).status).toBe(409);
  });

  it("answers 503 queue_unavailable when the Queue refuses the replay, and leaves the row quarantined", async () => {
    await quarantineLocalTime("evt_replay_queue_down", "user_replay_queue_down");
    const refusing = { async send() { throw new Error("Queue send failed"); }, async sendBatch() { throw new Error("Queue send failed"); } } as unknown as Queue;
    const replay = await admin("/events/scalekit/evt_replay_queue_down/replay", { method: "POST" }, { EVENTS_QUEUE: refusing }, afterTheFix);
    expect(replay.status).toBe(503);
    expect(await replay.json()).toMatchObject({ error: "queue_unavailable" });
    expect(await rowOf("scalekit", "evt_replay_queue_down")).toMatchObject({ status: "quarantined" });
  });
});
