import { QUEUE_MESSAGE_VERSION } from "../../src/queue-message";
import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { createRun } from "../../src/reconcile/runs";
import { startOrResumeRun } from "../../src/reconcile/start";
import { capturingQueue } from "../support/reconcile";
import { upstreamTenant } from "../support/upstream";
import { callApp } from "../support/worker";

/** At most one running reconciliation per (provider, scope), decided by D1, not by a prior read. */

const tenant = upstreamTenant("one-running-run");
const runningRuns = async () => (await env.DB.prepare("SELECT id, scope FROM reconcile_runs WHERE provider = 'firstup' AND status = 'running'").all<{ id: string; scope: string }>()).results;

/**
 * env.DB, except that every INSERT into reconcile_runs waits until `callers` of them are pending.
 * By then every caller has read "nothing is running", so the check-then-insert race is certain to
 * happen rather than likely.
 */
function racingD1(callers: number): D1Database {
  let arrived = 0;
  let release!: () => void;
  const allArrived = new Promise<void>((resolve) => (release = resolve));
  const held = (statement: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(statement, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (typeof value !== "function") return value;
        if (property === "bind") return (...args: unknown[]) => held(value.apply(target, args));
        return async (...args: unknown[]) => {
          if (++arrived >= callers) release();
          await allArrived;
          return value.apply(target, args);
        };
      },
    });
  return new Proxy(env.DB, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (property === "prepare") {
        return (query: string) => {
          const statement = value.call(target, query);
          return /^insert into "reconcile_runs"/i.test(query) ? held(statement) : statement;
        };
      }
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

describe("one running reconciliation per provider and scope", () => {
  beforeEach(async () => {
    await env.DB.exec("DELETE FROM reconcile_runs;");
    await tenant.reset({ users: [] });
  });

  it("two starts at once create one run and queue one first step; the loser gets the winner's run", async () => {
    const captured = capturingQueue();
    const deps = { d1: racingD1(2), queue: captured.queue, now: Date.now };
    const [a, b] = await Promise.all([startOrResumeRun(deps, "firstup", "cron"), startOrResumeRun(deps, "firstup", "manual")]);
    expect([a.started, b.started].sort()).toEqual([false, true]);
    expect(a.run.id).toBe(b.run.id);
    expect(await runningRuns()).toEqual([{ id: a.run.id, scope: "" }]);
    expect(captured.sent).toEqual([{ v: QUEUE_MESSAGE_VERSION, kind: "reconcile", runId: a.run.id, phase: "scan", cursor: "1" }]);
  });

  it("POST /admin/reconcile/firstup twice at once: one 202 that started the run, one 200 with the same run", async () => {
    const captured = capturingQueue();
    const overrides = tenant.env({ DB: racingD1(2), EVENTS_QUEUE: captured.queue });
    const post = () => callApp(new Request("https://sync.example.com/admin/reconcile/firstup", { method: "POST", headers: { authorization: "Bearer test-admin-token" } }), overrides);
    const responses = await Promise.all([post(), post()]);
    expect(responses.map((response) => response.status).sort()).toEqual([200, 202]);
    const bodies = (await Promise.all(responses.map((response) => response.json()))) as { started: boolean; run: { id: string } }[];
    expect(bodies[0]!.run.id).toBe(bodies[1]!.run.id);
    expect(await runningRuns()).toHaveLength(1);
    expect(captured.sent).toHaveLength(1);
  });

  it("the database itself refuses a second running run of the same provider and scope", async () => {
    const insert = (id: string, scope: string, status = "running") =>
      env.DB.prepare("INSERT INTO reconcile_runs (id, provider, scope, status, phase, trigger, started_at, updated_at) VALUES (?, 'firstup', ?, ?, 'scan', 'test', 1, 1)")
        .bind(id, scope, status)
        .run();
    await insert("r1", "");
    await expect(insert("r2", "")).rejects.toThrow(/UNIQUE constraint failed/);
    // Other scopes, and runs that are not running, are not limited.
    await insert("r3", "dir_1");
    await insert("r4", "", "completed");
    expect(await createRun(env.DB, { id: "r5", provider: "firstup", trigger: "test", now: 1 })).toBeNull();
    expect(await createRun(env.DB, { id: "r6", provider: "firstup", scope: "dir_2", trigger: "test", now: 1 })).toMatchObject({ id: "r6", scope: "dir_2", status: "running" });
  });

  it("runs of different scopes run side by side", async () => {
    const captured = capturingQueue();
    const deps = { d1: env.DB, queue: captured.queue, now: Date.now };
    const whole = await startOrResumeRun(deps, "firstup", "manual");
    const directory = await startOrResumeRun(deps, "firstup", "manual", "dir_1");
    expect([whole.started, directory.started]).toEqual([true, true]);
    expect((await runningRuns()).map((run) => run.scope).sort()).toEqual(["", "dir_1"]);
  });

  it("a stalled run resumed by two callers at once is re-queued once", async () => {
    const captured = capturingQueue();
    let clock = Date.now();
    const deps = { d1: env.DB, queue: captured.queue, now: () => clock };
    const { run } = await startOrResumeRun(deps, "firstup", "manual");
    captured.sent.length = 0; // its chain is lost
    clock += 11 * 60 * 1000;
    const results = await Promise.all([startOrResumeRun(deps, "firstup", "manual"), startOrResumeRun(deps, "firstup", "cron")]);
    expect(results.map((result) => result.resumed).sort()).toEqual([false, true]);
    expect(captured.sent).toEqual([{ v: QUEUE_MESSAGE_VERSION, kind: "reconcile", runId: run.id, phase: "scan", cursor: "1" }]);
  });
});
