import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { countingD1 } from "../support/d1";
import { ADMIN, BASE, capturingQueue, deliverAll, getReport, ndjson, postImport, usersIn } from "../support/import";
import { callApp } from "../support/worker";

/**
 * Rows that fail: retried with their chunk (rows already applied are not applied again), recorded
 * per row while they fail, and, once the queue gives up on the chunk, dead-lettered one row at a
 * time so each is replayed like any dead-lettered event.
 */

describe("import rows that fail", () => {
  it("are recorded failed and retried with their chunk; the retry applies them once", async () => {
    const { queue, sent } = capturingQueue();
    const posted = await postImport(ndjson({ external_id: "f1" }, { external_id: "f2" }), { queue, query: "?organization_id=org_fail" });
    // D1 refuses every batch that writes users (a bad deploy, an outage of one table): both rows fail.
    const failing = countingD1(env.DB, (statements) => (statements.some((sql) => sql.includes("INSERT INTO users")) ? new Error("D1_ERROR: simulated") : undefined));
    const [first] = await deliverAll(sent, { env: { ...env, DB: failing.db } });
    expect(first!.result.retryMessages.map((message) => message.msgId)).toEqual(first!.ids);
    expect(await usersIn("import-org_fail")).toEqual([]);
    const failed = await getReport(posted.body.id);
    expect(failed.body).toMatchObject({ status: "applying", rows: { failed: 2, applied: 0, pending: 0 } });
    const logged = await env.DB.prepare("SELECT error, message FROM event_log WHERE provider = 'import-org_fail' ORDER BY event_id").all<{ error: string; message: string }>();
    expect(logged.results.map((row) => row.error)).toEqual(["Error: D1_ERROR: simulated", "Error: D1_ERROR: simulated"]);
    // Each failed row keeps its own event message, replayable on its own.
    expect(JSON.parse(logged.results[0]!.message)).toMatchObject({ kind: "event", event: { eventId: `${posted.body.id}:1`, user: { externalId: "f1" } } });

    const [retry] = await deliverAll(sent, { attempts: 2 });
    expect(retry!.result.explicitAcks).toEqual(retry!.ids);
    expect((await usersIn("import-org_fail")).map((user) => user.external_id)).toEqual(["f1", "f2"]);
    expect((await getReport(posted.body.id)).body).toMatchObject({ status: "done", rows: { failed: 0, applied: 2 } });
  });

  it("a chunk the queue gave up on dead-letters each unapplied row, replayable from /admin/dead-letters and /admin/events", async () => {
    const { queue, sent } = capturingQueue();
    const posted = await postImport(ndjson({ external_id: "x1" }, { external_id: "x2" }, { external_id: "x3" }), { queue, query: "?organization_id=org_dlq" });
    const id = posted.body.id as string;
    // Row 1 applied on an earlier attempt (as its own replayed event); rows 2 and 3 never did.
    const [chunk] = sent as { rows: unknown[] }[];
    await deliverAll([{ ...chunk, rows: chunk!.rows.slice(0, 1) }]);

    const [dead] = await deliverAll(sent, { queue: "directory-events-dlq" });
    expect(dead!.result.explicitAcks).toEqual(dead!.ids);
    const letters = await env.DB.prepare("SELECT message_id, provider, event_id, subject FROM dead_letters WHERE provider = 'import-org_dlq' ORDER BY event_id").all();
    expect(letters.results).toEqual([
      { message_id: `${dead!.ids[0]}-2`, provider: "import-org_dlq", event_id: `${id}:2`, subject: "x2" },
      { message_id: `${dead!.ids[0]}-3`, provider: "import-org_dlq", event_id: `${id}:3`, subject: "x3" },
    ]);
    expect((await getReport(id)).body).toMatchObject({ status: "done", rows: { applied: 1, dead_lettered: 2, pending: 0 } });

    // Replayed one from the dead letters, the other from the event log: both apply.
    const replays = capturingQueue();
    const viaDeadLetter = await callApp(new Request(`${BASE}/dead-letters/${dead!.ids[0]}-2/replay`, { method: "POST", headers: ADMIN }), { EVENTS_QUEUE: replays.queue });
    expect(viaDeadLetter.status).toBe(202);
    const viaEvent = await callApp(new Request(`${BASE}/events/import-org_dlq/${encodeURIComponent(`${id}:3`)}/replay`, { method: "POST", headers: ADMIN }), { EVENTS_QUEUE: replays.queue });
    expect(viaEvent.status).toBe(202);
    await deliverAll(replays.sent);
    expect((await usersIn("import-org_dlq")).map((user) => user.external_id)).toEqual(["x1", "x2", "x3"]);
    expect((await getReport(id)).body).toMatchObject({ status: "done", rows: { applied: 3, dead_lettered: 0 } });
  });

  it("a chunk from a provider that is not an import namespace does not decode: retried, never applied", async () => {
    const { queue, sent } = capturingQueue();
    await postImport(ndjson({ external_id: "n1" }), { queue, query: "?organization_id=org_forged" });
    const forged = { ...(sent[0] as object), provider: "scalekit" };
    const [delivery] = await deliverAll([forged]);
    expect(delivery!.result.retryMessages.map((message) => message.msgId)).toEqual(delivery!.ids);
    expect(await env.DB.prepare("SELECT count(*) AS n FROM users WHERE external_id = 'n1'").first()).toEqual({ n: 0 });
  });
});
