import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { importGroupId } from "../../src/import/expand";
import { pruneEventLog } from "../../src/retention/event-log";
import { capturingQueue, changesIn, deliverAll, getReport, groupsIn, membersIn, ndjson, postImport, usersIn } from "../support/import";

/**
 * Bulk import end to end through the Worker's own queue consumer: POST a file, take the chunks it
 * queued, deliver them to queue() as Queues would, and read the directory, the change feed and the
 * report. (e2e.integration.test.ts does the same through the real Queue binding.)
 */

const DAY = 86_400_000;

describe("POST /admin/import (NDJSON)", () => {
  it("answers 202 at once, then applies the valid rows (users, groups, memberships, change feed) while invalid lines are reported", async () => {
    const { queue, sent } = capturingQueue();
    const file = ndjson(
      { external_id: "u1", email: "ann@example.com", first_name: "Ann", last_name: "Lee", groups: ["Engineering", "Sales"] },
      { external_id: "u2", email: "bob@example.com", active: false, groups: ["engineering"] },
      "{oops",
      { external_id: "u3", email: "not an email" },
      { external_id: "u4" },
    );
    const response = await postImport(file, { queue, query: "?organization_id=org_nd&directory_id=dir_nd" });
    expect(response.status).toBe(202);
    const id = response.body.id as string;
    expect(id).toMatch(/^imp_[0-9a-f]{24}$/);
    expect(response.headers.get("location")).toBe(`/admin/import/${id}`);
    expect(response.body).toMatchObject({
      status: "queued",
      provider: "import-org_nd",
      organization_id: "org_nd",
      directory_id: "dir_nd",
      format: "ndjson",
      rows: { total: 5, valid: 3, invalid: 2, applied: 0, pending: 3 },
      chunks: { total: 1, queued: 1 },
      errors: [
        { row: 3, line: 3, code: "row_invalid_json", field: null },
        { row: 4, line: 4, code: "row_invalid_email", field: "email" },
      ],
      errors_truncated: false,
    });
    // Nothing is applied on the request path.
    expect(await usersIn("import-org_nd")).toEqual([]);

    const [delivery] = await deliverAll(sent);
    expect(delivery!.result.explicitAcks).toEqual(delivery!.ids);

    expect(await usersIn("import-org_nd")).toEqual([
      { external_id: "u1", email: "ann@example.com", first_name: "Ann", last_name: "Lee", active: 1, organization_id: "org_nd", directory_id: "dir_nd" },
      { external_id: "u2", email: "bob@example.com", first_name: null, last_name: null, active: 0, organization_id: "org_nd", directory_id: "dir_nd" },
      { external_id: "u4", email: null, first_name: null, last_name: null, active: 1, organization_id: "org_nd", directory_id: "dir_nd" },
    ]);
    // One group per case-folded name, with a deterministic id; named as the latest row spells it.
    expect(importGroupId("engineering")).toBe(importGroupId("Engineering"));
    expect(await groupsIn("import-org_nd")).toEqual([
      { external_id: importGroupId("Sales"), name: "Sales", organization_id: "org_nd" },
      { external_id: importGroupId("Engineering"), name: "engineering", organization_id: "org_nd" },
    ]);
    expect(await membersIn("import-org_nd")).toEqual([
      ["Sales", "u1"],
      ["engineering", "u1"],
      ["engineering", "u2"],
    ]);
    const changes = await changesIn("import-org_nd");
    expect(changes.filter((change) => change.type === "user.created").map((change) => [change.subject, change.cause])).toEqual([
      ["u1", `${id}:1`],
      ["u2", `${id}:2`],
      ["u4", `${id}:5`],
    ]);
    expect(changes.filter((change) => change.type === "group.created")).toHaveLength(2);
    expect(changes.filter((change) => change.type === "group.member_added")).toHaveLength(3);

    // Each row is its own exactly-once event.
    const logged = await env.DB.prepare("SELECT event_id, status, source_type FROM event_log WHERE provider = 'import-org_nd' ORDER BY event_id").all();
    expect(logged.results).toEqual([1, 2, 5].map((row) => ({ event_id: `${id}:${row}`, status: "applied", source_type: "import.row" })));

    const report = await getReport(id);
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({ status: "done", rows: { total: 5, valid: 3, invalid: 2, applied: 3, held: 0, failed: 0, dead_lettered: 0, pending: 0 } });
    expect(report.body.finished_at).not.toBeNull();
  });

  it("a later row for the same user wins, whatever order the chunks apply in", async () => {
    const { queue, sent } = capturingQueue();
    const rows = Array.from({ length: 150 }, (_, i) => ({ external_id: `o${i}`, first_name: `first ${i}` }));
    rows[0] = { external_id: "same", first_name: "row 1" };
    rows[149] = { external_id: "same", first_name: "row 150" };
    rows[120] = { external_id: "same", first_name: "row 121" };
    expect((await postImport(ndjson(...rows), { queue, query: "?organization_id=org_order" })).status).toBe(202);
    expect(sent).toHaveLength(2);
    // The chunk holding rows 101-150 first, then rows 1-100.
    await deliverAll([sent[1], sent[0]]);
    const same = await env.DB.prepare("SELECT first_name FROM users WHERE provider = 'import-org_order' AND external_id = 'same'").first();
    expect(same).toEqual({ first_name: "row 150" });
  });

  it("a redelivered chunk applies nothing twice; a second POST of the same file is a new import that changes nothing", async () => {
    const { queue, sent } = capturingQueue();
    const file = ndjson({ external_id: "r1", email: "r1@example.com", groups: ["Ops"] }, { external_id: "r2", email: "r2@example.com" });
    const first = await postImport(file, { queue, query: "?organization_id=org_redeliver" });
    await deliverAll(sent);
    const changesAfterFirst = await changesIn("import-org_redeliver");
    expect(changesAfterFirst.length).toBeGreaterThan(0);

    // The same chunk again (a Queue redelivery): acked, no change recorded, still one log row per row.
    const [again] = await deliverAll(sent);
    expect(again!.result.explicitAcks).toEqual(again!.ids);
    expect(await changesIn("import-org_redeliver")).toEqual(changesAfterFirst);
    const logged = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE provider = 'import-org_redeliver'").first<{ n: number }>();
    expect(logged!.n).toBe(2);

    const second = await postImport(file, { queue, query: "?organization_id=org_redeliver" });
    expect(second.status).toBe(202);
    expect(second.body.id).not.toBe(first.body.id);
    await deliverAll(sent.slice(1));
    expect(await changesIn("import-org_redeliver")).toEqual(changesAfterFirst);
    expect((await getReport(second.body.id)).body).toMatchObject({ status: "done", rows: { applied: 2 } });
  });

  it("with an Idempotency-Key, a retried POST returns the first import (200) and queues nothing; another body under that key is 409", async () => {
    const { queue, sent } = capturingQueue();
    const file = ndjson({ external_id: "k1" });
    const headers = { "idempotency-key": "nightly-2026-11-23" };
    const first = await postImport(file, { queue, headers, query: "?organization_id=org_idem" });
    expect(first.status).toBe(202);
    const retry = await postImport(file, { queue, headers, query: "?organization_id=org_idem" });
    expect(retry.status).toBe(200);
    expect(retry.body.id).toBe(first.body.id);
    expect(sent).toHaveLength(1);
    const other = await postImport(ndjson({ external_id: "k2" }), { queue, headers, query: "?organization_id=org_idem" });
    expect(other.status).toBe(409);
    expect(other.body).toMatchObject({ error: "idempotency_key_reused" });
    // The same body into another namespace is another request too.
    expect((await postImport(file, { queue, headers, query: "?organization_id=org_idem&directory_id=d2" })).status).toBe(409);
    expect(sent).toHaveLength(1);
    expect((await postImport(file, { queue, headers: { "idempotency-key": "bad key" }, query: "?organization_id=org_idem" })).body).toMatchObject({
      error: "invalid_idempotency_key",
    });
  });

  it("a row naming groups sets the user's groups in the namespace; a row without groups leaves them alone", async () => {
    const { queue, sent } = capturingQueue();
    await postImport(ndjson({ external_id: "g1", groups: ["A", "B"] }, { external_id: "g2", groups: ["A"] }), { queue, query: "?organization_id=org_groups" });
    await postImport(ndjson({ external_id: "g1", groups: ["B", "C"] }, { external_id: "g2", first_name: "renamed" }), { queue, query: "?organization_id=org_groups" });
    await deliverAll(sent);
    expect(await membersIn("import-org_groups")).toEqual([
      ["A", "g2"],
      ["B", "g1"],
      ["C", "g1"],
    ]);
    // A group no row names any more stays (nothing is deleted for being absent).
    expect((await groupsIn("import-org_groups")).map((group) => group.name)).toEqual(["A", "B", "C"]);
  });

  it("the report outlives the event log's retention", async () => {
    const { queue, sent } = capturingQueue();
    const started = Date.now();
    const posted = await postImport(ndjson({ external_id: "p1" }, { external_id: "p2" }, "bad"), { queue, query: "?organization_id=org_prune" });
    await deliverAll(sent);
    const done = await getReport(posted.body.id);
    expect(done.body).toMatchObject({ status: "done", rows: { applied: 2, invalid: 1, pending: 0 } });

    // 40 days later the applied rows are gone from event_log.
    for (let pass = 0; pass < 5; pass++) await pruneEventLog(env.DB, started + 40 * DAY, 30);
    const left = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE provider = 'import-org_prune'").first<{ n: number }>();
    expect(left!.n).toBe(0);
    const later = await getReport(posted.body.id);
    expect(later.body).toMatchObject({ status: "done", rows: { total: 3, valid: 2, invalid: 1, applied: 2, pending: 0 }, errors: [{ row: 3, code: "row_invalid_json" }] });
  });

  it("a file whose every row is invalid is accepted as done, with its report", async () => {
    const { queue, sent } = capturingQueue();
    const response = await postImport(ndjson("nope", { email: "x@example.com" }), { queue, query: "?organization_id=org_allbad" });
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ status: "done", rows: { total: 2, valid: 0, invalid: 2, pending: 0 }, chunks: { total: 0 } });
    expect(response.body.finished_at).not.toBeNull();
    expect(sent).toEqual([]);
  });

  it("lists imports newest first, with a cursor", async () => {
    const { queue } = capturingQueue();
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await postImport(ndjson({ external_id: `l${i}` }), { queue, query: "?organization_id=org_list" })).body.id);
    const { callApp } = await import("../support/worker");
    const page = async (query: string) => (await (await callApp(new Request(`https://sync.example.com/admin/imports${query}`, { headers: { authorization: "Bearer test-admin-token" } }))).json()) as { imports: { id: string; errors?: unknown }[]; next_cursor: string | null };
    const all = await page("?limit=100");
    const mine = all.imports.map((row) => row.id).filter((id) => ids.includes(id));
    expect(mine).toEqual([...ids].reverse());
    expect(all.imports[0]).not.toHaveProperty("errors");
    const first = await page("?limit=1");
    expect(first.imports).toHaveLength(1);
    const second = await page(`?limit=1&cursor=${first.next_cursor}`);
    expect(second.imports[0]!.id).not.toBe(first.imports[0]!.id);
  });
});

