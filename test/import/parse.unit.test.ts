import { describe, expect, it } from "vitest";
import { MAX_IMPORT_ROWS, MAX_REPORTED_ERRORS } from "../../src/import/limits";
import { parseImport } from "../../src/import/parse";

const ndjson = (...lines: unknown[]) => lines.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n");

describe("parseImport: NDJSON", () => {
  it("validates each line; invalid lines are reported by row, line, code and field, valid ones kept", () => {
    const text = ndjson(
      { external_id: "u1", email: "ann@example.com", first_name: " Ann ", last_name: "Lee", active: true, groups: ["Eng", "eng", "Sales"] },
      "",
      "{not json",
      { email: "nobody@example.com" },
      { external_id: "u2", email: "not-an-email" },
      { external_id: "u3", active: "yes" },
      { external_id: "u4", groups: "Eng" },
      { external_id: "u5", emial: "typo@example.com" },
      "[1, 2]",
      { external_id: "u6", first_name: 7 },
      { external_id: "u7" },
    );
    const parsed = parseImport(text, "ndjson");
    if (!parsed.ok) throw new Error(parsed.code);
    expect(parsed.total).toBe(10);
    expect(parsed.invalid).toBe(8);
    expect(parsed.rows).toEqual([
      // Trimmed, `active` defaulting to true, group names once each (compared case-insensitively, first spelling kept).
      { row: 1, external_id: "u1", email: "ann@example.com", first_name: "Ann", last_name: "Lee", active: true, groups: ["Eng", "Sales"] },
      { row: 10, external_id: "u7", active: true },
    ]);
    expect(parsed.errors).toEqual([
      { row: 2, line: 3, code: "row_invalid_json", field: null },
      { row: 3, line: 4, code: "row_missing_field", field: "external_id" },
      { row: 4, line: 5, code: "row_invalid_email", field: "email" },
      { row: 5, line: 6, code: "row_invalid_active", field: "active" },
      { row: 6, line: 7, code: "row_invalid_groups", field: "groups" },
      { row: 7, line: 8, code: "row_unknown_field", field: "emial" },
      { row: 8, line: 9, code: "row_invalid_json", field: null },
      { row: 9, line: 10, code: "row_invalid_field", field: "first_name" },
    ]);
  });

  it("reads CRLF line ends, null as absent, and an empty group list as 'in no group'", () => {
    const parsed = parseImport(`${JSON.stringify({ external_id: "u1", email: null, active: false, groups: [] })}\r\n`, "ndjson");
    expect(parsed).toMatchObject({ ok: true, rows: [{ row: 1, external_id: "u1", active: false, groups: [] }] });
  });

  it("refuses a file without rows, and one with too many", () => {
    expect(parseImport("\n  \n", "ndjson")).toEqual({ ok: false, code: "import_empty" });
    const lines = Array.from({ length: MAX_IMPORT_ROWS + 1 }, (_, i) => `{"external_id":"u${i}"}`).join("\n");
    expect(parseImport(lines, "ndjson")).toEqual({ ok: false, code: "too_many_rows" });
    expect(parseImport(lines.slice(0, lines.lastIndexOf("\n")), "ndjson")).toMatchObject({ ok: true, total: MAX_IMPORT_ROWS });
  });

  it("counts every invalid row but keeps only the first errors", () => {
    const parsed = parseImport(Array.from({ length: MAX_REPORTED_ERRORS + 5 }, () => "nope").join("\n"), "ndjson");
    expect(parsed).toMatchObject({ ok: true, invalid: MAX_REPORTED_ERRORS + 5, rows: [] });
    if (parsed.ok) expect(parsed.errors).toHaveLength(MAX_REPORTED_ERRORS);
  });
});

