import { createScheduledController, env } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { eventually } from "../support/eventually";
import { handleScheduled } from "../../src/scheduled";
import { capturingQueue } from "../support/reconcile";
import { callApp } from "../support/worker";
import { scalekitEnvironment } from "../support/scalekit-environment";
import { scimUser, upstreamTenant } from "../support/upstream";


describe("cron triggers", () => {
  it("the nightly trigger reconciles end to end: cron → Queue → consumer → D1", async () => {
    // Tenant "default" is the upstream the real bindings point at (vitest.config.ts).
    const tenant = upstreamTenant("default");
    await tenant.reset({ users: Array.from({ length: 130 }, (_, i) => scimUser(`night-${i}`)), quirks: { countCap: 50 } });
    // Through the runtime's own scheduled() entry point (test-only flag service_binding_extra_handlers).
    const worker = exports.default as unknown as { scheduled(controller: ScheduledController): Promise<void> };
    await worker.scheduled(createScheduledController({ cron: "0 3 * * *", scheduledTime: Date.now() }));

    const run = await eventually(
      () => env.DB.prepare("SELECT status, created, scanned FROM reconcile_runs WHERE trigger = 'cron' AND provider = 'firstup'").first<{ status: string; created: number; scanned: number }>(),
      (value) => value?.status === "completed",
    );
    expect(run).toEqual({ status: "completed", created: 130, scanned: 130 });
    expect((await env.DB.prepare("SELECT count(*) AS n FROM users WHERE provider = 'firstup' AND external_id LIKE 'night-%'").first<{ n: number }>())?.n).toBe(130);
  });

  it("the hourly trigger starts an incremental Scalekit run, and only for Scalekit", async () => {
    await env.DB.exec("DELETE FROM reconcile_runs");
    const { queue, sent } = capturingQueue();
    const scalekitEnv = { ...scalekitEnvironment("scheduled-hourly").env(), EVENTS_QUEUE: queue };
    await handleScheduled(createScheduledController({ cron: "30 * * * *" }), scalekitEnv);
    expect(sent).toHaveLength(1);
    const runs = await env.DB.prepare("SELECT provider, scope, trigger FROM reconcile_runs WHERE trigger = 'hourly'").all();
    expect(runs.results).toEqual([{ provider: "scalekit", scope: "", trigger: "hourly" }]);
  });

  it("an invalid Scalekit setting does not stop Firstup's nightly run, and /healthz names a half-done one", async () => {
    await env.DB.exec("DELETE FROM reconcile_runs");
    const { queue, sent } = capturingQueue();
    const insecure = { SCALEKIT_ENVIRONMENT_URL: "http://scalekit.example", SCALEKIT_CLIENT_ID: "skc_x", SCALEKIT_CLIENT_SECRET: "secret" };
    await handleScheduled(createScheduledController({ cron: "0 3 * * *" }), { ...env, EVENTS_QUEUE: queue, ...insecure });
    expect((await env.DB.prepare("SELECT provider FROM reconcile_runs").all()).results).toEqual([{ provider: "firstup" }]);
    expect(sent).toHaveLength(1);
    const health = await callApp(new Request("https://sync.example/healthz"), { SCALEKIT_ENVIRONMENT_URL: "https://acme.scalekit.dev", SCALEKIT_CLIENT_ID: "skc_x" });
    expect(health.status).toBe(503);
    expect(((await health.json()) as { invalid_settings: unknown[] }).invalid_settings).toContainEqual({ setting: "SCALEKIT_CLIENT_SECRET", problem: "missing" });
  });

  it("the watchdog trigger starts nothing new, and nothing starts without a configured upstream", async () => {
    const { queue, sent } = capturingQueue();
    await handleScheduled(createScheduledController({ cron: "*/15 * * * *" }), { ...env, EVENTS_QUEUE: queue });
    await handleScheduled(createScheduledController({ cron: "30 * * * *" }), { ...env, EVENTS_QUEUE: queue, SCALEKIT_ENVIRONMENT_URL: "" });
    await handleScheduled(createScheduledController({ cron: "0 3 * * *" }), { ...env, EVENTS_QUEUE: queue, FIRSTUP_SCIM_URL: "", SCALEKIT_ENVIRONMENT_URL: "" });
    expect(sent).toEqual([]);
  });
});
