import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { callApp, recordingQueue } from "../support/worker";

/**
 * Quarantine stores authentic bodies on the request path. In Firstup's header mode "authentic"
 * means "sent by someone who knows the header value", so what a sender can make us store is bounded,
 * cannot replace what is stored, and is reachable by erasure.
 */
const URL_FIRSTUP = "https://sync.example.com/webhooks/firstup";
const HEADER_MODE = { FIRSTUP_WEBHOOK_SECRET: "", FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer firstup-subscription-token" };
const post = (body: string, deliveryId: string) =>
  callApp(
    new Request(URL_FIRSTUP, { method: "POST", body, headers: { authorization: "Bearer firstup-subscription-token", "x-socialchorus-delivery": deliveryId } }),
    { ...HEADER_MODE, EVENTS_QUEUE: recordingQueue().queue },
  );
const stored = (eventId: string) =>
  env.DB.prepare("SELECT status, subject, delivery FROM event_log WHERE provider = 'firstup' AND event_id = ?").bind(eventId).first<{ status: string; subject: string | null; delivery: string }>();

describe("quarantine in Firstup header mode", () => {
  it("a header-mode body over 16 KiB is refused (413) and not stored", async () => {
    const big = JSON.stringify({ event: "user.updated", data: { user_id: 42, padding: "x".repeat(20_000) } });
    expect((await post(big, "dlv_big")).status).toBe(413);
    expect(await stored("dlv_big")).toBeNull();
  });

  it("stores an unparseable event with the user it names as its subject, so erasure can find it", async () => {
    const body = JSON.stringify({ event: "user.updated", timestamp: "not a time", data: { user_id: "u_named" } });
    expect((await post(body, "dlv_subject")).status).toBe(202);
    expect(await stored("dlv_subject")).toMatchObject({ status: "quarantined", subject: "u_named" });
  });

  it("a redelivery under a known id cannot replace the stored body", async () => {
    const original = JSON.stringify({ event: "user.updated", timestamp: "not a time", data: { user_id: "u_orig" } });
    const forged = JSON.stringify({ event: "user.updated", timestamp: "still not", data: { user_id: "u_forged", note: "replaced" } });
    expect((await post(original, "dlv_same")).status).toBe(202);
    expect((await post(forged, "dlv_same")).status).toBe(202);
    const row = await stored("dlv_same");
    expect(row?.delivery).toContain("u_orig");
    expect(row?.delivery).not.toContain("u_forged");
    expect(row?.subject).toBe("u_orig");
  });
});
