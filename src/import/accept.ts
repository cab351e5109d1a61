import { bytesToHex } from "@noble/hashes/utils.js";
import { log } from "../log";
import type { ImportChunkMessage } from "../queue-message";
import { chunkRows, planSendBatches } from "./chunk";
import { parseImport, type ImportFormat, type ParsedImport } from "./parse";
import { createImport, findByIdempotencyKey, markChunksQueued, markQueueFailed, newImportId, type ImportRecord } from "./record";

/**
 * POST /admin/import, after the route checked auth, the query and the body's type and size:
 * parse and validate every row, chunk the valid ones into queue messages, record the import (with
 * no chunk queued yet), queue the chunks (sendBatch, in file order), mark them queued, answer.
 * Nothing about the rows is applied here: the consumer does that (consume.ts). A refused file
 * records nothing and queues nothing.
 *
 * A request that died between recording the import and marking its chunks queued (the isolate
 * killed, or the write marking it failed failing too) left it with `chunks_queued < chunks_total`:
 * the client's retry with the same Idempotency-Key re-sends every chunk (resume).
 */

export interface ImportRequest {
  format: ImportFormat;
  body: Uint8Array;
  provider: string;
  organizationId: string;
  directoryId: string | null;
  idempotencyKey: string | null;
}

export type AcceptOutcome =
  | { outcome: "accepted"; record: ImportRecord }
  /** The Idempotency-Key names an import of this same request: that import (its chunks re-sent if they may never have been). */
  | { outcome: "repeated"; record: ImportRecord }
  | { outcome: "queue_unavailable"; record: ImportRecord }
  | { outcome: "refused"; status: 400; code: "invalid_encoding" | "import_empty" | "csv_header_missing" }
  | { outcome: "refused"; status: 400; code: "csv_header_invalid"; columns: string[] }
  | { outcome: "refused"; status: 409; code: "namespace_taken" | "idempotency_key_reused" }
  | { outcome: "refused"; status: 413; code: "payload_too_large"; limit: "rows" | "queue" };

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false });

export async function acceptImport(deps: { d1: D1Database; queue: Queue; now: () => number }, request: ImportRequest): Promise<AcceptOutcome> {
  const requestHash = await hashRequest(request);
  if (request.idempotencyKey !== null) {
    const earlier = await findByIdempotencyKey(deps.d1, request.idempotencyKey);
    if (earlier) return earlier.requestHash === requestHash ? resume(deps, request, earlier) : { outcome: "refused", status: 409, code: "idempotency_key_reused" };
  }

  const parsed = parseBody(request);
  if (!parsed.ok) return parsed.refusal;

  const id = newImportId();
  const now = deps.now();
  const { chunks, calls } = chunksOf(parsed, request, id, now);
  if (calls === null) return { outcome: "refused", status: 413, code: "payload_too_large", limit: "queue" };

  const empty = parsed.rows.length === 0;
  const record: ImportRecord = {
    id,
    provider: request.provider,
    organizationId: request.organizationId,
    directoryId: request.directoryId,
    format: request.format,
    // Nothing valid to apply: done at once, with its report of errors.
    status: empty ? "done" : "queued",
    idempotencyKey: request.idempotencyKey,
    requestHash,
    rowsTotal: parsed.total,
    rowsValid: parsed.rows.length,
    rowsInvalid: parsed.invalid,
    chunksTotal: chunks.length,
    // Set to chunks_total once every sendBatch call succeeded (markChunksQueued).
    chunksQueued: 0,
    applied: 0,
    ignored: 0,
    held: 0,
    failed: 0,
    deadLettered: 0,
    errors: parsed.errors.length ? JSON.stringify(parsed.errors) : null,
    errorsPrunedAt: null,
    note: null,
    createdAt: now,
    updatedAt: now,
    finishedAt: empty ? now : null,
  };
  const created = await createImport(deps.d1, record);
  if (!created.ok) {
    if (created.reason === "namespace_taken") return { outcome: "refused", status: 409, code: "namespace_taken" };
    // Another request with this key got in first (a client retry racing its original). That one
    // is alive and sending its chunks: answered as a repeat, not resumed.
    const winner = request.idempotencyKey === null ? null : await findByIdempotencyKey(deps.d1, request.idempotencyKey);
    if (winner?.requestHash === requestHash) return { outcome: "repeated", record: winner };
    return { outcome: "refused", status: 409, code: "idempotency_key_reused" };
  }

  const queued = await queueChunks(deps, record, calls);
  if (!queued.ok) return queued.outcome;
  log("import.accepted", { importId: id, provider: request.provider, format: request.format, rows: parsed.total, valid: parsed.rows.length, chunks: chunks.length, calls: calls.length });
  return { outcome: "accepted", record: queued.record };
}

