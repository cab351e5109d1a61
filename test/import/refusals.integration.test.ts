import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { MAX_IMPORT_BYTES, MAX_IMPORT_ROWS } from "../../src/import/limits";
import { ADMIN, BASE, capturingQueue, deliverAll, getReport, ndjson, postImport, usersIn } from "../support/import";
import { callApp } from "../support/worker";

/**
 * What POST /admin/import refuses, with which status and code, and that a refusal records and
 * queues nothing; namespace safety; admin-only access; the destructive guard on imported
 * deactivations.
 */

const importCount = async () => (await env.DB.prepare("SELECT count(*) AS n FROM imports").first<{ n: number }>())!.n;

async function refused(body: BodyInit, options: Parameters<typeof postImport>[1], status: number, error: string) {
  const { queue, sent } = capturingQueue();
  const before = await importCount();
  const response = await postImport(body, { queue, query: "?organization_id=org_refuse", ...options });
  expect(response.status).toBe(status);
  expect(response.body).toMatchObject({ error });
  expect(sent).toEqual([]);
  expect(await importCount()).toBe(before);
  return response;
}

describe("POST /admin/import refuses", () => {
  it("a body over the size cap, by its Content-Length: 413 payload_too_large", async () => {
    const body = "x".repeat(MAX_IMPORT_BYTES + 1);
    const response = await refused(body, {}, 413, "payload_too_large");
    expect(response.body.limit).toBe("bytes");
  });

  it("a streamed body without Content-Length, as soon as it passes the cap", async () => {
    const piece = new TextEncoder().encode(`${JSON.stringify({ external_id: "s".repeat(200) })}\n`);
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent > MAX_IMPORT_BYTES + piece.length) return controller.close();
        sent += piece.length;
        controller.enqueue(piece);
      },
    });
    const response = await refused(stream, {}, 413, "payload_too_large");
    expect(response.body.limit).toBe("bytes");
  });

  it("more rows than the cap: 413 payload_too_large, limit rows", async () => {
    const body = `external_id\n${Array.from({ length: MAX_IMPORT_ROWS + 1 }, (_, i) => `u${i}`).join("\n")}`;
    expect(body.length).toBeLessThan(MAX_IMPORT_BYTES);
    const response = await refused(body, { type: "text/csv" }, 413, "payload_too_large");
    expect(response.body.limit).toBe("rows");
  });

  it("a file under both caps whose rows would need more Queue calls than one request may make: 413, limit queue", async () => {
    // 50,000 rows of about 100 CSV bytes, each with 30 distinct two-letter groups: a JSON row is
    // well over twice its CSV line, past what 40 sendBatch calls carry.
    const groups = Array.from({ length: 30 }, (_, i) => String.fromCharCode(97 + (i % 26)) + String.fromCharCode(65 + Math.floor(i / 26))).join(";");
    const body = `external_id,groups\n${Array.from({ length: MAX_IMPORT_ROWS }, (_, i) => `${i},${groups}`).join("\n")}`;
    expect(body.length).toBeLessThan(MAX_IMPORT_BYTES);
    const response = await refused(body, { type: "text/csv" }, 413, "payload_too_large");
    expect(response.body.limit).toBe("queue");
  }, 120_000);

  it.each([
    ["no Content-Type", undefined],
    ["JSON", "application/json"],
    ["CSV in another charset", "text/csv; charset=iso-8859-1"],
  ])("%s: 415 unsupported_media_type", async (_label, type) => {
    const request = new Request(`${BASE}/import?organization_id=org_refuse`, {
      method: "POST",
      body: new TextEncoder().encode(ndjson({ external_id: "u1" })),
      headers: { ...ADMIN, ...(type ? { "content-type": type } : {}) },
    });
    const response = await callApp(request, { EVENTS_QUEUE: capturingQueue().queue });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({ error: "unsupported_media_type" });
  });

  it("an empty file, a CSV without its header row, a header with unknown columns, bytes that are not UTF-8: 400", async () => {
    await refused("", {}, 400, "import_empty");
    await refused("\n\n", {}, 400, "import_empty");
    await refused("external_id,email\n", { type: "text/csv" }, 400, "import_empty");
    const headerless = await refused("u1,ann@example.com\nu2,bob@example.com\n", { type: "text/csv" }, 400, "csv_header_missing");
    // The first line's values are never echoed back.
    expect(JSON.stringify(headerless.body)).not.toContain("ann@example.com");
    const unknown = await refused("external_id,mail\nu1,x@example.com\n", { type: "text/csv" }, 400, "csv_header_invalid");
    expect(unknown.body.columns).toEqual(["mail"]);
    await refused(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), {}, 400, "invalid_encoding");
  });

  it("a missing organization_id: 400 invalid_query", async () => {
    await refused(ndjson({ external_id: "u1" }), { query: "" }, 400, "invalid_query");
  });
});

