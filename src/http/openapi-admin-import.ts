import * as z from "zod";
import { importStatuses } from "../directory/schema";
import { MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, MAX_IMPORTS_PER_PAGE } from "../import/limits";
import { cursorOf } from "./opaque-cursor";
import { ADMIN_SECURITY, adminAuthResponses, cursorParam, defineRoute, errorBody, errorResponses, jsonResponse, nextCursor, pageLimit, timestamp } from "./openapi-common";

/**
 * The bulk import contract (src/http/admin-import.ts, src/import): POST a file of users, read its
 * report. Error codes the import adds are described here; their messages live in admin-import.ts.
 */

export const IMPORT_ERROR_CODES = [
  "unsupported_media_type",
  "invalid_encoding",
  "import_empty",
  "csv_header_missing",
  "csv_header_invalid",
  "provider_not_importable",
  "invalid_idempotency_key",
  "namespace_taken",
  "idempotency_key_reused",
] as const;
export type ImportErrorCode = (typeof IMPORT_ERROR_CODES)[number];

const importErrorBody = <const C extends readonly [ImportErrorCode, ...ImportErrorCode[]], S extends z.ZodRawShape = {}>(codes: C, extra: S = {} as S) =>
  z.object({ error: z.enum(codes), message: z.string(), ...extra });

const RowError = z
  .object({
    row: z.number().int().meta({ description: "The row's position among the file's data rows, from 1 (its event id is `<import id>:<row>`)." }),
    line: z.number().int().meta({ description: "The line the row starts on (a CSV header is line 1)." }),
    code: z.enum([
      "row_invalid_json",
      "row_invalid_csv",
      "row_column_count",
      "row_unknown_field",
      "row_missing_field",
      "row_invalid_field",
      "row_invalid_email",
      "row_invalid_active",
      "row_invalid_groups",
      "row_too_large",
    ]),
    field: z.string().nullable().meta({ description: "The field at fault, when there is one." }),
  })
  .meta({ id: "ImportRowError" });

export const ImportSummary = z
  .object({
    id: z.string().meta({ example: "imp_0f3c9d7e2a41b3c8d9e0f1a2" }),
    status: z.enum(importStatuses).meta({
      description:
        "queued (no row has an outcome yet), applying, done (every valid row applied, ignored, held or dead-lettered), failed (the chunks could not all be queued: `note`).",
    }),
    provider: z.string().meta({ description: "The import namespace its users and groups live under." }),
    organization_id: z.string(),
    directory_id: z.string().nullable(),
    format: z.enum(["ndjson", "csv"]),
    rows: z.object({
      total: z.number().int().meta({ description: "Data rows in the file, valid or not." }),
      valid: z.number().int(),
      invalid: z.number().int().meta({ description: "Rows refused with a per-line error; never applied." }),
      applied: z.number().int(),
      ignored: z.number().int(),
      held: z.number().int().meta({ description: "Deactivations past the destructive guard, waiting for an operator (POST /admin/events/…/release)." }),
      failed: z.number().int().meta({ description: "Rows whose last attempt failed; the queue retries them." }),
      dead_lettered: z.number().int().meta({ description: "Rows the queue gave up on: replay them from /admin/dead-letters or /admin/events." }),
      pending: z.number().int().meta({ description: "Valid rows with no outcome yet." }),
    }),
    chunks: z.object({ total: z.number().int(), queued: z.number().int() }),
    note: z.string().nullable(),
    created_at: z.iso.datetime(),
    updated_at: z.iso.datetime(),
    finished_at: timestamp,
  })
  .meta({ id: "ImportSummary" });

export const ImportReport = ImportSummary.extend({
  errors: z.array(RowError).meta({ description: "The first 1,000 invalid rows, in file order." }),
  errors_truncated: z.boolean().meta({ description: "More rows were invalid than `errors` lists (`rows.invalid` counts them all)." }),
  errors_pruned_at: timestamp.meta({ description: "When retention dropped the per-line errors (RETENTION_DAYS after the import finished)." }),
}).meta({ id: "ImportReport" });

const importId = z.object({ id: z.string().meta({ example: "imp_0f3c9d7e2a41b3c8d9e0f1a2" }) });
const text = (max: number) => z.string().min(1).max(max);

