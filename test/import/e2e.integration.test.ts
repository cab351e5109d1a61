import { env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eventually } from "../support/eventually";
import { MAX_ROW_BYTES } from "../../src/import/limits";
import { ADMIN, BASE, membersIn, ndjson, usersIn } from "../support/import";
import { rowOfBytes } from "../support/import-rows";

/** Nothing called directly: the Worker's fetch, the real Queue binding, workerd running queue(), D1. */
describe("bulk import through the real Queue", () => {
  it("a CSV file posted to the Worker is applied by its consumer, and the report reaches done", async () => {
    const rows = Array.from({ length: 250 }, (_, i) => `e${String(i).padStart(3, "0")},e${i}@example.com,First ${i},Last ${i},true,${i % 2 ? "Odd" : "Even"};All`);
    const file = ["external_id,email,first_name,last_name,active,groups", ...rows, "bad row without enough cells"].join("\r\n");
    const response = await exports.default.fetch(`${BASE}/import?organization_id=org_e2e`, {
      method: "POST",
      body: file,
      headers: { ...ADMIN, "content-type": "text/csv" },
    });
    expect(response.status).toBe(202);
    const location = response.headers.get("location")!;
    const read = async () => (await (await exports.default.fetch(`https://sync.example.com${location}`, { headers: ADMIN })).json()) as { status: string; rows: Record<string, number>; errors: unknown[] };
    const report = await eventually(read, (value) => value.status === "done", 20_000);
    expect(report).toMatchObject({ status: "done", rows: { total: 251, valid: 250, invalid: 1, applied: 250, pending: 0 }, errors: [{ row: 251, line: 252, code: "row_column_count" }] });
    expect(await usersIn("import-org_e2e")).toHaveLength(250);
    const members = await membersIn("import-org_e2e");
    expect(members.filter(([group]) => group === "All")).toHaveLength(250);
    expect(members.filter(([group]) => group === "Odd")).toHaveLength(125);
    const created = await env.DB.prepare("SELECT count(*) AS n FROM changes WHERE provider = 'import-org_e2e' AND type = 'user.created'").first();
    expect(created).toEqual({ n: 250 });
  });

  it("rows at the row size limit go through the real Queue's message and batch limits and apply", async () => {
    const rows = [1, 2, 3, 4].map((row) => rowOfBytes(`big${row}`, row, MAX_ROW_BYTES));
    const response = await exports.default.fetch(`${BASE}/import?organization_id=org_e2e_big`, {
      method: "POST",
      body: ndjson(...rows),
      headers: { ...ADMIN, "content-type": "application/x-ndjson" },
    });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { id: string; chunks: { total: number } };
    // One row a message (two do not fit 100 KiB), three messages a sendBatch call (256 KB).
    expect(body.chunks.total).toBe(4);
    const read = async () => (await (await exports.default.fetch(`${BASE}/import/${body.id}`, { headers: ADMIN })).json()) as { status: string; rows: Record<string, number> };
    expect(await eventually(read, (value) => value.status === "done", 20_000)).toMatchObject({ rows: { applied: 4 } });
    const groups = await env.DB.prepare("SELECT count(*) AS n FROM group_members WHERE provider = 'import-org_e2e_big' AND user_external_id = 'big1'").first<{ n: number }>();
    expect(groups!.n).toBe(rows[0]!.groups.length);
  });
});
