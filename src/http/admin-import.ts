import type { Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { acceptImport } from "../import/accept";
import { MAX_IMPORT_BYTES } from "../import/limits";
import type { ImportFormat } from "../import/parse";
import { getImport, listImports, refreshImports, storedErrors, type ImportRecord } from "../import/record";
import { IMPORT_NAMESPACE } from "../import/row";
import { log } from "../log";
import type { AppEnv } from "./app-env";
import { errorResponse } from "./errors";
import { encodeCursor } from "./opaque-cursor";
import { getImportReport, listImportReports, postImport, type ImportErrorCode } from "./openapi-admin-import";
import { isoTime, TypedRouter } from "./openapi-common";

/**
 * Bulk import, for operators (mounted inside the admin router, admin tokens only):
 * - POST /admin/import?organization_id=…[&provider=import-…][&directory_id=…]   NDJSON or CSV → 202 + Location
 * - GET  /admin/import/:id                                                      progress and report
 * - GET  /admin/imports                                                         newest first (?cursor, limit)
 * The work is in src/import; README.md ("Bulk import") documents the rules.
 */

const MEDIA_TYPES: Record<string, ImportFormat> = { "application/x-ndjson": "ndjson", "application/ndjson": "ndjson", "text/csv": "csv" };
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

const messages: Record<ImportErrorCode, string> = {
  unsupported_media_type: "Send Content-Type: application/x-ndjson or text/csv, in UTF-8.",
  invalid_encoding: "The body is not valid UTF-8.",
  import_empty: "The file has no data rows.",
  csv_header_missing: "The first line of a CSV file must be a header row naming its columns, external_id among them.",
  csv_header_invalid: "The header row names a column that is not an import field, or names one twice (`columns`).",
  provider_not_importable: "Imports write only import namespaces: `import` or `import-<name>` (letters, digits, '.', '_', '-').",
  invalid_idempotency_key: "Idempotency-Key must be 1-255 printable ASCII characters.",
  namespace_taken: "This import namespace belongs to another organization. Choose another `provider`.",
  idempotency_key_reused: "This Idempotency-Key was used for a different request.",
};

/** The import's own error codes, as errors.ts words the shared ones. */
function importError<S extends ContentfulStatusCode, C extends ImportErrorCode, X extends Record<string, unknown> = {}>(c: Context, status: S, code: C, extra: X = {} as X) {
  return c.json({ error: code, message: messages[code], ...extra }, status);
}

export function importAdminRoutes() {
  const app = new TypedRouter<AppEnv>();
  // Refused on Content-Length before the body is read, or as soon as a streamed body passes the cap.
  app.use("/import", bodyLimit({ maxSize: MAX_IMPORT_BYTES, onError: (c) => errorResponse(c, 413, "payload_too_large", { limit: "bytes" }) }));

  app.openapi(postImport, async (c) => {
    const query = c.req.valid("query");
    const provider = query.provider ?? `import-${query.organization_id}`;
    if (!IMPORT_NAMESPACE.test(provider)) {
      // The default is named after the organization: say which parameter to set when it cannot be.
      if (query.provider === undefined) return errorResponse(c, 400, "invalid_query", { issues: ["provider: required (organization_id does not make a valid import-<name>)"] });
      return importError(c, 400, "provider_not_importable");
    }
    const format = MEDIA_TYPES[(c.req.header("content-type") ?? "").split(";")[0]!.trim().toLowerCase()];
    const charset = /;\s*charset="?([^";]+)"?/i.exec(c.req.header("content-type") ?? "")?.[1]?.toLowerCase();
    if (!format || (charset !== undefined && charset !== "utf-8")) return importError(c, 415, "unsupported_media_type");
    const idempotencyKey = c.req.header("idempotency-key") ?? null;
    if (idempotencyKey !== null && !IDEMPOTENCY_KEY.test(idempotencyKey)) return importError(c, 400, "invalid_idempotency_key");

    const result = await acceptImport(
      { d1: c.env.DB, queue: c.env.EVENTS_QUEUE, now: c.get("now") },
      { format, body: new Uint8Array(await c.req.arrayBuffer()), provider, organizationId: query.organization_id, directoryId: query.directory_id ?? null, idempotencyKey },
    );
    switch (result.outcome) {
      case "accepted":
        return c.json(importReport(result.record), 202, { Location: `/admin/import/${result.record.id}` });
      case "repeated": {
        await refreshImports(c.env.DB, [result.record.id], c.get("now")());
        return c.json(importReport((await getImport(c.env.DB, result.record.id)) ?? result.record), 200);
      }
      case "queue_unavailable":
        return errorResponse(c, 503, "queue_unavailable", { import: importReport(result.record) }, { "Retry-After": "30" });
      case "refused":
        log("import.refused", { provider, code: result.code });
        if (result.code === "payload_too_large") return errorResponse(c, 413, "payload_too_large", { limit: result.limit });
        if (result.code === "csv_header_invalid") return importError(c, 400, result.code, { columns: result.columns });
        if (result.status === 409) return importError(c, 409, result.code);
        return importError(c, 400, result.code);
    }
  });

  app.openapi(getImportReport, async (c) => {
    const id = c.req.valid("param").id;
    const record = await getImport(c.env.DB, id);
    if (!record) return errorResponse(c, 404, "not_found");
    // Progress is read from the event log; the stored counters follow it (and outlive its retention).
    await refreshImports(c.env.DB, [id], c.get("now")());
    return c.json(importReport((await getImport(c.env.DB, id)) ?? record), 200);
  });

  app.openapi(listImportReports, async (c) => {
    const query = c.req.valid("query");
    const rows = await listImports(c.env.DB, { after: query.cursor ?? null, limit: query.limit + 1 });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return c.json({ imports: page.map(importSummary), next_cursor: rows.length > query.limit && last ? encodeCursor([last.createdAt, last.id]) : null }, 200);
  });
  return app;
}

/** An import without its per-line errors, as lists show it. README.md ("Bulk import") documents each field. */
export function importSummary(record: ImportRecord) {
  const settled = record.applied + record.ignored + record.held + record.failed + record.deadLettered;
  return {
    id: record.id,
    status: record.status,
    provider: record.provider,
    organization_id: record.organizationId,
    directory_id: record.directoryId,
    format: record.format,
    rows: {
      total: record.rowsTotal,
      valid: record.rowsValid,
      invalid: record.rowsInvalid,
      applied: record.applied,
      ignored: record.ignored,
      held: record.held,
      failed: record.failed,
      dead_lettered: record.deadLettered,
      pending: Math.max(0, record.rowsValid - settled),
    },
    chunks: { total: record.chunksTotal, queued: record.chunksQueued },
    note: record.note,
    created_at: isoTime(record.createdAt),
    updated_at: isoTime(record.updatedAt),
    finished_at: isoTime(record.finishedAt),
  };
}

/** The whole report: the summary and the first per-line errors. */
export function importReport(record: ImportRecord) {
  const errors = storedErrors(record);
  return {
    ...importSummary(record),
    errors,
    errors_truncated: record.errorsPrunedAt === null && record.rowsInvalid > errors.length,
    errors_pruned_at: isoTime(record.errorsPrunedAt),
  };
}
