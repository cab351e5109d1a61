import { QUEUE_MESSAGE_VERSION } from "../../src/queue-message";
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { capturingQueue } from "../support/reconcile";
import { scalekitEnvironment } from "../support/scalekit-environment";
import { upstreamTenant } from "../support/upstream";
import { callApp } from "../support/worker";

const BASE = "https://sync.example.com/admin";
const tenant = upstreamTenant("admin-routes");
const auth = { authorization: "Bearer test-admin-token" };

describe("operator routes", () => {
  beforeEach(async () => {
    await env.DB.exec("DELETE FROM reconcile_runs;");
    await tenant.reset({ users: [] });
  });

  it.each([
    ["no Authorization header", {}, 401, "unauthorized"],
    ["a wrong token", { authorization: "Bearer nope" }, 401, "unauthorized"],
    ["a token that is a prefix of the real one", { authorization: "Bearer test-admin" }, 401, "unauthorized"],
    ["a malformed header", { authorization: "Basic dXNlcjpwYXNz" }, 400, "invalid_authorization_header"],
  ])("rejects %s", async (_label, headers, status, code) => {
    for (const [method, path] of [["POST", "/reconcile/firstup"], ["GET", "/reconcile/runs"], ["GET", "/reconcile/runs/x"]] as const) {
      const response = await callApp(new Request(BASE + path, { method, headers }), tenant.env());
      expect(response.status).toBe(status);
      expect(await response.json()).toMatchObject({ error: code });
    }
  });

  it("accepts any token in the ADMIN_TOKEN rotation list", async () => {
    const response = await callApp(new Request(`${BASE}/reconcile/runs`, { headers: { authorization: "Bearer second-token" } }), tenant.env({ ADMIN_TOKEN: "first-token second-token" }));
    expect(response.status).toBe(200);
  });

  it("does not exist without a configured ADMIN_TOKEN", async () => {
    const response = await callApp(new Request(`${BASE}/reconcile/runs`, { headers: auth }), tenant.env({ ADMIN_TOKEN: "" }));
    expect(response.status).toBe(404);
  });

  it("starts a run (202), returns the running one on a second call (200), and reports it", async () => {
    const { queue, sent } = capturingQueue();
    const first = await callApp(new Request(`${BASE}/reconcile/firstup`, { method: "POST", headers: auth }), tenant.env({ EVENTS_QUEUE: queue }));
    expect(first.status).toBe(202);
    const started = (await first.json()) as { started: boolean; run: { id: string; status: string } };
    expect(started).toMatchObject({ started: true, run: { status: "running", provider: "firstup", trigger: "manual", pages: 0 } });
    expect(sent).toEqual([{ v: QUEUE_MESSAGE_VERSION, kind: "reconcile", runId: started.run.id, phase: "scan", cursor: "1" }]);

    const second = await callApp(new Request(`${BASE}/reconcile/firstup`, { method: "POST", headers: auth }), tenant.env({ EVENTS_QUEUE: queue }));
    expect(second.status).toBe(200);
    expect(await second.json()).toMatchObject({ started: false, resumed: false, run: { id: started.run.id } });
    expect(sent).toHaveLength(1);

    const report = await callApp(new Request(`${BASE}/reconcile/runs/${started.run.id}`, { headers: auth }), tenant.env());
    expect(await report.json()).toEqual({
      id: started.run.id,
      provider: "firstup",
      scope: "",
      status: "running",
      phase: "scan",
      trigger: "manual",
      startedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      finishedAt: null,
      durationMs: null,
      checkpoint: { nextStartIndex: 1, sweepAfter: "", stage: null, step: 0 },
      upstreamTotal: null,
      pages: 0,
      scanned: 0,
      created: 0,
      updated: 0,
      unchanged: 0,
      deactivated: 0,
      forgotten: 0,
      groupsChanged: 0,
      membershipsChanged: 0,
      errors: 0,
      lastError: null,
      note: null,
    });
    const list = await callApp(new Request(`${BASE}/reconcile/runs?provider=firstup&limit=5`, { headers: auth }), tenant.env());
    expect(((await list.json()) as { runs: unknown[] }).runs).toHaveLength(1);
  });

  it("starts a Scalekit discovery run when the Scalekit API is configured, and reports its stage", async () => {
    const environment = scalekitEnvironment("admin-discovery");
    await environment.reset({ organizations: [] });
    const scalekitEnv = environment.env();
    const response = await callApp(new Request(`${BASE}/reconcile/scalekit`, { method: "POST", headers: auth }), scalekitEnv);
    expect(response.status).toBe(202);
    const { run } = (await response.json()) as { run: { provider: string; scope: string; checkpoint: { stage: string | null; step: number } } };
    expect(run).toMatchObject({ provider: "scalekit", scope: "", checkpoint: { stage: "discovery", step: 0 } });
    expect(JSON.stringify(run)).not.toContain("pageToken");
  });

  it("is 404 for providers without a SCIM upstream, 400 for a bad query, 404 for an unknown run", async () => {
    const post = (provider: string, overrides: Partial<Env> = {}) => callApp(new Request(`${BASE}/reconcile/${provider}`, { method: "POST", headers: auth }), tenant.env(overrides));
    expect((await post("scalekit", { SCALEKIT_ENVIRONMENT_URL: "" })).status).toBe(404);
    expect((await post("firstup", { FIRSTUP_SCIM_URL: "" })).status).toBe(404);
    const bad = await callApp(new Request(`${BASE}/reconcile/runs?limit=100000`, { headers: auth }), tenant.env());
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: "invalid_query" });
    expect((await callApp(new Request(`${BASE}/reconcile/runs/nope`, { headers: auth }), tenant.env())).status).toBe(404);
  });
});