describe("parseImport: CSV", () => {
  it("maps the header's columns (any order and case), quoted cells, booleans and ;-separated groups", () => {
    const text = [
      "Email,External_ID,first_name,last_name,active,groups",
      'ann@example.com,u1,"Lee, Ann","O""Brien",no,Eng; Sales',
      ",u2,,,,",
      // A line break inside quotes is CSV, but not a name: the row is refused, and lines still count.
      'bob@example.com,u3,"Bob\r\nJr",B,1,',
      "cy@example.com,u4,Cy,,YES,;",
    ].join("\r\n");
    const parsed = parseImport(text, "csv");
    expect({ ...parsed, rowBytes: undefined }).toEqual({
      ok: true,
      total: 4,
      invalid: 1,
      errors: [{ row: 3, line: 4, code: "row_invalid_field", field: "first_name" }],
      rows: [
        { row: 1, external_id: "u1", email: "ann@example.com", first_name: "Lee, Ann", last_name: 'O"Brien', active: false, groups: ["Eng", "Sales"] },
        { row: 2, external_id: "u2", active: true },
        // A cell of only separators: in no group. (An empty cell leaves groups alone: row 2.)
        { row: 4, external_id: "u4", email: "cy@example.com", first_name: "Cy", active: true, groups: [] },
      ],
    });

  });

  it("reports bad records by the line they start on and goes on", () => {
    const text = ["external_id,email,active", 'u1,"a\nb@example.com",true', "u2,x@example.com", 'u3,b"c,true', "u4,,maybe", "", ",,", "u5,ok@example.com,false"].join("\n");
    const parsed = parseImport(text, "csv");
    if (!parsed.ok) throw new Error(parsed.code);
    expect(parsed.errors).toEqual([
      { row: 1, line: 2, code: "row_invalid_email", field: "email" },
      { row: 2, line: 4, code: "row_column_count", field: null },
      { row: 3, line: 5, code: "row_invalid_csv", field: null },
      { row: 4, line: 6, code: "row_invalid_active", field: "active" },
    ]);
    // Blank lines and rows of empty cells are not rows.
    expect(parsed.rows).toEqual([{ row: 5, external_id: "u5", email: "ok@example.com", active: false }]);
    expect(parsed.total).toBe(5);
  });

  it("refuses a file without a header row, or with a column it does not know", () => {
    expect(parseImport("u1,ann@example.com,Ann\nu2,bob@example.com,Bob\n", "csv")).toEqual({ ok: false, code: "csv_header_missing" });
    expect(parseImport("external_id,emial,groups,groups\nu1,a@example.com,x,y", "csv")).toEqual({ ok: false, code: "csv_header_invalid", columns: ["emial", "groups"] });
    expect(parseImport("", "csv")).toEqual({ ok: false, code: "import_empty" });
    expect(parseImport("external_id,email\r\n", "csv")).toEqual({ ok: false, code: "import_empty" });
  });

  it("echoes at most 20 unknown column names, each cut to 64 characters, however wide the header", () => {
    const header = ["external_id", ...Array.from({ length: 5_000 }, (_, i) => `${"x".repeat(200)}${i}`)].join(",");
    const result = parseImport(`${header}\nu1`, "csv");
    expect(result).toMatchObject({ ok: false, code: "csv_header_invalid" });
    const columns = (result as { columns: string[] }).columns;
    expect(columns).toHaveLength(20);
    expect(columns.every((name) => name.length === 64)).toBe(true);
  });

  it("checks each field's bounds: too long, control characters, too many groups", () => {
    const text = [
      "external_id,first_name,groups",
      `${"x".repeat(257)},,`,
      `u1,${"n".repeat(1025)},`,
      `u2,"tab\there",`,
      `u3,,${Array.from({ length: 101 }, (_, i) => `g${i}`).join(";")}`,
      `u4,,${"g".repeat(257)}`,
    ].join("\n");
    const parsed = parseImport(text, "csv");
    if (!parsed.ok) throw new Error(parsed.code);
    expect(parsed.errors.map((error) => [error.code, error.field])).toEqual([
      ["row_invalid_field", "external_id"],
      ["row_invalid_field", "first_name"],
      ["row_invalid_field", "first_name"],
      ["row_invalid_groups", "groups"],
      ["row_invalid_groups", "groups"],
    ]);
  });
});