/**
 * A retry of an import (same Idempotency-Key, same request). When its chunks may never have been
 * sent (`chunks_queued < chunks_total`, not `failed`), they are rebuilt from the same body with the
 * import's own id and acceptance time, so every row keeps its event id (`<id>:<row>`) and version,
 * and all are sent again. Rows are exactly once by event id in event_log, so a chunk that did
 * arrive the first time applies nothing twice, and concurrent retries (or a first request that is
 * only slow) sending the same chunks at once are harmless too. A `done` import has an outcome for
 * every row, so the chunks did arrive: only the counter is put right (re-sending could apply rows
 * whose event_log entries retention has since pruned, or dead-lettered rows behind the operator's back).
 */
async function resume(deps: { d1: D1Database; queue: Queue; now: () => number }, request: ImportRequest, earlier: ImportRecord): Promise<AcceptOutcome> {
  if (earlier.chunksQueued >= earlier.chunksTotal || earlier.status === "failed") return { outcome: "repeated", record: earlier };
  if (earlier.status === "done") {
    await markChunksQueued(deps.d1, earlier.id, deps.now());
    return { outcome: "repeated", record: { ...earlier, chunksQueued: earlier.chunksTotal } };
  }
  const parsed = parseBody(request);
  const { chunks, calls } = parsed.ok ? chunksOf(parsed, request, earlier.id, earlier.createdAt) : { chunks: [], calls: null };
  // Same bytes, so the same chunks, unless a deploy in between changed how files are read or
  // chunked: then a row's number may not be the first attempt's. Nothing is sent; the import is
  // failed and its key released, so the client's next retry imports afresh.
  if (!parsed.ok || calls === null || chunks.length !== earlier.chunksTotal || parsed.rows.length !== earlier.rowsValid) {
    log("import.resume_refused", { importId: earlier.id, chunks: chunks.length, recorded: earlier.chunksTotal });
    return failQueued(deps, earlier, earlier.chunksQueued);
  }
  // Only rows with no outcome yet go again. A row the event log already holds in any status was
  // delivered: applied rows would be skipped anyway, but a dead-lettered or failed one must wait
  // for an operator's replay, not be applied behind their back by a client's retry.
  const delivered = await rowsWithOutcome(deps.d1, earlier);
  const pending = chunks.map((chunk) => ({ ...chunk, rows: chunk.rows.filter((row) => !delivered.has(row.row)) })).filter((chunk) => chunk.rows.length > 0);
  const pendingCalls = planSendBatches(pending) ?? calls;
  log("import.resumed", { importId: earlier.id, chunksQueued: earlier.chunksQueued, chunks: pending.length, rowsDelivered: delivered.size, calls: pendingCalls.length });
  // A failed send leaves the import as it is, resumable by the next retry: the first request may
  // still be sending, and marking the import failed under it would release the key while its rows apply.
  const queued = await queueChunks(deps, earlier, pendingCalls, { failImportOnError: false });
  return queued.ok ? { outcome: "repeated", record: queued.record } : queued.outcome;
}

/** Row numbers of the import that the event log holds, whatever their status (one primary-key range read). */
async function rowsWithOutcome(d1: D1Database, record: ImportRecord): Promise<Set<number>> {
  // Event ids are `<import id>:<row>`; ';' follows ':' in code-point order, so the range holds exactly this import's rows.
  const { results } = await d1
    .prepare("SELECT event_id FROM event_log WHERE provider = ?1 AND event_id > ?2 AND event_id < ?3")
    .bind(record.provider, `${record.id}:`, `${record.id};`)
    .all<{ event_id: string }>();
  return new Set(results.map((row) => Number(row.event_id.slice(record.id.length + 1))));
}

