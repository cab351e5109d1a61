import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { encodeBase64 } from "../../src/verify/base64";
import { deliverBatch } from "../support/consumer";
import { eventMessage, events } from "../support/directory";
import { appReceiver, capturingQueue, changeRows, clearFeed, deliveryRows, drainNotifications, runNotificationBatch } from "../support/notify";
import { callApp } from "../support/worker";

/**
 * Outbound notifications end to end: real events applied by the consumer fill the change feed
 * (SQLite triggers), the relay queues them, the notifications consumer POSTs them to a real HTTP
 * receiver that verifies each signature with the reference library (v1) or node:crypto (v1a).
 */

const V1_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
// RFC 8032 §7.1 TEST 1 seed and its public key.
const hex = (text: string) => new Uint8Array(text.match(/../g)!.map((byte) => parseInt(byte, 16)));
const V1A_SECRET = `whsk_${encodeBase64(hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"))}`;
const V1A_PUBLIC = `whpk_${encodeBase64(hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"))}`;
const ADMIN = { authorization: "Bearer test-admin-token" };

let captured: ReturnType<typeof capturingQueue>;
let clock = Date.now();
const at = () => (clock += 1000);

function setup(tenant: string, secret = V1_SECRET) {
  const receiver = appReceiver(tenant);
  const overrides = { APP_WEBHOOK_URL: receiver.hookUrl, APP_WEBHOOK_SECRET: secret, NOTIFY_QUEUE: captured.queue };
  const testEnv = { ...env, ...overrides } as Env;
  return {
    receiver,
    testEnv,
    overrides,
    apply: (...list: Parameters<typeof eventMessage>[0][]) => deliverBatch(list.map((event) => eventMessage(event)), { env: testEnv }),
    drain: () => drainNotifications(testEnv, captured),
    admin: (path: string, init: RequestInit = {}) => callApp(new Request(`https://sync.example.com${path}`, { ...init, headers: { ...ADMIN, ...(init.headers ?? {}) } }), overrides),
  };
}

