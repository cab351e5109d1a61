import { env } from "cloudflare:test";
import { beforeEach, describe, expect, it } from "vitest";
import { runAtomically } from "../../src/d1";
import { createRun, failRun, finish, markSeen, stageRemovals } from "../../src/reconcile/runs";
import { ROWS_PER_STATEMENT } from "../../src/retention/limits";
import { pruneRunScratch, RUN_SCRATCH_MAX_ROUND_TRIPS } from "../../src/retention/run-scratch";
import { count, insertNumbered, pruneUntilDone } from "./support";

/**
 * A run's scratch is dropped in the batch that ends it; what a late step writes after that (or
 * what a run left that no longer exists) is pruned. A running run's scratch is never touched.
 */

const now = Date.now();
const scratchOf = async (runId: string) => ({
  seen: await count("reconcile_seen", `run_id = '${runId}'`),
  pending: await count("reconcile_pending", `run_id = '${runId}'`),
});
const writeScratch = (runId: string, ids: string[]) =>
  runAtomically(env.DB, [...markSeen(runId, ids), ...stageRemovals(runId, ids.map((externalId) => ({ externalId, action: "forget" as const, record: null })))]);

describe("reconciliation scratch retention", () => {
  beforeEach(async () => {
    await env.DB.exec("DELETE FROM reconcile_runs; DELETE FROM reconcile_seen; DELETE FROM reconcile_pending;");
  });

  it("deletes the scratch of runs that ended or are gone, and keeps a running run's", async () => {
    const running = (await createRun(env.DB, { id: "scratch_running", provider: "firstup", scope: "a", trigger: "test", now }))!;
    const completed = (await createRun(env.DB, { id: "scratch_completed", provider: "firstup", scope: "b", trigger: "test", now }))!;
    const failed = (await createRun(env.DB, { id: "scratch_failed", provider: "firstup", scope: "c", trigger: "test", now }))!;
    await runAtomically(env.DB, [finish(completed.id, "completed", {}, null, now), ...failRun(failed.id, "boom", "failed", now)]);
    // Steps that committed after their run ended (the watchdog gave up on it meanwhile), and a run deleted since.
    for (const run of [running, completed, failed]) await writeScratch(run.id, ["u1", "u2"]);
    await writeScratch("scratch_gone", ["u3"]);

    expect(await pruneRunScratch(env.DB)).toEqual({ deleted: 10, runs: 3 });
    expect(await scratchOf(running.id)).toEqual({ seen: 2, pending: 2 });
    for (const id of [completed.id, failed.id, "scratch_gone"]) expect(await scratchOf(id)).toEqual({ seen: 0, pending: 0 });
    // Nothing left to do: one read.
    expect((await pruneUntilDone((d1) => pruneRunScratch(d1))).map((run) => run.roundTrips)).toEqual([1]);
  });

  it("deletes a large leftover over several invocations, each within its bound", async () => {
    const run = (await createRun(env.DB, { id: "scratch_big", provider: "firstup", scope: "", trigger: "test", now }))!;
    await runAtomically(env.DB, [finish(run.id, "failed", {}, null, now)]);
    const seen = 2 * ROWS_PER_STATEMENT + 1_500;
    await insertNumbered("reconcile_seen", "run_id, external_id", "?1, 'u' || i", seen, run.id);
    await insertNumbered("reconcile_pending", "run_id, external_id, action", "?1, 'u' || i, 'forget'", 3, run.id);

    const invocations = await pruneUntilDone((d1) => pruneRunScratch(d1));
    expect(invocations.map((invocation) => invocation.deleted)).toEqual([ROWS_PER_STATEMENT + 3, ROWS_PER_STATEMENT, 1_500, 0]);
    for (const invocation of invocations) expect(invocation.roundTrips).toBeLessThanOrEqual(RUN_SCRATCH_MAX_ROUND_TRIPS);
    expect(await scratchOf(run.id)).toEqual({ seen: 0, pending: 0 });
  });
});
