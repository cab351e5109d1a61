import { describe, expect, it } from "vitest";
import { rowsOf } from "../support/console-html";
import { signInConsole } from "../support/console";
import { capturingQueue, deliverAll, ndjson, postImport } from "../support/import";

/** The console's imports pages: the list (rows `import-row`, their `status`) and one import's report. */
describe("console: imports", () => {
  it("lists imports with their status and shows a report with its per-line errors, to viewers too", async () => {
    const { queue, sent } = capturingQueue();
    const done = await postImport(ndjson({ external_id: "c1" }, "not json", { external_id: "c2", email: "bad" }), { queue, query: "?organization_id=org_console" });
    await deliverAll(sent.splice(0));
    const queued = await postImport(ndjson({ external_id: "c3" }), { queue, query: "?organization_id=org_console" });

    const admin = await signInConsole();
    // The detail refreshes the counters from the event log.
    const detail = await admin.get(`/admin/console/imports/${done.body.id}`);
    expect(detail.status).toBe(200);
    const html = await detail.text();
    expect(html).toContain('data-testid="import-detail"');
    expect(rowsOf(html, "import-error-row").map((row) => row.html.replace(/<[^>]+>/g, " ").replace(/\s+/g, " ").trim())).toEqual([
      "2 2 row_invalid_json —",
      "3 3 row_invalid_email email",
    ]);

    const list = await admin.get("/admin/console/imports");
    expect(list.status).toBe(200);
    const rows = rowsOf(await list.text(), "import-row");
    expect(rows.map((row) => [row.attributes["data-import-id"], row.status])).toEqual([
      [queued.body.id, "queued"],
      [done.body.id, "done"],
    ]);

    const viewer = await signInConsole({ token: "viewer-token", overrides: { READ_TOKENS: "viewer-token" } });
    expect((await viewer.get("/admin/console/imports")).status).toBe(200);
    expect((await admin.get("/admin/console/imports/imp_0123456789abcdef01234567")).status).toBe(404);
  });
});