describe("change notifications to the app", () => {
  beforeEach(async () => {
    captured = capturingQueue();
    await clearFeed();
  });

  it("v1: each change is POSTed once, signed, and the reference library verifies it", async () => {
    const t = setup("v1");
    await t.receiver.reset(V1_SECRET);
    await t.apply(events.userUpserted("v1_alice", at()));
    await t.apply(events.userUpserted("v1_alice", at(), { active: false }));
    const changes = await changeRows();
    expect(changes.map((change) => change.type)).toEqual(["user.created", "user.deactivated"]);

    await t.drain();
    const received = await t.receiver.received();
    expect(received.map((request) => request.verified)).toEqual([true, true]);
    expect(received.map((request) => request.webhookId)).toEqual(changes.map((change) => `chg_${change.seq}`));
    expect(received[0]!.signature).toMatch(/^v1,/);
    expect(received[0]!.userAgent).toBe("directory-sync");
    expect(received[0]!.contentType).toBe("application/json");
    expect(received[1]!.body).toMatchObject({
      type: "user.deactivated",
      seq: changes[1]!.seq,
      provider: "scalekit",
      organization_id: "org_1",
      directory_id: "dir_1",
      subject: "v1_alice",
      source: "webhook",
      data: { user: { id: "v1_alice", active: false } },
    });
    expect(Object.keys(received[1]!.body!).sort()).toEqual(["cause", "data", "directory_id", "occurred_at", "organization_id", "provider", "recorded_at", "seq", "source", "subject", "type"]);
    expect(new Date(received[1]!.body!.occurred_at as string).toISOString()).toBe(received[1]!.body!.occurred_at);
    expect((await deliveryRows()).map((row) => [row.status, row.attempts, row.last_status])).toEqual([
      ["delivered", 1, 204],
      ["delivered", 1, 204],
    ]);
  });

  it("a receiver holding another secret does not verify (the check can fail)", async () => {
    const t = setup("v1-wrong");
    await t.receiver.reset("whsec_dGVzdC1vbGQtc2VjcmV0LXJvdGF0ZWQtb3V0LXNvb24=");
    await t.apply(events.userUpserted("v1w_bob", at()));
    await t.drain();
    expect((await t.receiver.received()).map((request) => request.verified)).toEqual([false]);
  });

  it("v1a: Ed25519 signatures verify with the public key GET /admin/notifications hands out", async () => {
    const t = setup("v1a", V1A_SECRET);
    const overview = (await (await t.admin("/admin/notifications")).json()) as { scheme: string; public_key: string; endpoint: string; configured: boolean };
    expect(overview).toMatchObject({ configured: true, scheme: "v1a", public_key: V1A_PUBLIC, endpoint: new URL(env.TEST_APP_RECEIVER).origin });
    await t.receiver.reset(overview.public_key);
    await t.apply(events.groupUpserted("v1a_group", at(), "Engineering"), events.members("v1a_group", at(), ["v1a_carol"]));
    await t.drain();
    const received = await t.receiver.received();
    expect(received.length).toBeGreaterThanOrEqual(2);
    expect(received.every((request) => request.verified && request.signature!.startsWith("v1a,"))).toBe(true);
    expect(received.map((request) => request.body!.type)).toContain("group.member_added");
  });

  it("a receiver failing three times then succeeding: delivered once, the same webhook-id on every try, backing off", async () => {
    const t = setup("flaky");
    await t.receiver.reset(V1_SECRET, [{ status: 500, times: 3 }]);
    await t.apply(events.userUpserted("flaky_dan", at()));
    const { retries } = await t.drain();

    const received = await t.receiver.received();
    expect(received.map((request) => request.answered)).toEqual([500, 500, 500, 204]);
    expect(new Set(received.map((request) => request.webhookId)).size).toBe(1);
    expect(received.every((request) => request.verified)).toBe(true);
    const [row] = await deliveryRows();
    expect(row).toMatchObject({ status: "delivered", attempts: 4, last_status: 204, last_error: null });
    const delays = retries.map((retry) => retry.delaySeconds!);
    expect(delays).toHaveLength(3);
    expect(delays[0]).toBeGreaterThan(0);
    expect([...delays].sort((a, b) => a - b)).toEqual(delays);
    expect(delays[2]).toBeGreaterThan(delays[0]!);
  });

  it("gives a change up after NOTIFY_MAX_ATTEMPTS, which lets the subject's next change go", async () => {
    const t = setup("give-up");
    const testEnv = { ...t.testEnv, NOTIFY_MAX_ATTEMPTS: "2" } as Env;
    await t.receiver.reset(V1_SECRET, [{ status: 503, match: { type: "user.created" } }]);
    await deliverBatch([eventMessage(events.userUpserted("gu_erin", at()))], { env: testEnv });
    await deliverBatch([eventMessage(events.userUpserted("gu_erin", at(), { firstName: "Erin" }))], { env: testEnv });
    await drainNotifications(testEnv, captured);
    expect((await deliveryRows()).map((row) => [row.status, row.attempts, row.last_status, row.last_error])).toEqual([
      ["failed", 2, 503, "http_error"],
      ["delivered", 1, 204, null],
    ]);
    expect((await t.receiver.received()).map((request) => [request.body!.type, request.answered])).toEqual([
      ["user.created", 503],
      ["user.created", 503],
      ["user.updated", 204],
    ]);
  });

  it("a 410 disables the endpoint (visible to operators); nothing more is sent until enable resumes", async () => {
    const t = setup("gone");
    await t.receiver.reset(V1_SECRET, [{ status: 410 }]);
    await t.apply(events.userUpserted("gone_fay", at()));
    await t.drain();
    expect((await t.receiver.received()).map((request) => request.answered)).toEqual([410]);
    expect(await deliveryRows()).toMatchObject([{ status: "pending", attempts: 0, last_status: 410, last_error: "endpoint_gone" }]);
    const overview = (await (await t.admin("/admin/notifications")).json()) as { disabled: { since: string; note: string } | null; deliveries: Record<string, number> };
    expect(overview.disabled?.note).toBe("410 from the endpoint");
    expect(overview.deliveries).toEqual({ pending: 1, delivered: 0, rejected: 0, failed: 0 });

    // While disabled: changes are recorded but neither relayed nor sent.
    await t.apply(events.userUpserted("gone_gus", at()));
    await t.drain();
    expect(await deliveryRows()).toHaveLength(1);
    expect(await t.receiver.received()).toHaveLength(1);

    await t.receiver.reset(V1_SECRET);
    const enabled = await t.admin("/admin/notifications/enable", { method: "POST" });
    expect(enabled.status).toBe(200);
    expect(await enabled.json()).toEqual({ enabled: true, was_disabled: true, requeued: 1, relayed: 1 });
    await t.drain();
    expect((await t.receiver.received()).map((request) => request.body!.subject).sort()).toEqual(["gone_fay", "gone_gus"]);
    expect((await deliveryRows()).map((row) => row.status)).toEqual(["delivered", "delivered"]);
    expect(((await (await t.admin("/admin/notifications")).json()) as { disabled: unknown }).disabled).toBeNull();
  });

  it("other 4xx are recorded as rejected and not retried; 408 and 429 are retried", async () => {
    const t = setup("reject");
    await t.receiver.reset(V1_SECRET, [
      { status: 400, match: { subject: "rej_hal" } },
      { status: 429, times: 1, match: { subject: "rej_ida" }, retryAfter: "120" },
      { status: 408, times: 1, match: { subject: "rej_ida" } },
    ]);
    await t.apply(events.userUpserted("rej_hal", at()), events.userUpserted("rej_ida", at()));
    const { retries } = await t.drain();
    const rows = await deliveryRows();
    expect(rows.map((row) => [row.subject_key, row.status, row.attempts, row.last_status])).toEqual([
      ["scalekit\trej_hal", "rejected", 1, 400],
      ["scalekit\trej_ida", "delivered", 3, 204],
    ]);
    expect(rows[0]!.last_error).toBe("rejected");
    const hal = (await t.receiver.received()).filter((request) => request.body!.subject === "rej_hal");
    expect(hal).toHaveLength(1);
    // The 429's Retry-After (120 s) is longer than the first backoff step, so it is what was asked for.
    expect(retries[0]!.delaySeconds).toBe(120);
  });

  it("no answer in time, or no connection: counted as a failed try and retried", async () => {
    const t = setup("silent");
    await t.receiver.reset(V1_SECRET, [{ status: 204, times: 1, delayMs: 3000 }]);
    await t.apply(events.userUpserted("sil_kai", at()));
    const [send] = captured.take();
    const quick = { ...t.testEnv, NOTIFY_TIMEOUT_MS: "1000" } as Env;
    const first = await runNotificationBatch(quick, [{ body: send!.body }]);
    expect(first.retried).toHaveLength(1);
    expect(await deliveryRows()).toMatchObject([{ status: "pending", attempts: 1, last_status: null, last_error: "timeout" }]);
    await runNotificationBatch(quick, [{ body: send!.body, attempts: 2 }]);
    expect(await deliveryRows()).toMatchObject([{ status: "delivered", attempts: 2, last_status: 204 }]);

    // Port 9 (discard) has no listener. workerd logs the refused connection as "uncaught
    // exception: Network connection lost" even though the rejected fetch is handled; harmless.
    const closed = { ...t.testEnv, APP_WEBHOOK_URL: "http://127.0.0.1:9/hook" } as Env;
    await deliverBatch([eventMessage(events.userUpserted("sil_lee", at()))], { env: closed });
    const [lost] = captured.take();
    expect((await runNotificationBatch(closed, [{ body: lost!.body }])).retried).toHaveLength(1);
    expect((await deliveryRows())[1]).toMatchObject({ status: "pending", attempts: 1, last_status: null, last_error: "network_error" });
  });

  it("keeps per-subject order under retries; other subjects are not held up", async () => {
    const t = setup("order");
    // Subject A's first change fails twice; its second must not arrive before the first succeeds.
    await t.receiver.reset(V1_SECRET, [{ status: 500, times: 2, match: { subject: "ord_a", type: "user.created" } }]);
    await t.apply(events.userUpserted("ord_a", at()));
    await t.apply(events.userUpserted("ord_a", at(), { firstName: "Renamed" }), events.userUpserted("ord_b", at()));
    await t.drain();

    const received = await t.receiver.received();
    const a = received.filter((request) => request.body!.subject === "ord_a").map((request) => [request.body!.type, request.answered]);
    expect(a).toEqual([
      ["user.created", 500],
      ["user.created", 500],
      ["user.created", 204],
      ["user.updated", 204],
    ]);
    // B went out in the first round, before A's first change got through.
    const firstB = received.findIndex((request) => request.body!.subject === "ord_b");
    const aDelivered = received.findIndex((request) => request.body!.subject === "ord_a" && request.answered === 204);
    expect(firstB).toBeLessThan(aDelivered);
    expect(received.filter((request) => request.body!.subject === "ord_b")).toHaveLength(1);
    expect((await deliveryRows()).map((row) => row.status)).toEqual(["delivered", "delivered", "delivered"]);
  });
});
