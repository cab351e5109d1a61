import { utf8Bytes } from "../queue-message";
import { csvRecords, type CsvRecord } from "./csv";
import { MAX_IMPORT_ROWS, MAX_REPORTED_ERRORS, MAX_ROW_BYTES } from "./limits";
import { IMPORT_FIELDS, validateRow, type ImportRow, type RowError, type RowErrorCode, type RowVerdict } from "./row";

/** A wrong header is echoed so the operator can fix it, but only this many names (64 characters each): a refusal stays small whatever the header. */
const MAX_ECHOED_COLUMNS = 20;

/**
 * A file of users → valid rows and per-line errors. A bad row never stops the others; only what
 * makes the whole file unreadable refuses it (no rows, a CSV without its header, too many rows).
 */

export type ImportFormat = "ndjson" | "csv";

export interface ParsedImport {
  ok: true;
  rows: ImportRow[];
  /** Each row's size as queued (UTF-8 bytes of its JSON), measured once here for chunkRows. */
  rowBytes: number[];
  /** Data rows in the file, valid or not (blank lines are not rows). */
  total: number;
  invalid: number;
  /** The first MAX_REPORTED_ERRORS invalid rows, in file order. */
  errors: RowError[];
}

export type ImportRefusal =
  | { ok: false; code: "import_empty" }
  | { ok: false; code: "csv_header_missing" }
  | { ok: false; code: "csv_header_invalid"; columns: string[] }
  | { ok: false; code: "too_many_rows" };

export function parseImport(text: string, format: ImportFormat): ParsedImport | ImportRefusal {
  const result: ParsedImport = { ok: true, rows: [], rowBytes: [], total: 0, invalid: 0, errors: [] };
  const add = (line: number, verdict: RowVerdict) => {
    // Measured as queued: a row must fit one queue message with its chunk's envelope.
    const bytes = verdict.ok ? utf8Bytes(JSON.stringify(verdict.row)) : 0;
    const checked = bytes > MAX_ROW_BYTES ? invalid("row_too_large") : verdict;
    if (checked.ok) {
      result.rows.push(checked.row);
      result.rowBytes.push(bytes);
      return;
    }
    result.invalid += 1;
    if (result.errors.length < MAX_REPORTED_ERRORS) result.errors.push({ row: result.total, line, code: checked.code, field: checked.field });
  };
  const next = (): boolean => {
    result.total += 1;
    return result.total <= MAX_IMPORT_ROWS;
  };

  if (format === "ndjson") {
    let line = 0;
    for (const text_ of text.split("\n")) {
      line += 1;
      const source = text_.endsWith("\r") ? text_.slice(0, -1) : text_;
      if (source.trim() === "") continue;
      if (!next()) return { ok: false, code: "too_many_rows" };
      add(line, ndjsonRow(source, result.total));
    }
  } else {
    const records = csvRecords(text);
    const header = records.next();
    if (header.done) return { ok: false, code: "import_empty" };
    const columns = csvColumns(header.value);
    if (!columns.ok) return columns.refusal;
    for (const record of records) {
      if ("fields" in record && record.fields.every((cell) => cell.trim() === "")) continue;
      if (!next()) return { ok: false, code: "too_many_rows" };
      add(record.line, csvRow(record, columns.names, result.total));
    }
  }
  return result.total === 0 ? { ok: false, code: "import_empty" } : result;
}

function ndjsonRow(source: string, row: number): RowVerdict {
  let value: unknown;
  try {
    value = JSON.parse(source);
  } catch {
    return invalid("row_invalid_json");
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return invalid("row_invalid_json");
  return validateRow(value as Record<string, unknown>, row);
}

const invalid = (code: RowErrorCode): RowVerdict => ({ ok: false, code, field: null });

/** The header's column names (trimmed, lower-cased): `external_id` is required, nothing unknown or repeated. */
function csvColumns(header: CsvRecord) {
  const refuse = (refusal: ImportRefusal) => ({ ok: false as const, refusal });
  // Without external_id, the first line is data (or not a header we know): its cells are never echoed.
  if (!("fields" in header)) return refuse({ ok: false, code: "csv_header_missing" });
  const names = header.fields.map((name) => name.trim().toLowerCase());
  if (!names.includes("external_id")) return refuse({ ok: false, code: "csv_header_missing" });
  const wrong = names.filter((name, index) => !(IMPORT_FIELDS as readonly string[]).includes(name) || names.indexOf(name) !== index);
  if (wrong.length) return refuse({ ok: false, code: "csv_header_invalid", columns: [...new Set(wrong)].slice(0, MAX_ECHOED_COLUMNS).map((name) => name.slice(0, 64)) });
  return { ok: true as const, names };
}

/**
 * CSV cells → the fields validateRow reads: an empty cell is absent, `active` is true/false, 1/0 or
 * yes/no, `groups` is split on `;` (a cell of only `;` is an empty list: the user is in no group).
 */
function csvRow(record: CsvRecord, columns: string[], row: number): RowVerdict {
  if (!("fields" in record)) return invalid("row_invalid_csv");
  if (record.fields.length !== columns.length) return invalid("row_column_count");
  const fields: Record<string, unknown> = {};
  columns.forEach((column, index) => {
    const cell = record.fields[index]!.trim();
    if (cell === "") return;
    if (column === "active") fields.active = CSV_BOOLEANS.get(cell.toLowerCase()) ?? cell;
    else if (column === "groups") fields.groups = cell.split(";").map((name) => name.trim()).filter(Boolean);
    else fields[column] = cell;
  });
  return validateRow(fields, row);
}

const CSV_BOOLEANS = new Map([["true", true], ["false", false], ["1", true], ["0", false], ["yes", true], ["no", false]]);
