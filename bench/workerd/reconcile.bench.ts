import { env } from "cloudflare:test";
import { it } from "vitest";
import { defaultReconcileConfig } from "../../test/support/reconcile";
import { countingD1 } from "../../test/support/d1";
import { countUserWrites, capturingQueue } from "../../test/support/reconcile";
import { startOrResumeRun } from "../../src/reconcile/start";
import { continueRun } from "../../src/reconcile/steps";
import { loadRun } from "../../src/reconcile/runs";
import { scimUser, upstreamTenant } from "../../test/support/upstream";
import { report } from "./measure";

/**
 * Reconciliation of a 10,000-user directory served by the SCIM test server, twice: the first run
 * creates everyone, the second finds nothing changed. Steps run back to back here (the Queue's
 * delivery latency is left out), so wall time is the work itself.
 */
const USERS = Number(process.env.BENCH_USERS ?? 10_000);

it("reconciliation at 10k users", async () => {
  const tenant = upstreamTenant("bench-reconcile");
  const users = Array.from({ length: USERS }, (_, i) => scimUser(`r${String(i).padStart(6, "0")}`));
  await tenant.reset({ users, quirks: { fastList: true } });
  const runs = [];
  for (const label of ["first", "second"]) {
    const d1 = countingD1(env.DB);
    const userWrites = await countUserWrites();
    const requestsBefore = (await tenant.stats()).requests;
    const captured = capturingQueue();
    const start = performance.now();
    const { run } = await startOrResumeRun({ d1: d1.db, queue: captured.queue, now: Date.now }, "firstup", label);
    const stepTimes: number[] = [];
    let steps = 0;
    for (let message = captured.take(); message; message = captured.take()) {
      const stepStart = performance.now();
      const next = await continueRun(message, { d1: d1.db, clientFor: () => tenant.client(), config: defaultReconcileConfig, now: Date.now });
      stepTimes.push(performance.now() - stepStart);
      steps++;
      if (next) captured.sent.push(next);
    }
    const wallMs = performance.now() - start;
    const final = (await loadRun(env.DB, run.id))!;
    stepTimes.sort((a, b) => a - b);
    runs.push({
      label,
      status: final.status,
      wallMs,
      steps,
      stepMs: { median: stepTimes[Math.floor(stepTimes.length / 2)], max: stepTimes.at(-1) },
      pages: final.pages,
      scimRequests: (await tenant.stats()).requests - requestsBefore,
      userRowsWritten: await userWrites(),
      d1: { roundTrips: d1.roundTrips(), ...d1.rows() },
      report: { created: final.created, updated: final.updated, unchanged: final.unchanged },
    });
  }
  await report("reconcile", { users: USERS, pageSize: defaultReconcileConfig.pageSize, pagesPerMessage: defaultReconcileConfig.pagesPerMessage, runs });
}, 280_000);