describe("POST /admin/import (CSV)", () => {
  it("reads RFC 4180 CSV (quoted commas and quotes, CRLF, line breaks inside quotes) and applies it through the consumer", async () => {
    const { queue, sent } = capturingQueue();
    const file = [
      "external_id,email,first_name,last_name,active,groups",
      'c1,c1@example.com,"Lee, Ann","O""Hara",true,"Eng;Data, Science"',
      // A quoted line break is CSV, but no field may hold one: reported at the line the row starts on.
      'c2,c2@example.com,"two\r\nlines",X,true,',
      "c3,c3@example.com,Cy,Young,false,Eng",
      "c4,,,,,",
    ].join("\r\n");
    const response = await postImport(file, { queue, type: "text/csv; charset=utf-8", query: "?organization_id=org_csv" });
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({
      format: "csv",
      rows: { total: 4, valid: 3, invalid: 1 },
      errors: [{ row: 2, line: 3, code: "row_invalid_field", field: "first_name" }],
    });
    await deliverAll(sent);
    expect(await usersIn("import-org_csv")).toEqual([
      { external_id: "c1", email: "c1@example.com", first_name: "Lee, Ann", last_name: 'O"Hara', active: 1, organization_id: "org_csv", directory_id: null },
      { external_id: "c3", email: "c3@example.com", first_name: "Cy", last_name: "Young", active: 0, organization_id: "org_csv", directory_id: null },
      { external_id: "c4", email: null, first_name: null, last_name: null, active: 1, organization_id: "org_csv", directory_id: null },
    ]);
    expect(await membersIn("import-org_csv")).toEqual([
      ["Data, Science", "c1"],
      ["Eng", "c1"],
      ["Eng", "c3"],
    ]);
    expect((await getReport(response.body.id)).body).toMatchObject({ status: "done", rows: { applied: 3, pending: 0 } });
  });
});
