import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import type { EventMessage } from "../../src/queue-message";
import { resolveRefresh } from "../../src/providers/firstup/resolve-refresh";
import { deliverBatch } from "../support/consumer";
import { callApp } from "../support/worker";
import { eventMessage } from "../support/directory";
import { scimUser, upstreamTenant } from "../support/upstream";

/**
 * Every way the webhook path could erase or deactivate someone, attacked: wrong upstream URLs,
 * gateways answering 404, a wrong tenant, a leaked header value, an upstream that has not caught
 * up, a refresh racing an erasure, and a burst of deletions. Upstream reads go to a real SCIM
 * server (SCIMMY); re-queued messages are parked and delivered by hand, so each step is observable.
 */

const tenant = upstreamTenant("destructive-paths");
let sequence = 0;

type Reason = "updated" | "deactivated" | "deleted";
const refresh = (externalId: string, reason: Reason = "updated", options: { signed?: boolean; occurredAt?: number } = {}): DirectoryEvent => ({
  provider: "firstup",
  eventId: `dp_${sequence++}`,
  occurredAt: options.occurredAt ?? Date.now(),
  sourceType: `user.${reason}`,
  kind: "user_refresh",
  externalId,
  reason,
  signed: options.signed ?? false,
});

/** A Queue binding that keeps what the consumer re-queues instead of delivering it. */
function parkingQueue() {
  const parked: { body: EventMessage; delaySeconds: number | undefined }[] = [];
  const queue = {
    async send(body: EventMessage, options?: QueueSendOptions) {
      parked.push({ body, delaySeconds: options?.delaySeconds });
    },
    async sendBatch() {
      throw new Error("not used");
    },
  } as unknown as Queue;
  return { queue, parked };
}

const userRow = (externalId: string) =>
  env.DB.prepare("SELECT email, first_name, active, deleted_at, forgotten_at FROM users WHERE provider = 'firstup' AND external_id = ?")
    .bind(externalId)
    .first<{ email: string | null; first_name: string | null; active: number; deleted_at: number | null; forgotten_at: number | null }>();
const logRow = (eventId: string) =>
  env.DB.prepare("SELECT status, reason, error, message, absent_since FROM event_log WHERE provider = 'firstup' AND event_id = ?")
    .bind(eventId)
    .first<{ status: string; reason: string | null; error: string | null; message: string | null; absent_since: number | null }>();
