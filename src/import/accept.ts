import { bytesToHex } from "@noble/hashes/utils.js";
import { log } from "../log";
import { chunkRows, planSendBatches } from "./chunk";
import { parseImport, type ImportFormat } from "./parse";
import { createImport, findByIdempotencyKey, markQueueFailed, newImportId, type ImportRecord } from "./record";

/**
 * POST /admin/import, after the route checked auth, the query and the body's type and size:
 * parse and validate every row, chunk the valid ones into queue messages, record the import, queue
 * the chunks (sendBatch, in file order), answer. Nothing about the rows is applied here: the
 * consumer does that (consume.ts). A refused file records nothing and queues nothing.
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
  /** The Idempotency-Key names an import of this same request: that import, unchanged. */
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
    if (earlier) return sameRequest(earlier, requestHash);
  }

  let text: string;
  try {
    text = strictUtf8.decode(request.body); // a UTF-8 byte order mark is dropped
  } catch {
    return { outcome: "refused", status: 400, code: "invalid_encoding" };
  }
  const parsed = parseImport(text, request.format);
  if (!parsed.ok) {
    if (parsed.code === "too_many_rows") return { outcome: "refused", status: 413, code: "payload_too_large", limit: "rows" };
    if (parsed.code === "csv_header_invalid") return { outcome: "refused", status: 400, code: parsed.code, columns: parsed.columns };
    return { outcome: "refused", status: 400, code: parsed.code };
  }

  const id = newImportId();
  const now = deps.now();
  const envelope = { receivedAt: now, importId: id, provider: request.provider, organizationId: request.organizationId, directoryId: request.directoryId };
  const chunks = chunkRows(parsed.rows, envelope, parsed.rowBytes);
  const calls = planSendBatches(chunks);
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
    chunksQueued: chunks.length,
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
    // Another request with this key got in first (a client retry racing its original).
    const winner = request.idempotencyKey === null ? null : await findByIdempotencyKey(deps.d1, request.idempotencyKey);
    return winner ? sameRequest(winner, requestHash) : { outcome: "refused", status: 409, code: "idempotency_key_reused" };
  }

  let queued = 0;
  try {
    for (const call of calls) {
      await deps.queue.sendBatch(call.map((body) => ({ body, contentType: "json" as const })));
      queued += call.length;
    }
  } catch (error) {
    log("import.queue_failed", { importId: id, chunksQueued: queued, chunks: chunks.length, error: String(error) });
    await markQueueFailed(deps.d1, id, queued, deps.now());
    return { outcome: "queue_unavailable", record: { ...record, status: "failed", note: "queue_unavailable", chunksQueued: queued, idempotencyKey: null, finishedAt: deps.now() } };
  }
  log("import.accepted", { importId: id, provider: request.provider, format: request.format, rows: parsed.total, valid: parsed.rows.length, chunks: chunks.length, calls: calls.length });
  return { outcome: "accepted", record };
}

function sameRequest(earlier: ImportRecord, requestHash: string): AcceptOutcome {
  return earlier.requestHash === requestHash ? { outcome: "repeated", record: earlier } : { outcome: "refused", status: 409, code: "idempotency_key_reused" };
}

/** What makes two requests the same import: format, namespace, organization, directory and body bytes. */
async function hashRequest(request: ImportRequest): Promise<string> {
  const head = new TextEncoder().encode(JSON.stringify([request.format, request.provider, request.organizationId, request.directoryId]) + "\n");
  const all = new Uint8Array(head.length + request.body.length);
  all.set(head);
  all.set(request.body, head.length);
  return bytesToHex(new Uint8Array(await crypto.subtle.digest("SHA-256", all)));
}
