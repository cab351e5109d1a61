import { describe, expect, it } from "vitest";
import { queueMessage } from "../../src/queue-message";
import { signedHeaders } from "../support/sign";
import { callApp, recordingQueue } from "../support/worker";

const URL_FIRSTUP = "https://sync.example.com/webhooks/firstup";
const body = JSON.stringify({ event: "user.updated", timestamp: "2025-11-10T15:42:30Z", data: { user_id: "u_987", changed_fields: ["email"] } });
const HEADER_MODE = { FIRSTUP_WEBHOOK_SECRET: "", FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer firstup-subscription-token" };

describe("POST /webhooks/firstup", () => {
  it("accepts a Standard Webhooks signed delivery and queues a refresh (no upstream call on the request path)", async () => {
    const { queue, sent } = recordingQueue();
    const response = await callApp(new Request(URL_FIRSTUP, { method: "POST", body, headers: await signedHeaders(body, { id: "msg_fu_1" }) }), {
      EVENTS_QUEUE: queue,
      FIRSTUP_SCIM_URL: "http://127.0.0.1:1/unreachable",
    });
    expect(response.status).toBe(202);
    expect(queueMessage.parse(sent[0])).toMatchObject({ event: { kind: "user_refresh", externalId: "u_987", eventId: "msg_fu_1" } });
  });

  it("accepts the exact configured Authorization header when no signing secret is set", async () => {
    const { queue, sent } = recordingQueue();
    const request = new Request(URL_FIRSTUP, {
      method: "POST",
      body,
      headers: { authorization: "Bearer firstup-subscription-token", "x-socialchorus-delivery": "dlv_42" },
    });
    const response = await callApp(request, { ...HEADER_MODE, EVENTS_QUEUE: queue });
    expect(response.status).toBe(202);
    expect(queueMessage.parse(sent[0])).toMatchObject({ event: { eventId: "dlv_42" } });
  });

  it.each([
    ["a missing header", {}, "missing_authorization"],
    ["a different token", { authorization: "Bearer firstup-subscription-tokeN" }, "invalid_authorization"],
    ["a prefix of the token", { authorization: "Bearer firstup" }, "invalid_authorization"],
    ["a Standard Webhooks signature instead", { "webhook-id": "x", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA" }, "missing_authorization"],
  ])("rejects %s with 401 in header mode", async (_label, headers, code) => {
    const { queue, sent } = recordingQueue();
    const response = await callApp(new Request(URL_FIRSTUP, { method: "POST", body, headers }), { ...HEADER_MODE, EVENTS_QUEUE: queue });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({ error: code });
    expect(sent).toHaveLength(0);
  });

  it("accepts several Authorization values for rotation, and rejects a value once it is removed", async () => {
    const rotating = { FIRSTUP_WEBHOOK_SECRET: "", FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer old-token,\nBearer new-token" };
    for (const [token, status] of [["Bearer old-token", 202], ["Bearer new-token", 202], ["Bearer other", 401]] as const) {
      const { queue } = recordingQueue();
      const request = new Request(URL_FIRSTUP, { method: "POST", body, headers: { authorization: token, "x-socialchorus-delivery": `dlv_rotation_${token.replace(/\W/g, "")}` } });
      expect((await callApp(request, { ...rotating, EVENTS_QUEUE: queue })).status).toBe(status);
    }
    const { queue } = recordingQueue();
    const retired = new Request(URL_FIRSTUP, { method: "POST", body, headers: { authorization: "Bearer old-token", "x-socialchorus-delivery": "dlv_retired" } });
    const response = await callApp(retired, { FIRSTUP_WEBHOOK_SECRET: "", FIRSTUP_WEBHOOK_AUTHORIZATION: "Bearer new-token", EVENTS_QUEUE: queue });
    expect(response.status).toBe(401);
  });

  it("a header-mode user.deleted is queued as a refresh that must be confirmed upstream, never as an erasure", async () => {
    const { queue, sent } = recordingQueue();
    const deleted = JSON.stringify({ event: "user.deleted", timestamp: "2025-11-10T15:42:30Z", data: { user_id: "u_987" } });
    const request = new Request(URL_FIRSTUP, { method: "POST", body: deleted, headers: { authorization: "Bearer firstup-subscription-token", "x-socialchorus-delivery": "dlv_del" } });
    expect((await callApp(request, { ...HEADER_MODE, EVENTS_QUEUE: queue })).status).toBe(202);
    expect(queueMessage.parse(sent[0])).toMatchObject({ event: { kind: "user_refresh", reason: "deleted", signed: false } });
  });

  it("is off (404) when neither a secret nor an Authorization value is configured", async () => {
    const response = await callApp(new Request(URL_FIRSTUP, { method: "POST", body, headers: { authorization: "Bearer x" } }), {
      FIRSTUP_WEBHOOK_SECRET: "",
      FIRSTUP_WEBHOOK_AUTHORIZATION: " ",
    });
    expect(response.status).toBe(404);
  });

  it("dedupes header-mode deliveries by X-SocialChorus-Delivery", async () => {
    const { queue, sent } = recordingQueue();
    const send = () =>
      callApp(new Request(URL_FIRSTUP, { method: "POST", body, headers: { authorization: "Bearer firstup-subscription-token", "x-socialchorus-delivery": "dlv_dup" } }), {
        ...HEADER_MODE,
        EVENTS_QUEUE: queue,
      });
    expect((await send()).status).toBe(202);
    expect((await send()).status).toBe(200);
    expect(sent).toHaveLength(1);
  });
});
