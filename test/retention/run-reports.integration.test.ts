import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { runAtomically } from "../../src/d1";
import type { ReconcileStatus } from "../../src/directory/schema";
import { createRun, finish } from "../../src/reconcile/runs";
import { pruneRunReports, RUN_REPORT_WINDOW, RUN_REPORTS_MAX_ROUND_TRIPS } from "../../src/retention/run-reports";
import { count, DAY, insertNumbered, pruneUntilDone } from "./support";

/**
 * Run reports go once finished longer ago than RUN_REPORT_RETENTION_DAYS, but the newest finished
 * run of each (provider, scope) stays, and so does the newest completed one (Scalekit's hourly run
 * counts from it); a running run is never touched.
 */

const RUN_REPORT_RETENTION_DAYS = 90;
const now = Date.now();

/** A run of `provider`/`scope` that started `startedDaysAgo` and ran for an hour, ending as `status` (null: still running). */
async function run(id: string, provider: string, scope: string, startedDaysAgo: number, status: ReconcileStatus | null) {
  const started = now - startedDaysAgo * DAY;
  expect(await createRun(env.DB, { id, provider, scope, trigger: "test", now: started })).not.toBeNull();
  if (status && status !== "running") await runAtomically(env.DB, [finish(id, status, {}, null, started + 3_600_000)]);
}
const remaining = async () => (await env.DB.prepare("SELECT id FROM reconcile_runs ORDER BY id").all<{ id: string }>()).results.map((row) => row.id);

describe("run report retention", () => {
  beforeEach(async () => {
    await env.DB.exec("DELETE FROM reconcile_runs; DELETE FROM feed_state;");
  });

  it("deletes old reports but keeps each scope's newest finished and newest completed run, and running runs", async () => {
    // Scope a: completed, failed, completed, failed, all old.
    await run("a1", "scalekit", "a", 200, "completed");
    await run("a2", "scalekit", "a", 150, "failed");
    await run("a3", "scalekit", "a", 100, "completed");
    await run("a4", "scalekit", "a", 95, "guard_tripped");
    // Scope b: its only run, long ago (a directory no longer reconciled).
    await run("b1", "scalekit", "b", 300, "completed");
    // Scope c: an old run, and two recent ones.
    await run("c1", "scalekit", "c", 120, "completed");
    await run("c2", "scalekit", "c", 20, "failed");
    await run("c3", "scalekit", "c", 10, "completed");
    // Firstup's whole-upstream scope is its own: Scalekit's newer "" run does not count for it.
    await run("f1", "firstup", "", 110, "completed");
    await run("s1", "scalekit", "", 100, "completed");
    await run("s2", "scalekit", "", 5, "completed");
    // A run still running, started long ago.
    await run("r1", "scalekit", "d", 100, "completed");
    await run("r2", "scalekit", "d", 99, null);

    expect(await pruneRunReports(env.DB, now, RUN_REPORT_RETENTION_DAYS)).toEqual({ deleted: 4 });
    expect(await remaining()).toEqual(["a3", "a4", "b1", "c2", "c3", "f1", "r1", "r2", "s2"]);
    // Idempotent: the kept runs stay, however often it runs.
    expect(await pruneRunReports(env.DB, now, RUN_REPORT_RETENTION_DAYS)).toEqual({ deleted: 0 });
    expect(await remaining()).toEqual(["a3", "a4", "b1", "c2", "c3", "f1", "r1", "r2", "s2"]);
  });

  it("prunes more than one window over several invocations, each within its bound, and then costs one read", async () => {
    const old = 2 * RUN_REPORT_WINDOW + 200;
    await insertNumbered(
      "reconcile_runs",
      "id, provider, scope, status, phase, trigger, started_at, updated_at, finished_at",
      "'bulk_' || i, 'scalekit', 'dir_' || (i % 7), 'completed', 'done', 'cron', ?1 + i, ?1 + i, ?1 + i",
      old,
      now - 200 * DAY,
    );
    // Each scope's newest run, recent.
    await insertNumbered(
      "reconcile_runs",
      "id, provider, scope, status, phase, trigger, started_at, updated_at, finished_at",
      "'recent_' || i, 'scalekit', 'dir_' || (i % 7), 'completed', 'done', 'cron', ?1 + i, ?1 + i, ?1 + i",
      7,
      now - DAY,
    );

    const invocations = await pruneUntilDone((d1) => pruneRunReports(d1, now, RUN_REPORT_RETENTION_DAYS));
    expect(invocations.map((invocation) => invocation.deleted)).toEqual([RUN_REPORT_WINDOW, RUN_REPORT_WINDOW, 200, 0]);
    for (const invocation of invocations) expect(invocation.roundTrips).toBeLessThanOrEqual(RUN_REPORTS_MAX_ROUND_TRIPS);
    expect(invocations.at(-1)!.roundTrips).toBe(1);
    expect(await count("reconcile_runs")).toBe(7);
  });
});
