import { Hono } from "hono";
import { z } from "zod";
import { recentRuns, loadRun, type ReconcileRun } from "../reconcile/runs";
import { startOrResumeRun } from "../reconcile/start";
import { isUpstreamProvider, upstreamClient } from "../upstream";
import { adminAuth } from "./admin-auth";
import type { AppEnv } from "./app-env";
import { errorResponse } from "./errors";

/**
 * Operator routes under /admin (Bearer ADMIN_TOKEN):
 * - POST /admin/reconcile/:provider      start a reconciliation run now (or resume a stalled one)
 * - GET  /admin/reconcile/runs            recent runs (?provider=firstup&limit=20)
 * - GET  /admin/reconcile/runs/:id        one run's report
 */
export function adminRoutes() {
  const app = new Hono<AppEnv>();
  app.use("*", adminAuth());

  app.post("/reconcile/:provider", async (c) => {
    const provider = c.req.param("provider");
    if (!isUpstreamProvider(provider) || !upstreamClient(c.env, provider)) return errorResponse(c, 404, "provider_not_found");
    const result = await startOrResumeRun({ d1: c.env.DB, queue: c.env.EVENTS_QUEUE, now: c.get("now") }, provider, "manual");
    return c.json({ started: result.started, resumed: result.resumed, run: runReport(result.run) }, result.started ? 202 : 200);
  });

  const listQuery = z.object({
    provider: z.string().min(1).max(64).optional(),
    limit: z.coerce.number().int().min(1).max(100).default(20),
  });
  app.get("/reconcile/runs", async (c) => {
    const query = listQuery.safeParse(c.req.query());
    if (!query.success) return errorResponse(c, 400, "invalid_query", { issues: query.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.code}`) });
    const runs = await recentRuns(c.env.DB, query.data.provider ?? null, query.data.limit);
    return c.json({ runs: runs.map(runReport) });
  });

  app.get("/reconcile/runs/:id", async (c) => {
    const run = await loadRun(c.env.DB, c.req.param("id"));
    return run ? c.json(runReport(run)) : errorResponse(c, 404, "not_found");
  });
  return app;
}

/** A run as operators read it. Documented in README.md ("Reading a run's report"). */
export function runReport(run: ReconcileRun) {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: run.id,
    provider: run.provider,
    status: run.status,
    phase: run.phase,
    trigger: run.trigger,
    startedAt: iso(run.startedAt),
    finishedAt: iso(run.finishedAt),
    durationMs: run.finishedAt === null ? null : run.finishedAt - run.startedAt,
    checkpoint: { nextStartIndex: run.nextStartIndex, sweepAfter: run.sweepAfter },
    upstreamTotal: run.upstreamTotal,
    pages: run.pages,
    scanned: run.scanned,
    created: run.created,
    updated: run.updated,
    unchanged: run.unchanged,
    deactivated: run.deactivated,
    forgotten: run.forgotten,
    errors: run.errors,
    lastError: run.lastError,
    note: run.note,
  };
}
