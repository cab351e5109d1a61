import { describe, expect, it } from "vitest";
import { firstup } from "../../../src/providers/firstup/adapter";

const delivery = (body: unknown, options: { webhookId?: string | null; headers?: Record<string, string>; raw?: string } = {}) => {
  const raw = options.raw ?? JSON.stringify(body);
  return {
    body,
    rawBody: new TextEncoder().encode(raw),
    headers: new Headers(options.headers ?? {}),
    webhookId: options.webhookId ?? null,
    signedAtMs: null,
    receivedAtMs: 1_700_000_000_000,
  };
};

// The payloads from Firstup's user-sync guide (shared/seeds).
const updated = { event: "user.updated", timestamp: "2025-11-10T15:42:30Z", data: { user_id: "u_987", changed_fields: ["email", "role"] } };
const deactivated = { event: "user.deactivated", timestamp: "2025-11-11T08:00:00Z", data: { user_id: "u_654" } };

describe("firstup adapter", () => {
  it("maps user.updated to a refresh of that user, timed by the payload", () => {
    expect(firstup.parse(delivery(updated, { webhookId: "msg_1" }))).toEqual({
      outcome: "event",
      event: { provider: "firstup", eventId: "msg_1", occurredAt: Date.parse("2025-11-10T15:42:30Z"), sourceType: "user.updated", kind: "user_refresh", externalId: "u_987", reason: "updated", signed: true },
    });
  });

  it("maps user.deactivated to a refresh that expects an inactive record", () => {
    expect(firstup.parse(delivery(deactivated, { webhookId: "msg_2" }))).toMatchObject({ event: { kind: "user_refresh", externalId: "u_654", reason: "deactivated" } });
  });

  it("maps a signed user.deleted to a refresh that expects the user gone, never to an erasure on its own word", () => {
    expect(firstup.parse(delivery({ event: "user.deleted", data: { user_id: "u_1" } }, { webhookId: "msg_3" }))).toMatchObject({
      event: { kind: "user_refresh", reason: "deleted", signed: true, externalId: "u_1", occurredAt: 1_700_000_000_000 },
    });
  });

  it("marks header-mode events unsigned (no webhook-id), so a deletion needs two upstream reads", () => {
    expect(firstup.parse(delivery({ event: "user.deleted", data: { user_id: "u_1" } }, { webhookId: null }))).toMatchObject({
      event: { kind: "user_refresh", reason: "deleted", signed: false },
    });
  });

  it("accepts the userId spelling some Firstup docs use", () => {
    expect(firstup.parse(delivery({ event: "user.updated", data: { userId: "u_2" } }, { webhookId: "m" }))).toMatchObject({ event: { externalId: "u_2" } });
  });

  it("takes the idempotency key from the body id, else webhook-id, else X-SocialChorus-Delivery, else the body digest", () => {
    const idOf = (result: ReturnType<typeof firstup.parse>) => (result.outcome === "event" ? result.event.eventId : null);
    expect(idOf(firstup.parse(delivery({ ...updated, id: "evt_body" }, { webhookId: "msg_h", headers: { "x-socialchorus-delivery": "d_1" } })))).toBe("evt_body");
    expect(idOf(firstup.parse(delivery(updated, { webhookId: "msg_h", headers: { "x-socialchorus-delivery": "d_1" } })))).toBe("msg_h");
    expect(idOf(firstup.parse(delivery(updated, { headers: { "x-socialchorus-delivery": "d_1" } })))).toBe("d_1");
    const digest = idOf(firstup.parse(delivery(updated)));
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(idOf(firstup.parse(delivery(updated)))).toBe(digest);
    expect(idOf(firstup.parse(delivery(deactivated)))).not.toBe(digest);
  });

  it("ignores other events, and rejects envelopes without an event name or user id", () => {
    expect(firstup.parse(delivery({ event: "post.published", data: {} }, { webhookId: "m" }))).toMatchObject({ outcome: "ignored", reason: "unsupported_event_type" });
    expect(firstup.parse(delivery({ data: { user_id: "u" } }, { webhookId: "m" }))).toMatchObject({ outcome: "invalid" });
    expect(firstup.parse(delivery({ event: "user.updated", data: {} }, { webhookId: "m" }))).toMatchObject({ outcome: "invalid" });
    expect(firstup.parse(delivery("nope", { webhookId: "m" }))).toMatchObject({ outcome: "invalid" });
  });
});
