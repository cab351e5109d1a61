import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { countingD1 } from "../support/d1";
import { capturingQueue, deliverAll, getReport, ndjson, postImport, usersIn } from "../support/import";

/**
 * Review of issue 15: a deactivation an import row asked for that the destructive guard held
 * stays held until an operator releases it, even when its chunk is retried (another row of the
 * chunk failed) after the guard's window has rolled over.
 */
describe("import rows held by the destructive guard", () => {
  it("stay held when their chunk is retried in a fresh window", async () => {
    const { queue, sent } = capturingQueue();
    const people = Array.from({ length: 30 }, (_, i) => `h${String(i).padStart(2, "0")}`);
    await postImport(ndjson(...people.map((id) => ({ external_id: id }))), { queue, query: "?organization_id=org_heldretry" });
    await deliverAll(sent.splice(0));

    // 30 deactivations and one new user whose write fails (a transient D1 error on that row only).
    const off = await postImport(ndjson(...people.map((id) => ({ external_id: id, active: false })), { external_id: "poison" }), {
      queue,
      query: "?organization_id=org_heldretry",
    });
    const failing = countingD1(env.DB, (statements) =>
      statements.some((sql) => sql.includes("INSERT INTO users") && sql.includes("poison")) ? new Error("D1_ERROR: simulated") : undefined,
    );
    const chunks = sent.splice(0);
    const [first] = await deliverAll(chunks, { env: { ...env, DB: failing.db } });
    // The chunk is retried for its failing row; 20 deactivations applied, 10 held.
    expect(first!.result.retryMessages.map((message) => message.msgId)).toEqual(first!.ids);
    expect((await usersIn("import-org_heldretry")).filter((user) => user.active === 1)).toHaveLength(10);
    const held = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE provider = 'import-org_heldretry' AND status = 'held'").first();
    expect(held).toEqual({ n: 10 });

    // The guard's window ends before the retry arrives (the queue's backoff can be long).
    await env.DB.prepare("DELETE FROM destructive_windows WHERE provider = 'import-org_heldretry'").run();
    const [retry] = await deliverAll(chunks, { attempts: 2 });
    expect(retry!.result.explicitAcks).toEqual(retry!.ids);

    // Nobody released the 10 held deactivations: they are still held, the users still active.
    expect((await usersIn("import-org_heldretry")).filter((user) => user.active === 1)).toHaveLength(10 + 1);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE provider = 'import-org_heldretry' AND status = 'held'").first()).toEqual({ n: 10 });
    expect((await getReport(off.body.id)).body).toMatchObject({ rows: { held: 10, failed: 0 } });
  });

  it("are not turned into dead letters (nor counted dead-lettered) when the queue gives up on their chunk", async () => {
    const { queue, sent } = capturingQueue();
    const people = Array.from({ length: 30 }, (_, i) => `k${String(i).padStart(2, "0")}`);
    await postImport(ndjson(...people.map((id) => ({ external_id: id }))), { queue, query: "?organization_id=org_helddlq" });
    await deliverAll(sent.splice(0));
    await postImport(ndjson(...people.map((id) => ({ external_id: id, active: false })), { external_id: "poison" }), { queue, query: "?organization_id=org_helddlq" });
    const failing = countingD1(env.DB, (statements) =>
      statements.some((sql) => sql.includes("INSERT INTO users") && sql.includes("poison")) ? new Error("D1_ERROR: simulated") : undefined,
    );
    const chunks = sent.splice(0);
    await deliverAll(chunks, { env: { ...env, DB: failing.db } });
    const hourly = () => env.DB.prepare("SELECT coalesce(sum(events), 0) AS n FROM pipeline_hourly WHERE status = 'dead_lettered'").first<{ n: number }>();
    const before = (await hourly())!.n;

    await deliverAll(chunks, { queue: "directory-events-dlq" });
    const statuses = await env.DB.prepare("SELECT status, count(*) AS n FROM event_log WHERE provider = 'import-org_helddlq' GROUP BY status ORDER BY status").all();
    expect(statuses.results).toEqual([
      { status: "applied", n: 20 + 30 },
      { status: "dead_lettered", n: 1 },
      { status: "held", n: 10 },
    ]);
    const letters = await env.DB.prepare("SELECT subject FROM dead_letters WHERE provider = 'import-org_helddlq'").all();
    expect(letters.results).toEqual([{ subject: "poison" }]);
    expect((await hourly())!.n - before).toBe(1);
  });
});