export const postImport = defineRoute({
  method: "post",
  path: "/import",
  summary: "Import users from NDJSON or CSV",
  description:
    `Validates every row, queues the valid ones and answers at once (202, \`Location\` names the report). At most ${MAX_IMPORT_BYTES} bytes and ${MAX_IMPORT_ROWS} rows. ` +
    "Rows are applied by the queue consumer, each exactly once as event `<import id>:<row>` under the import's namespace; invalid rows are reported per line and never stop the others. " +
    "An `Idempotency-Key` header makes a retried POST return the first import (200) instead of importing again.",
  security: ADMIN_SECURITY,
  request: {
    query: z.object({
      organization_id: text(256).meta({ description: "The organization every imported user and group belongs to." }),
      provider: text(64)
        .optional()
        .meta({ description: "The namespace: `import` or `import-<name>` (letters, digits, `.`, `_`, `-`). Default `import-<organization_id>`." }),
      directory_id: text(256).optional().meta({ description: "Recorded on every imported user." }),
    }),
    headers: z.object({
      "idempotency-key": z.string().min(1).max(255).optional().meta({ description: "Printable ASCII. The same key with the same request returns the first import." }),
    }),
    body: {
      required: true,
      content: {
        "application/x-ndjson": { schema: z.string().meta({ description: 'One JSON object a line: {"external_id", "email", "first_name", "last_name", "active", "groups": ["…"]}.' }) },
        "text/csv": { schema: z.string().meta({ description: "RFC 4180, UTF-8, a header row naming the columns (external_id required); groups separated by `;`." }) },
      },
    },
  },
  responses: {
    ...adminAuthResponses,
    200: jsonResponse(ImportReport, "The Idempotency-Key names an earlier import of this same request: that import."),
    202: { ...jsonResponse(ImportReport, "Accepted: rows are being applied."), headers: z.object({ Location: z.string() }) },
    400: jsonResponse(
      z.union([
        errorBody(["invalid_query", "invalid_authorization_header"], { issues: z.array(z.string()).optional() }),
        importErrorBody(["invalid_encoding", "import_empty", "csv_header_missing", "provider_not_importable", "invalid_idempotency_key"]),
        importErrorBody(["csv_header_invalid"], { columns: z.array(z.string()) }),
      ]),
      "The query, the header row or the file as a whole is unusable; nothing was recorded.",
    ),
    409: jsonResponse(importErrorBody(["namespace_taken", "idempotency_key_reused"]), "The namespace belongs to another organization, or the key was used for another request."),
    413: jsonResponse(errorBody(["payload_too_large"], { limit: z.enum(["bytes", "rows", "queue"]) }), "Too many bytes, rows, or queued bytes for one request; nothing was recorded."),
    415: jsonResponse(importErrorBody(["unsupported_media_type"]), "Content-Type must be application/x-ndjson or text/csv (UTF-8)."),
    503: jsonResponse(errorBody(["queue_unavailable"], { import: ImportReport.optional() }), "Not every chunk could be queued: the import is `failed`; queued rows still apply. Retry later."),
  },
});

export const getImportReport = defineRoute({
  method: "get",
  path: "/import/{id}",
  summary: "An import's progress and report",
  description: "Counts are refreshed from the event log on every read.",
  security: ADMIN_SECURITY,
  request: { params: importId },
  responses: { ...adminAuthResponses, 200: jsonResponse(ImportReport, "The import.") },
});

export const listImportReports = defineRoute({
  method: "get",
  path: "/imports",
  summary: "Imports, newest first",
  description: "Counts as last refreshed (by the consumer, or by reading the import).",
  security: ADMIN_SECURITY,
  request: { query: z.object({ cursor: cursorParam(cursorOf(z.tuple([z.number().int(), z.string()]))), limit: pageLimit(MAX_IMPORTS_PER_PAGE, 20) }) },
  responses: {
    ...adminAuthResponses,
    200: jsonResponse(z.object({ imports: z.array(ImportSummary), next_cursor: nextCursor }), "A page of imports."),
    400: errorResponses.invalidQuery,
  },
});