const processed = async (eventId: string) =>
  (await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE status = 'applied' AND provider = 'firstup' AND event_id = ?").bind(eventId).first<{ n: number }>())?.n;

describe("destructive paths from webhooks", () => {
  let parking: ReturnType<typeof parkingQueue>;
  const envWith = (extra: Partial<Env> = {}) =>
    tenant.env({ EVENTS_QUEUE: parking.queue, ABSENCE_CONFIRM_DELAY_SECONDS: "0", ...extra } as Partial<Env>);

  beforeEach(async () => {
    parking = parkingQueue();
    await tenant.reset({
      users: [
        scimUser("u_keep", { userName: "keep@acme.example", name: { givenName: "Keep", familyName: "Me" }, emails: [{ value: "keep@acme.example", primary: true }] }),
        scimUser("u_other", { userName: "other@acme.example" }),
      ],
    });
    // The users exist in the directory with personal data.
    await deliverBatch([eventMessage(refresh("u_keep")), eventMessage(refresh("u_other"))], { env: envWith() });
    expect(await userRow("u_keep")).toMatchObject({ email: "keep@acme.example", active: 1 });
  });

  it("a wrong upstream path (a bare 404, not a SCIM error) holds the event and erases no one", async () => {
    const wrongUrl = `${env.TEST_SCIM_SERVER}/not-scim/v2`;
    const event = refresh("u_keep", "updated");
    const { result } = await deliverBatch([eventMessage(event)], { env: envWith({ FIRSTUP_SCIM_URL: wrongUrl }) });
    expect(result.explicitAcks).toHaveLength(1);
    expect(await userRow("u_keep")).toMatchObject({ email: "keep@acme.example", active: 1, forgotten_at: null });
    expect(await logRow(event.eventId)).toMatchObject({ status: "held", reason: "absence_unverified" });
    expect(await processed(event.eventId)).toBe(0);
    // Delivered again (a provider retry), it is held again, never erased.
    await deliverBatch([eventMessage(event)], { env: envWith({ FIRSTUP_SCIM_URL: wrongUrl }) });
    expect(await userRow("u_keep")).toMatchObject({ email: "keep@acme.example" });
  });

  it("an operator releases a held event: the upstream is read again, then the event's word is acted on", async () => {
    const wrongUrl = `${env.TEST_SCIM_SERVER}/not-scim/v2`;
    const event = refresh("u_keep", "updated");
    await deliverBatch([eventMessage(event)], { env: envWith({ FIRSTUP_SCIM_URL: wrongUrl }) });
    expect(await logRow(event.eventId)).toMatchObject({ status: "held" });

    const release = (eventId: string) =>
      callApp(new Request(`https://sync.example.com/admin/events/firstup/${eventId}/release`, { method: "POST", headers: { authorization: "Bearer test-admin-token" } }), {
        EVENTS_QUEUE: parking.queue,
      });
    const response = await release(event.eventId);
    expect(response.status).toBe(202);
    expect(parking.parked).toHaveLength(1);
    expect(parking.parked[0]!.body).toMatchObject({ released: true, event: { eventId: event.eventId } });

    await deliverBatch([parking.parked[0]!.body], { env: envWith({ FIRSTUP_SCIM_URL: wrongUrl }) });
    expect(await userRow("u_keep")).toMatchObject({ email: null, forgotten_at: expect.any(Number) });
    expect(await logRow(event.eventId)).toMatchObject({ status: "applied", reason: "forgotten_on_release" });
    // Only held events can be released.
    expect((await release(event.eventId)).status).toBe(409);
    expect((await release("no-such-event")).status).toBe(404);
  });

  it("an empty tenant (a verified SCIM 404 for everyone, twice) holds instead of erasing", async () => {
    const empty = upstreamTenant("destructive-paths-empty");
    await empty.reset({ users: [] });
    const wrongTenant = empty.url;
    const event = refresh("u_keep", "updated");
    await deliverBatch([eventMessage(event)], { env: envWith({ FIRSTUP_SCIM_URL: wrongTenant }) });
    expect(parking.parked).toHaveLength(1);
    await deliverBatch([parking.parked[0]!.body], { env: envWith({ FIRSTUP_SCIM_URL: wrongTenant }) });
    expect(await userRow("u_keep")).toMatchObject({ email: "keep@acme.example", forgotten_at: null });
    // It has none of the users we hold as live (with no one else on record it would be upstream_empty).
    expect(await logRow(event.eventId)).toMatchObject({ status: "held", reason: "upstream_mismatch" });
  });

  it("another customer's populated tenant (SCIM 404s, but none of our users) holds instead of erasing", async () => {
    const other = upstreamTenant("destructive-paths-other-customer");
    await other.reset({ users: [scimUser("someone_else"), scimUser("another_one")] });
    const event = refresh("u_keep", "updated");
    await deliverBatch([eventMessage(event)], { env: envWith({ FIRSTUP_SCIM_URL: other.url }) });
    await deliverBatch([parking.parked[0]!.body], { env: envWith({ FIRSTUP_SCIM_URL: other.url }) });
    expect(await userRow("u_keep")).toMatchObject({ email: "keep@acme.example", forgotten_at: null });
    expect(await logRow(event.eventId)).toMatchObject({ status: "held", reason: "upstream_mismatch" });
  });

  it("a verified SCIM 404 erases only when a second read after the delay agrees", async () => {
    await tenant.remove("u_keep");
    const event = refresh("u_keep", "updated");
    const first = await deliverBatch([eventMessage(event)], { env: envWith({ ABSENCE_CONFIRM_DELAY_SECONDS: "30" }) });
    expect(first.result.explicitAcks).toHaveLength(1);
    expect(first.result.retryMessages).toEqual([]);
    // First read: nothing erased, the event waits, re-queued with the confirmation delay.
    expect(await userRow("u_keep")).toMatchObject({ email: "keep@acme.example", forgotten_at: null });
    expect(parking.parked).toEqual([{ body: expect.objectContaining({ absentSince: expect.any(Number) }), delaySeconds: 30 }]);
    expect(await logRow(event.eventId)).toMatchObject({ status: "failed", error: "confirming_absence", absent_since: expect.any(Number) });

    // Delivered again before the delay has passed (a duplicate), it still does not erase.
    const early = parking.parked[0]!.body;
    await deliverBatch([early], { env: envWith({ ABSENCE_CONFIRM_DELAY_SECONDS: "30" }) });
    expect(await userRow("u_keep")).toMatchObject({ forgotten_at: null });

    // The second read, after the delay: confirmed, erased.
    const confirmed: EventMessage = { ...early, absentSince: Date.now() - 31_000 };
    await deliverBatch([confirmed], { env: envWith({ ABSENCE_CONFIRM_DELAY_SECONDS: "30" }) });
    expect(await userRow("u_keep")).toMatchObject({ email: null, first_name: null, active: 0, forgotten_at: expect.any(Number) });
    expect(await logRow(event.eventId)).toMatchObject({ status: "applied", reason: "forgotten_upstream", message: null });
  });

  it("a user the upstream brings back between the two reads is not erased", async () => {
    await tenant.remove("u_keep");
    const event = refresh("u_keep", "updated");
    await deliverBatch([eventMessage(event)], { env: envWith() });
    await tenant.upsert(scimUser("u_keep", { userName: "keep@acme.example", emails: [{ value: "keep@acme.example", primary: true }] }));
    await deliverBatch([parking.parked[0]!.body], { env: envWith() });
    expect(await userRow("u_keep")).toMatchObject({ email: "keep@acme.example", active: 1, forgotten_at: null });
  });

  it("a signed user.deleted confirmed by one verified SCIM 404 erases at once", async () => {
    await tenant.remove("u_keep");
    const event = refresh("u_keep", "deleted", { signed: true });
    await deliverBatch([eventMessage(event)], { env: envWith() });
    expect(parking.parked).toEqual([]);
    expect(await userRow("u_keep")).toMatchObject({ email: null, forgotten_at: expect.any(Number) });
  });

  it("a header-mode user.deleted for a user who still exists upstream never erases: it waits, then fails as not confirmed", async () => {
    const event = refresh("u_keep", "deleted", { signed: false, occurredAt: Date.now() });
    await deliverBatch([eventMessage(event)], { env: envWith() });
    expect(await userRow("u_keep")).toMatchObject({ email: "keep@acme.example", active: 1 });
    expect(parking.parked).toHaveLength(1);
    expect(await logRow(event.eventId)).toMatchObject({ status: "failed", error: "awaiting_deletion" });

    // Past the confirmation budget: recorded as a failure an operator sees, nothing applied.
    await deliverBatch([parking.parked[0]!.body], { env: envWith({ UPSTREAM_CONFIRM_BUDGET_SECONDS: "0" }) });
    expect(await userRow("u_keep")).toMatchObject({ email: "keep@acme.example", active: 1 });
    expect(await logRow(event.eventId)).toMatchObject({ status: "failed", error: "deletion_not_confirmed", message: expect.any(String) });
    expect(await processed(event.eventId)).toBe(0);
  });

  it("user.deactivated waits for the upstream to catch up, then deactivates", async () => {
    const event = refresh("u_keep", "deactivated", { occurredAt: Date.now() });
    await deliverBatch([eventMessage(event)], { env: envWith() });
    expect(await userRow("u_keep")).toMatchObject({ active: 1 });
    expect(await logRow(event.eventId)).toMatchObject({ status: "failed", error: "awaiting_deactivation" });
    expect(parking.parked[0]?.delaySeconds).toBeGreaterThanOrEqual(5);

    await tenant.upsert(scimUser("u_keep", { userName: "keep@acme.example", active: false, emails: [{ value: "keep@acme.example", primary: true }] }));
    await deliverBatch([parking.parked[0]!.body], { env: envWith() });
    expect(await userRow("u_keep")).toMatchObject({ active: 0, email: "keep@acme.example" });
    expect(await logRow(event.eventId)).toMatchObject({ status: "applied" });
  });

  it("user.deactivated that the upstream never confirms is a failure, not an active user acked as success", async () => {
    const event = refresh("u_keep", "deactivated", { occurredAt: Date.now() });
    const { result } = await deliverBatch([eventMessage(event)], { env: envWith({ UPSTREAM_CONFIRM_BUDGET_SECONDS: "0" }) });
    expect(result.explicitAcks).toHaveLength(1);
    expect(await logRow(event.eventId)).toMatchObject({ status: "failed", error: "deactivation_not_confirmed" });
    expect(await processed(event.eventId)).toBe(0);
  });

  it("a deactivation older than the upstream's last change is superseded by the record", async () => {
    await tenant.upsert(scimUser("u_keep", { userName: "keep@acme.example", meta: { resourceType: "User", lastModified: new Date(Date.now() + 60_000).toISOString() } }));
    const event = refresh("u_keep", "deactivated", { occurredAt: Date.now() });
    await deliverBatch([eventMessage(event)], { env: envWith() });
    expect(await userRow("u_keep")).toMatchObject({ active: 1 });
    expect(await logRow(event.eventId)).toMatchObject({ status: "applied", reason: "deactivation_superseded" });
  });

  it("a refresh that read the user before an erasure cannot bring them back, whatever order they commit in", async () => {
    // Consumer A reads the record (the user still exists upstream) ...
    const stale = await resolveRefresh(refresh("u_keep") as Extract<DirectoryEvent, { kind: "user_refresh" }>, tenant.client(), {
      now: Date.now,
      receivedAt: Date.now(),
      released: false,
      absenceConfirmDelaySeconds: 0,
      confirmBudgetMs: 0,
      waitDelaySeconds: 5,
    });
    expect(stale.outcome).toBe("apply");
    // ... then the user is deleted upstream and consumer B erases them (signed deletion, verified 404) ...
    await new Promise((resolve) => setTimeout(resolve, 5));
    await tenant.remove("u_keep");
    await deliverBatch([eventMessage(refresh("u_keep", "deleted", { signed: true }))], { env: envWith() });
    expect(await userRow("u_keep")).toMatchObject({ forgotten_at: expect.any(Number) });
    // ... and only now does A commit what it read.
    if (stale.outcome !== "apply") throw new Error("unreachable");
    await deliverBatch([eventMessage(stale.event)], { env: envWith() });
    expect(await userRow("u_keep")).toMatchObject({ email: null, first_name: null, active: 0, forgotten_at: expect.any(Number) });
  });

  it("coalesces lookups: 100 events about 4 users cost 4 SCIM reads, the newest event decides, all are accounted for", async () => {
    await tenant.upsert(scimUser("u_a"), scimUser("u_b"), scimUser("u_c"));
    const users = ["u_keep", "u_a", "u_b", "u_c"];
    const batch = Array.from({ length: 100 }, (_, i) => eventMessage(refresh(users[i % 4]!, "updated", { occurredAt: 1_000 + i })));
    const before = (await tenant.stats()).requests;
    const { result } = await deliverBatch(batch, { env: envWith() });
    expect((await tenant.stats()).requests - before).toBe(4);
    expect(result.explicitAcks).toHaveLength(100);
    const counts = await env.DB.prepare(
      `SELECT reason, count(*) AS n FROM event_log WHERE provider = 'firstup' AND event_id IN (SELECT value FROM json_each(?)) GROUP BY reason ORDER BY reason`,
    )
      .bind(JSON.stringify(batch.map((message) => message.event.eventId)))
      .all<{ reason: string | null; n: number }>();
    expect(counts.results).toEqual([
      { reason: null, n: 4 },
      { reason: "coalesced", n: 96 },
    ]);
    // The newest event per user (indexes 96..99) is the one applied with the record.
    expect(await logRow(batch[99]!.event.eventId)).toMatchObject({ status: "applied", reason: null });
  });

  it("a deactivation is not answered by a newer user.updated in the same batch that sees a lagging upstream", async () => {
    const at = Date.now();
    const deactivated = refresh("u_keep", "deactivated", { occurredAt: at });
    const updated = refresh("u_keep", "updated", { occurredAt: at + 1 });
    await deliverBatch([eventMessage(deactivated), eventMessage(updated)], { env: envWith() });
    expect(await userRow("u_keep")).toMatchObject({ active: 1 });
    expect(await logRow(deactivated.eventId)).toMatchObject({ status: "failed", error: "awaiting_deactivation" });
    expect(await processed(deactivated.eventId)).toBe(0);
    expect(await logRow(updated.eventId)).toMatchObject({ status: "applied" });
  });

  it("more distinct users than one invocation may look up: the rest are re-queued at once, not failed", async () => {
    const ids = Array.from({ length: 40 }, (_, i) => `u_many_${i}`);
    await tenant.upsert(...ids.map((id) => scimUser(id)));
    const before = (await tenant.stats()).requests;
    const { result } = await deliverBatch(ids.map((id) => eventMessage(refresh(id))), { env: envWith() });
    expect((await tenant.stats()).requests - before).toBe(30);
    expect(result.explicitAcks).toHaveLength(40);
    expect(result.retryMessages).toEqual([]);
    expect(parking.parked).toHaveLength(10);
    expect(parking.parked.every((entry) => entry.delaySeconds === 0)).toBe(true);
  });
});
