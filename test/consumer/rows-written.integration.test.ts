import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { countingD1 } from "../support/d1";
import { deliverBatch } from "../support/consumer";
import { scalekitEvent, scalekitUser } from "../support/scalekit";
import { signedHeaders } from "../support/sign";
import { callApp } from "../support/worker";

/**
 * D1 bills every row and index entry a statement writes (migration 0010 cut an applied event from
 * about 14). Scalekit `user_updated` webhooks go through the Worker as signed deliveries, and what
 * they queue through the real consumer on a D1 binding that meters rows written. The counts are
 * deterministic (the same statements on the same rows), so they are asserted, not benchmarked.
 */

const USERS = 50;

/** Signed deliveries through the Worker; the queue messages they produced (recorded, not sent). */
async function ingest(bodies: unknown[]): Promise<unknown[]> {
  const sent: unknown[] = [];
  const queue = { send: async (body: unknown) => void sent.push(body), sendBatch: async (messages: Iterable<MessageSendRequest>) => void sent.push(...[...messages].map((m) => m.body)) } as unknown as Queue;
  for (const body of bodies) {
    const text = JSON.stringify(body);
    const response = await callApp(new Request("https://sync.example.com/webhooks/scalekit", { method: "POST", body: text, headers: await signedHeaders(text) }), { EVENTS_QUEUE: queue });
    expect(response.status).toBe(202);
  }
  expect(sent).toHaveLength(bodies.length);
  return sent;
}

/** The messages through the consumer as one batch; D1 rows written per event. */
async function rowsWrittenPerEvent(messages: unknown[]): Promise<number> {
  const d1 = countingD1(env.DB);
  const { result } = await deliverBatch(messages, { env: { ...env, DB: d1.db } });
  expect(result.retryMessages).toEqual([]);
  return d1.rows().written / messages.length;
}

const count = async (sql: string) => (await env.DB.prepare(sql).first<{ n: number }>())!.n;

describe("D1 rows written per applied Scalekit user event", () => {
  const created = Date.now() - 120_000;
  const updated = created + 60_000;
  const user = (i: number, givenName: string) => scalekitUser({ id: `rw_user_${i}`, email: `rw.user.${i}@company.com`, given_name: givenName });

  beforeAll(async () => {
    await env.DB.exec("DELETE FROM users; DELETE FROM changes; DELETE FROM change_erasures; DELETE FROM event_log; DELETE FROM work_claims; DELETE FROM groups; DELETE FROM group_members; DELETE FROM membership_versions; DELETE FROM pipeline_hourly;");
  });

  it("a user_updated event for a new user (a create) writes at most 7 rows, and one changing only the given name at most 4", async () => {
    const creates = await ingest(Array.from({ length: USERS }, (_, i) => scalekitEvent("user_updated", user(i, "Before"), { timestamp: new Date(created).toISOString() })));
    const perCreate = await rowsWrittenPerEvent(creates);
    expect(await count("SELECT count(*) AS n FROM users WHERE external_id LIKE 'rw_user_%' AND first_name = 'Before'")).toBe(USERS);
    expect(await count("SELECT count(*) AS n FROM changes WHERE type = 'user.created'")).toBe(USERS);

    const updates = await ingest(Array.from({ length: USERS }, (_, i) => scalekitEvent("user_updated", user(i, "After"), { timestamp: new Date(updated).toISOString() })));
    const perUpdate = await rowsWrittenPerEvent(updates);
    expect(await count("SELECT count(*) AS n FROM users WHERE external_id LIKE 'rw_user_%' AND first_name = 'After'")).toBe(USERS);
    expect(await count("SELECT count(*) AS n FROM changes WHERE type = 'user.updated'")).toBe(USERS);
    expect(await count("SELECT count(*) AS n FROM event_log WHERE status = 'applied'")).toBe(2 * USERS);
    // The console's hourly counters (migration 0012) counted every event, in one row per batch.
    expect(await count("SELECT sum(events) AS n FROM pipeline_hourly WHERE status = 'applied'")).toBe(2 * USERS);

    // Measured (deterministic): 6 rows per create: the event_log row (WITHOUT ROWID, no index
    // entry); the users row, its primary-key index (users is a rowid table keyed by
    // (provider, external_id), so sqlite_autoindex_users_1), users_email_key_idx and
    // users_organization_idx (no userName: the partial users_user_name_key_idx is not written);
    // the `changes` row (no index since migration 0011). 3 per update: the event_log row, the
    // users row with no index entry (only unindexed columns assigned), and the change. Plus, per
    // batch, one pipeline_hourly row per status (migration 0012: the console's chart), here one
    // row for the batch of USERS events: 1/50 of a row per event.
    expect(perCreate).toBeLessThanOrEqual(6 + 1 / USERS);
    expect(perUpdate).toBeLessThanOrEqual(3 + 1 / USERS);
  });
});
