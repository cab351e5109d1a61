import * as z from "zod";
import { foldCase } from "../directory/fold";
import { MAX_IMPORT_ROWS } from "./limits";

/**
 * One user row of a bulk import: the fields a file may carry, how each is validated, and the shape
 * a valid row takes inside a queue message (queue-message.ts, kind `import`).
 *
 * Fields (NDJSON keys, CSV header columns): `external_id` (required), `email`, `first_name`,
 * `last_name`, `active` (default true), `groups` (names; NDJSON an array, CSV one cell separated
 * by `;`). Any other field is refused, so a misspelt column cannot silently drop a value.
 */

/**
 * The provider namespaces an import may write: `import`, or `import-<name>`. Only imports write
 * them, so an import can never overwrite, deactivate or regroup a user that an identity provider
 * (a webhook provider, reconciliation, a SCIM connection) manages.
 */
export const IMPORT_NAMESPACE = /^import(-[A-Za-z0-9._-]{1,57})?$/;
export const importNamespace = z.string().regex(IMPORT_NAMESPACE);

export const MAX_GROUPS_PER_ROW = 100;
export const MAX_GROUP_NAME_LENGTH = 256;
const MAX_ID_LENGTH = 256;
const MAX_EMAIL_LENGTH = 320;
const MAX_NAME_LENGTH = 1024;

/** No C0 control characters or DEL: ids and names end up in URLs, logs and SCIM filters. */
const printable = /^[^\u0000-\u001f\u007f]*$/;

/**
 * A valid row as queued. `row` is its position among the file's data rows (1-based): its event id
 * is `<import id>:<row>` and its version's tie-break. Absent `groups` leaves the user's groups
 * alone; present (even empty), it is the user's whole set of groups in the namespace.
 */
export const importRow = z.object({
  row: z.number().int().min(1).max(MAX_IMPORT_ROWS),
  external_id: z.string().min(1).max(MAX_ID_LENGTH),
  email: z.string().max(MAX_EMAIL_LENGTH).optional(),
  first_name: z.string().max(MAX_NAME_LENGTH).optional(),
  last_name: z.string().max(MAX_NAME_LENGTH).optional(),
  active: z.boolean(),
  groups: z.array(z.string().min(1).max(MAX_GROUP_NAME_LENGTH)).max(MAX_GROUPS_PER_ROW).optional(),
});
export type ImportRow = z.infer<typeof importRow>;

export const IMPORT_FIELDS = ["external_id", "email", "first_name", "last_name", "active", "groups"] as const;
export type ImportField = (typeof IMPORT_FIELDS)[number];

/** Why a row was not imported. Stable: documented in README.md ("Bulk import"). */
export type RowErrorCode =
  | "row_invalid_json"
  | "row_invalid_csv"
  | "row_column_count"
  | "row_unknown_field"
  | "row_missing_field"
  | "row_invalid_field"
  | "row_invalid_email"
  | "row_invalid_active"
  | "row_invalid_groups"
  | "row_too_large";

/** A rejected row: where it is in the file and why; never its values (they are personal data). */
export interface RowError {
  row: number;
  /** The physical line the row starts on (CSV: the header is line 1). */
  line: number;
  code: RowErrorCode;
  /** The field at fault: one of IMPORT_FIELDS, or for `row_unknown_field` the key as sent (cut to 64 characters). */
  field: string | null;
}

export type RowVerdict = { ok: true; row: ImportRow } | { ok: false; code: RowErrorCode; field: string | null };

const optionalText = (max: number) =>
  z
    .string()
    .trim()
    .max(max)
    .regex(printable)
    .nullish()
    .transform((value) => value || undefined);

/** Each field's rule, in the order they are checked; the first failure is the row's error. */
const fieldRules = {
  external_id: { code: "row_invalid_field", schema: z.string().trim().min(1).max(MAX_ID_LENGTH).regex(printable) },
  email: { code: "row_invalid_email", schema: z.union([z.null(), z.undefined(), z.literal(""), z.email().max(MAX_EMAIL_LENGTH)]).transform((value) => value || undefined) },
  first_name: { code: "row_invalid_field", schema: optionalText(MAX_NAME_LENGTH) },
  last_name: { code: "row_invalid_field", schema: optionalText(MAX_NAME_LENGTH) },
  active: { code: "row_invalid_active", schema: z.boolean().nullish().transform((value) => value ?? true) },
  groups: {
    code: "row_invalid_groups",
    schema: z
      .array(z.string().trim().min(1).max(MAX_GROUP_NAME_LENGTH).regex(printable))
      .max(MAX_GROUPS_PER_ROW)
      .nullish()
      .transform((names) => (names ? distinctGroupNames(names) : undefined)),
  },
} satisfies Record<ImportField, { code: RowErrorCode; schema: z.ZodType }>;

/**
 * Validates one row's fields (NDJSON values as parsed; CSV cells already mapped by csvFields).
 * Strings are trimmed and an empty one counts as absent.
 */
export function validateRow(fields: Record<string, unknown>, row: number): RowVerdict {
  const unknown = Object.keys(fields).find((key) => !(IMPORT_FIELDS as readonly string[]).includes(key));
  if (unknown !== undefined) return { ok: false, code: "row_unknown_field", field: unknown.slice(0, 64) };
  const id = fields.external_id;
  if (id === undefined || id === null || (typeof id === "string" && id.trim() === "")) return { ok: false, code: "row_missing_field", field: "external_id" };
  const values: Record<string, unknown> = {};
  for (const field of IMPORT_FIELDS) {
    const rule = fieldRules[field];
    const parsed = rule.schema.safeParse(fields[field]);
    if (!parsed.success) return { ok: false, code: rule.code, field };
    if (parsed.data !== undefined) values[field] = parsed.data;
  }
  return { ok: true, row: { row, ...values } as ImportRow };
}

/** Group names once each, compared as their ids are derived (case-folded: import/expand.ts); the first spelling wins. */
function distinctGroupNames(names: string[]): string[] {
  const seen = new Set<string>();
  return names.filter((name) => {
    const key = foldCase(name);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