/**
 * Sends the chunks in order, then marks them queued (one write). When a call fails, the import is
 * marked failed and its key released (markQueueFailed). When only the marking fails, the chunks are
 * queued all the same: logged, and the import still reads `chunks_queued` 0 (a retry with its key
 * re-sends them, harmlessly).
 */
async function queueChunks(
  deps: { d1: D1Database; queue: Queue; now: () => number },
  record: ImportRecord,
  calls: ImportChunkMessage[][],
  options: { failImportOnError: boolean } = { failImportOnError: true },
): Promise<{ ok: true; record: ImportRecord } | { ok: false; outcome: AcceptOutcome }> {
  let queued = 0;
  try {
    for (const call of calls) {
      await deps.queue.sendBatch(call.map((body) => ({ body, contentType: "json" as const })));
      queued += call.length;
    }
  } catch (error) {
    log("import.queue_failed", { importId: record.id, chunksQueued: queued, chunks: record.chunksTotal, error: String(error) });
    if (!options.failImportOnError) return { ok: false, outcome: { outcome: "queue_unavailable", record } };
    return { ok: false, outcome: await failQueued(deps, record, queued) };
  }
  if (calls.length === 0) return { ok: true, record };
  const now = deps.now();
  await markChunksQueued(deps.d1, record.id, now).catch((error) => log("import.mark_queued_failed", { importId: record.id, error: String(error) }));
  return { ok: true, record: { ...record, chunksQueued: record.chunksTotal, updatedAt: now } };
}

/** Not every chunk could be queued: the import is failed (note `queue_unavailable`) and its key released. */
async function failQueued(deps: { d1: D1Database; now: () => number }, record: ImportRecord, queued: number): Promise<AcceptOutcome> {
  const now = deps.now();
  await markQueueFailed(deps.d1, record.id, queued, now);
  return { outcome: "queue_unavailable", record: { ...record, status: "failed", note: "queue_unavailable", chunksQueued: queued, idempotencyKey: null, finishedAt: now, updatedAt: now } };
}

/** The body's rows, or why the file is refused. */
function parseBody(request: ImportRequest): ParsedImport | { ok: false; refusal: AcceptOutcome } {
  let text: string;
  try {
    text = strictUtf8.decode(request.body); // a UTF-8 byte order mark is dropped
  } catch {
    return { ok: false, refusal: { outcome: "refused", status: 400, code: "invalid_encoding" } };
  }
  const parsed = parseImport(text, request.format);
  if (parsed.ok) return parsed;
  if (parsed.code === "too_many_rows") return { ok: false, refusal: { outcome: "refused", status: 413, code: "payload_too_large", limit: "rows" } };
  if (parsed.code === "csv_header_invalid") return { ok: false, refusal: { outcome: "refused", status: 400, code: parsed.code, columns: parsed.columns } };
  return { ok: false, refusal: { outcome: "refused", status: 400, code: parsed.code } };
}

/** The import's queue messages: they depend on nothing but the rows, the import's id and acceptance time, and the request's namespace. */
function chunksOf(parsed: ParsedImport, request: ImportRequest, importId: string, receivedAt: number) {
  const envelope = { receivedAt, importId, provider: request.provider, organizationId: request.organizationId, directoryId: request.directoryId };
  const chunks = chunkRows(parsed.rows, envelope, parsed.rowBytes);
  return { chunks, calls: planSendBatches(chunks) };
}

/** What makes two requests the same import: format, namespace, organization, directory and body bytes. */
async function hashRequest(request: ImportRequest): Promise<string> {
  const head = new TextEncoder().encode(JSON.stringify([request.format, request.provider, request.organizationId, request.directoryId]) + "\n");
  const all = new Uint8Array(head.length + request.body.length);
  all.set(head);
  all.set(request.body, head.length);
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", all)));
}
