import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { capturingQueue, changesIn, deliverAll, getReport, ndjson, postImport, usersIn } from "../support/import";

/**
 * An import is recorded with no chunk queued, and marked queued once every sendBatch call
 * succeeded. A request that died in between (the isolate killed, or the write marking it failed
 * failing too) leaves it `queued` with `chunks.queued` < `chunks.total`: the client's retry with the
 * same Idempotency-Key re-sends every chunk, with the same event ids and versions, so each row
 * applies once whether or not the first sends arrived.
 */

/** A D1 binding whose statements matching `fails` (drizzle's SQL text) throw, as an outage of that write would. */
function failingWrites(real: D1Database, fails: RegExp): D1Database {
  const refusing = (statement: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(statement, {
      get(target, property) {
        if (property === "bind") return (...values: unknown[]) => refusing(target.bind(...values));
        if (property === "run" || property === "all" || property === "raw" || property === "first") {
          return async () => {
            throw new Error("D1_ERROR: simulated");
          };
        }
        const value = Reflect.get(target, property, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
  return new Proxy(real, {
    get(target, property) {
      if (property === "prepare") return (sql: string) => (fails.test(sql) ? refusing(target.prepare(sql)) : target.prepare(sql));
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

/** A queue whose every send fails. */
const downQueue = {
  async send() {
    throw new Error("Queue send failed: simulated");
  },
  async sendBatch() {
    throw new Error("Queue sendBatch failed: simulated");
  },
} as unknown as Queue;

/** markQueueFailed sets a bound status; markChunksQueued sets chunks_queued = chunks_total (and revives a queue-failed import). */
const MARK_FAILED = /update "imports" set "status" = \?/i;
const MARK_QUEUED = /"chunks_queued" = chunks_total/i;

/** 150 rows: two chunks (100 rows a chunk), sent in one sendBatch call. */
const rows = (prefix: string) => ndjson(...Array.from({ length: 150 }, (_, index) => ({ external_id: `${prefix}${String(index + 1).padStart(3, "0")}`, first_name: "Row" })));

async function storedImport(provider: string) {
  return env.DB.prepare("SELECT id, status, chunks_total, chunks_queued, idempotency_key, created_at FROM imports WHERE provider = ?")
    .bind(provider)
    .all<{ id: string; status: string; chunks_total: number; chunks_queued: number; idempotency_key: string | null; created_at: number }>();
}

async function loggedRows(provider: string) {
  const logged = await env.DB.prepare("SELECT event_id, status FROM event_log WHERE provider = ? ORDER BY event_id").bind(provider).all<{ event_id: string; status: string }>();
  return logged.results;
}

describe("an import whose request died before its chunks were queued", () => {
  it("is completed by a retry with its Idempotency-Key: every chunk sent again, every row applied once", async () => {
    const file = rows("r");
    const headers = { "idempotency-key": "resume-never-sent" };
    const query = "?organization_id=org_resume";
    // The queue refuses the send and D1 refuses the write that would mark the import failed.
    const first = await postImport(file, { queue: downQueue, headers, query, env: { DB: failingWrites(env.DB, MARK_FAILED) } });
    expect(first.status).toBe(500);
    const [stuck] = (await storedImport("import-org_resume")).results;
    expect(stuck).toMatchObject({ status: "queued", chunks_total: 2, chunks_queued: 0, idempotency_key: "resume-never-sent" });
    // Not mistaken for done (nor for anything but waiting) while no chunk is queued.
    expect((await getReport(stuck!.id)).body).toMatchObject({ status: "queued", rows: { valid: 150, applied: 0, pending: 150 }, chunks: { total: 2, queued: 0 } });

    const { queue, sent, calls } = capturingQueue();
    const retry = await postImport(file, { queue, headers, query });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ id: stuck!.id, status: "queued", chunks: { total: 2, queued: 2 } });
    expect(calls).toHaveLength(1);
    // Rebuilt with the first attempt's id and acceptance time: the rows' event ids and versions.
    expect(sent.map((chunk) => ({ ...(chunk as object), rows: (chunk as { rows: unknown[] }).rows.length }))).toEqual([
      expect.objectContaining({ kind: "import", importId: stuck!.id, receivedAt: stuck!.created_at, chunk: 1, rows: 100 }),
      expect.objectContaining({ kind: "import", importId: stuck!.id, receivedAt: stuck!.created_at, chunk: 2, rows: 50 }),
    ]);
    expect((await storedImport("import-org_resume")).results).toEqual([{ ...stuck, chunks_queued: 2 }]);

    await deliverAll(sent);
    expect(await usersIn("import-org_resume")).toHaveLength(150);
    const logged = await loggedRows("import-org_resume");
    expect(logged).toHaveLength(150);
    expect(new Set(logged.map((row) => row.status))).toEqual(new Set(["applied"]));
    expect(logged[0]!.event_id).toBe(`${stuck!.id}:1`);
    expect((await changesIn("import-org_resume")).filter((change) => change.type === "user.created")).toHaveLength(150);
    expect((await getReport(stuck!.id)).body).toMatchObject({ status: "done", rows: { applied: 150, pending: 0 }, chunks: { total: 2, queued: 2 } });

    // Queued now: a further retry re-sends nothing.
    const again = await postImport(file, { queue, headers, query });
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(stuck!.id);
    expect(calls).toHaveLength(1);
  });

  it("a retry of an import whose chunks were all queued sends nothing", async () => {
    const { queue, calls } = capturingQueue();
    const file = rows("q");
    const headers = { "idempotency-key": "resume-queued" };
    const first = await postImport(file, { queue, headers, query: "?organization_id=org_queued" });
    expect(first.status).toBe(202);
    expect(first.body.chunks).toEqual({ total: 2, queued: 2 });
    expect((await storedImport("import-org_queued")).results).toMatchObject([{ status: "queued", chunks_total: 2, chunks_queued: 2 }]);
    expect(calls).toHaveLength(1);

    const retry = await postImport(file, { queue, headers, query: "?organization_id=org_queued" });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ id: first.body.id, chunks: { total: 2, queued: 2 } });
    expect(calls).toHaveLength(1);
  });

  it("re-sent chunks that had arrived the first time carry the same event ids: nothing applies twice", async () => {
    const provider = "import-org_arrived";
    const query = "?organization_id=org_arrived";
    const headers = { "idempotency-key": "resume-arrived" };
    const file = rows("a");
    // The chunks are sent, but the write marking them queued fails: they arrive, the import reads 0 queued.
    const first = capturingQueue();
    const posted = await postImport(file, { queue: first.queue, headers, query, env: { DB: failingWrites(env.DB, MARK_QUEUED) } });
    expect(posted.status).toBe(202);
    expect((await storedImport(provider)).results).toMatchObject([{ status: "queued", chunks_total: 2, chunks_queued: 0 }]);
    // Only the first chunk applied before the retry.
    await deliverAll(first.sent.slice(0, 1));
    const applied = await changesIn(provider);
    expect(applied.filter((change) => change.type === "user.created")).toHaveLength(100);
    expect((await getReport(posted.body.id)).body).toMatchObject({ status: "applying", rows: { applied: 100, pending: 50 }, chunks: { queued: 0 } });

    // Row 101 (the second chunk's first) went to the dead-letter queue meanwhile: it waits for an
    // operator's replay, and a client's retry must not apply it behind their back.
    await env.DB.prepare("INSERT INTO event_log (provider, event_id, source_type, status, attempts, received_at, updated_at) VALUES (?1, ?2, 'user_upserted', 'dead_lettered', 3, 0, 0)")
      .bind(provider, `${posted.body.id}:101`)
      .run();

    const again = capturingQueue();
    const retry = await postImport(file, { queue: again.queue, headers, query });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ id: posted.body.id, chunks: { total: 2, queued: 2 } });
    // Only rows without an outcome go again, identical to the first attempt's (same event ids,
    // same versions): the second chunk without its dead-lettered row 101.
    const [, secondChunk] = first.sent as { rows: { row: number }[] }[];
    expect(again.sent).toEqual([{ ...secondChunk, rows: secondChunk!.rows.filter((row) => row.row !== 101) }]);

    await deliverAll(again.sent);
    await deliverAll(again.sent); // and a redelivery of the retry's chunk changes nothing
    const changes = await changesIn(provider);
    expect(changes.filter((change) => change.type === "user.created")).toHaveLength(149);
    expect(changes).toHaveLength(149);
    const logged = await loggedRows(provider);
    expect(logged).toHaveLength(150);
    expect(logged.filter((row) => row.status === "applied")).toHaveLength(149);
    expect(logged.find((row) => row.event_id === `${posted.body.id}:101`)?.status).toBe("dead_lettered");
  });

  it("a done import still reading 0 chunks queued is not re-sent: only its count is put right", async () => {
    const provider = "import-org_done";
    const query = "?organization_id=org_done";
    const headers = { "idempotency-key": "resume-done" };
    const file = rows("d");
    const first = capturingQueue();
    const posted = await postImport(file, { queue: first.queue, headers, query, env: { DB: failingWrites(env.DB, MARK_QUEUED) } });
    await deliverAll(first.sent);
    expect((await getReport(posted.body.id)).body).toMatchObject({ status: "done", chunks: { total: 2, queued: 0 } });

    const again = capturingQueue();
    const retry = await postImport(file, { queue: again.queue, headers, query });
    expect(retry.status).toBe(200);
    expect(retry.body).toMatchObject({ id: posted.body.id, status: "done", chunks: { total: 2, queued: 2 } });
    expect(again.sent).toEqual([]);
    expect(await loggedRows(provider)).toHaveLength(150);
  });

  it("a send that fails marks the import failed and releases its key: the retry is a new import", async () => {
    const file = ndjson({ external_id: "u1" });
    const headers = { "idempotency-key": "resume-queue-down" };
    const query = "?organization_id=org_down";
    const first = await postImport(file, { queue: downQueue, headers, query });
    expect(first.status).toBe(503);
    expect(first.body).toMatchObject({ error: "queue_unavailable", import: { status: "failed", note: "queue_unavailable", chunks: { total: 1, queued: 0 } } });
    expect((await storedImport("import-org_down")).results).toMatchObject([{ status: "failed", idempotency_key: null, chunks_queued: 0 }]);

    const { queue, sent } = capturingQueue();
    const retry = await postImport(file, { queue, headers, query });
    expect(retry.status).toBe(202);
    expect(retry.body.id).not.toBe(first.body.import.id);
    expect(sent).toHaveLength(1);
  });
});

describe("a slow first request and its retry racing", () => {
  it("marking the chunks queued revives an import the other sender marked failed for a queue error; any other failure stays", async () => {
    const { markChunksQueued } = await import("../../src/import/record");
    const insert = (id: string, note: string) =>
      env.DB.prepare(
        `INSERT INTO imports (id, provider, organization_id, format, status, request_hash, rows_total, rows_valid, rows_invalid, chunks_total, chunks_queued, note, created_at, updated_at, finished_at)
         VALUES (?1, 'import-org_race', 'org_race', 'ndjson', 'failed', 'h', 150, 150, 0, 2, 0, ?2, 1, 1, 1)`,
      )
        .bind(id, note)
        .run();
    const read = (id: string) => env.DB.prepare("SELECT status, note, chunks_queued, finished_at FROM imports WHERE id = ?").bind(id).first();
    await insert("imp_race_queue_failed", "queue_unavailable");
    await insert("imp_race_other_failure", "resume_refused");
    await markChunksQueued(env.DB, "imp_race_queue_failed", 2);
    await markChunksQueued(env.DB, "imp_race_other_failure", 2);
    // The retry's sends succeeded: its rows are on their way, so `failed` would be wrong for good.
    expect(await read("imp_race_queue_failed")).toEqual({ status: "queued", note: null, chunks_queued: 2, finished_at: null });
    expect(await read("imp_race_other_failure")).toEqual({ status: "failed", note: "resume_refused", chunks_queued: 2, finished_at: 1 });
  });
});