describe("namespace safety", () => {
  it("writes only import namespaces: a webhook provider's or a SCIM connection's is refused", async () => {
    for (const provider of ["scalekit", "firstup", "scim-scn_0123456789abcdef01234567", "importer", "import-", "import:x", "Import"]) {
      const response = await refused(ndjson({ external_id: "u1" }), { query: `?organization_id=org_refuse&provider=${encodeURIComponent(provider)}` }, 400, "provider_not_importable");
      expect(response.body.message).toContain("import-<name>");
    }
    // An organization id that cannot name the default namespace needs an explicit one.
    await refused(ndjson({ external_id: "u1" }), { query: "?organization_id=org%20with%20spaces" }, 400, "invalid_query");
    const named = await postImport(ndjson({ external_id: "u1" }), { queue: capturingQueue().queue, query: "?organization_id=org%20with%20spaces&provider=import-spaced" });
    expect(named.status).toBe(202);
  });

  it("binds a namespace to the organization of its first import: another organization gets 409 namespace_taken", async () => {
    const { queue } = capturingQueue();
    expect((await postImport(ndjson({ external_id: "u1" }), { queue, query: "?organization_id=org_first&provider=import-shared" })).status).toBe(202);
    await refused(ndjson({ external_id: "u1" }), { query: "?organization_id=org_second&provider=import-shared" }, 409, "namespace_taken");
    expect((await postImport(ndjson({ external_id: "u2" }), { queue, query: "?organization_id=org_first&provider=import-shared" })).status).toBe(202);
  });

  it("an active:false row deactivates only the import namespace's user, never the IdP's user with the same id", async () => {
    await env.DB.prepare(
      `INSERT INTO users (provider, external_id, email, active, organization_id, created_at, updated_at, last_event_at, last_event_version)
       VALUES ('scalekit', 'shared-id', 'idp@example.com', 1, 'org_safe', 1, 1, 1, '000000000000001000000|evt')`,
    ).run();
    await env.DB.prepare(
      `INSERT INTO groups (provider, external_id, name, organization_id, created_at, updated_at, last_event_at, last_event_version)
       VALUES ('scalekit', ?, 'Eng', 'org_safe', 1, 1, 1, '000000000000001000000|evt')`,
    )
      .bind((await import("../../src/import/expand")).importGroupId("Eng"))
      .run();
    const { queue, sent } = capturingQueue();
    await postImport(ndjson({ external_id: "shared-id", email: "import@example.com", active: false, groups: ["Eng"] }), { queue, query: "?organization_id=org_safe" });
    await deliverAll(sent);
    expect(await env.DB.prepare("SELECT email, active FROM users WHERE provider = 'scalekit' AND external_id = 'shared-id'").first()).toEqual({ email: "idp@example.com", active: 1 });
    expect(await env.DB.prepare("SELECT count(*) AS n FROM group_members WHERE provider = 'scalekit'").first()).toEqual({ n: 0 });
    expect(await usersIn("import-org_safe")).toMatchObject([{ external_id: "shared-id", email: "import@example.com", active: 0 }]);
  });

  it("deactivations past the destructive guard are held for an operator, and the report says so", async () => {
    const { queue, sent } = capturingQueue();
    const people = Array.from({ length: 30 }, (_, i) => `d${String(i).padStart(2, "0")}`);
    await postImport(ndjson(...people.map((id) => ({ external_id: id }))), { queue, query: "?organization_id=org_guard" });
    await deliverAll(sent.splice(0));
    const off = await postImport(ndjson(...people.map((id) => ({ external_id: id, active: false }))), { queue, query: "?organization_id=org_guard" });
    await deliverAll(sent.splice(0));
    // max(DESTRUCTIVE_GUARD_MIN = 20, 5 % of 30) deactivations per window; the other 10 are held.
    const active = (await usersIn("import-org_guard")).filter((user) => user.active === 1);
    expect(active).toHaveLength(10);
    const report = await getReport(off.body.id);
    expect(report.body).toMatchObject({ status: "done", rows: { valid: 30, applied: 20, held: 10, pending: 0 } });
    const held = await env.DB.prepare("SELECT count(*) AS n FROM event_log WHERE provider = 'import-org_guard' AND status = 'held' AND reason = 'destructive_guard'").first();
    expect(held).toEqual({ n: 10 });
  });
});

describe("access", () => {
  it("needs an admin token: a read token gets 403 insufficient_scope, no token 401", async () => {
    const before = await importCount();
    const readEnv = { READ_TOKENS: "dash-read-token" };
    const read = { authorization: "Bearer dash-read-token" };
    const post = await callApp(new Request(`${BASE}/import?organization_id=org_auth`, { method: "POST", body: ndjson({ external_id: "u1" }), headers: { ...read, "content-type": "application/x-ndjson" } }), readEnv);
    expect(post.status).toBe(403);
    expect(await post.json()).toMatchObject({ error: "insufficient_scope" });
    for (const path of ["/import/imp_0123456789abcdef01234567", "/imports"]) {
      const get = await callApp(new Request(`${BASE}${path}`, { headers: read }), readEnv);
      expect(get.status).toBe(403);
      expect((await callApp(new Request(`${BASE}${path}`))).status).toBe(401);
    }
    const anonymous = await callApp(new Request(`${BASE}/import?organization_id=org_auth`, { method: "POST", body: "x", headers: { "content-type": "application/x-ndjson" } }));
    expect(anonymous.status).toBe(401);
    expect(await importCount()).toBe(before);
  });

  it("an unknown import id is 404", async () => {
    expect((await getReport("imp_0123456789abcdef01234567")).status).toBe(404);
    expect((await getReport("not-an-id")).status).toBe(404);
  });
});
