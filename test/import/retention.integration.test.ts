import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { IMPORT_ERRORS_MAX_ROUND_TRIPS, pruneImportErrors } from "../../src/retention/import-errors";
import { RETENTION_STEPS } from "../../src/retention";
import { countingD1 } from "../support/d1";
import { capturingQueue, deliverAll, getReport, ndjson, postImport } from "../support/import";

const DAY = 86_400_000;

/** Retention drops a finished import's per-line errors after RETENTION_DAYS; the report's totals stay. */
describe("import errors retention", () => {
  it("drops the errors of imports finished before the cutoff, keeps the rest, in one round trip", async () => {
    const { queue, sent } = capturingQueue();
    const file = ndjson({ external_id: "ok" }, "broken", { external_id: "ok2", email: "nope" });
    const old = await postImport(file, { queue, query: "?organization_id=org_ret" });
    const recent = await postImport(file, { queue, query: "?organization_id=org_ret" });
    const unfinished = await postImport(file, { queue, query: "?organization_id=org_ret" });
    await deliverAll(sent.slice(0, 2));
    await getReport(old.body.id);
    await getReport(recent.body.id);
    const now = Date.now();
    await env.DB.prepare("UPDATE imports SET finished_at = ?, created_at = ? WHERE id = ?").bind(now - 31 * DAY, now - 31 * DAY, old.body.id).run();
    await env.DB.prepare("UPDATE imports SET created_at = ? WHERE id = ?").bind(now - 31 * DAY, unfinished.body.id).run();

    const d1 = countingD1(env.DB);
    expect(await pruneImportErrors(d1.db, now, 30)).toEqual({ pruned: 1 });
    expect(d1.roundTrips()).toBeLessThanOrEqual(IMPORT_ERRORS_MAX_ROUND_TRIPS);
    expect(RETENTION_STEPS.map((step) => step.name)).toContain("import_errors");

    const pruned = await getReport(old.body.id);
    expect(pruned.body).toMatchObject({ status: "done", rows: { total: 3, valid: 1, invalid: 2, applied: 1 }, errors: [], errors_truncated: false });
    expect(Date.parse(pruned.body.errors_pruned_at)).toBe(now);
    expect((await getReport(recent.body.id)).body.errors).toHaveLength(2);
    expect((await getReport(unfinished.body.id)).body).toMatchObject({ status: "queued", errors: [{ code: "row_invalid_json" }, { code: "row_invalid_email" }] });
    // Nothing more to do: a second pass prunes nothing.
    expect(await pruneImportErrors(env.DB, now, 30)).toEqual({ pruned: 0 });
  });
});
