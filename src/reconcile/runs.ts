import { isClaimTaken } from "../consumer/event-log";
import { and, desc, eq, lt, sql, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { reconcileRuns, type ReconcileStatus } from "../directory/schema";

/**
 * The only code that writes reconcile_runs, reconcile_seen and reconcile_pending: a run's
 * checkpoint and report, and its scratch tables.
 */

export type ReconcileRun = typeof reconcileRuns.$inferSelect;
export type Phase = "scan" | "sweep" | "finish";

/** Removals per statement when a run finishes (bounds the JSON bound to one statement). */
export const REMOVALS_PER_STATEMENT = 500;

/** A running run that has not moved for this long has lost its queue chain and is resumed. */
export const STALL_AFTER_MS = 10 * 60 * 1000;

export interface Counters {
  pages?: number;
  scanned?: number;
  created?: number;
  updated?: number;
  unchanged?: number;
  deactivated?: number;
  forgotten?: number;
  errors?: number;
  groups_changed?: number;
  memberships_changed?: number;
}

export async function loadRun(d1: D1Database, id: string): Promise<ReconcileRun | null> {
  return (await drizzle(d1).select().from(reconcileRuns).where(eq(reconcileRuns.id, id)).get()) ?? null;
}

/** The running run for (provider, scope): at most one, by the unique index reconcile_runs_one_running_idx. */
export async function activeRun(d1: D1Database, provider: string, scope = ""): Promise<ReconcileRun | null> {
  const db = drizzle(d1);
  return (
    (await db
      .select()
      .from(reconcileRuns)
      .where(and(eq(reconcileRuns.provider, provider), eq(reconcileRuns.scope, scope), eq(reconcileRuns.status, "running")))
      .get()) ?? null
  );
}

export async function recentRuns(d1: D1Database, provider: string | null, limit: number): Promise<ReconcileRun[]> {
  const db = drizzle(d1);
  const query = db.select().from(reconcileRuns).orderBy(desc(reconcileRuns.startedAt)).limit(limit);
  return provider ? query.where(eq(reconcileRuns.provider, provider)).all() : query.all();
}

export async function stalledRuns(d1: D1Database, now: number): Promise<ReconcileRun[]> {
  return drizzle(d1)
    .select()
    .from(reconcileRuns)
    .where(and(eq(reconcileRuns.status, "running"), lt(reconcileRuns.updatedAt, now - STALL_AFTER_MS)))
    .all();
}

/**
 * Inserts a running run, or returns null when another run of this (provider, scope) is already
 * running. The database decides, not a prior read: two starts that both saw no running run race
 * into this insert, and the unique partial index lets exactly one of them win.
 */
export async function createRun(
  d1: D1Database,
  input: { id: string; provider: string; scope?: string; trigger: string; now: number; checkpoint?: string | null },
): Promise<ReconcileRun | null> {
  const [run] = await drizzle(d1)
    .insert(reconcileRuns)
    .values({
      id: input.id,
      provider: input.provider,
      scope: input.scope ?? "",
      trigger: input.trigger,
      status: "running",
      phase: "scan",
      checkpoint: input.checkpoint ?? null,
      startedAt: input.now,
      updatedAt: input.now,
    })
    .onConflictDoNothing()
    .returning();
  return run ?? null;
}

/** The checkpoint a run is at, as the queue message that continues it would carry. */
export function checkpointOf(run: ReconcileRun): { phase: Phase; cursor: string } {
  // A source that keeps its own checkpoint: the step count names it (page tokens can be long).
  if (run.checkpoint !== null) return { phase: run.phase === "done" ? "finish" : run.phase, cursor: `step:${run.step}` };
  if (run.phase === "scan") return { phase: "scan", cursor: String(run.nextStartIndex) };
  if (run.phase === "sweep") return { phase: "sweep", cursor: run.sweepAfter };
  return { phase: "finish", cursor: "" };
}

function increments(counters: Counters): SQL {
  const parts = Object.entries(counters)
    .filter(([, value]) => value)
    .map(([column, value]) => sql`${sql.raw(column)} = ${sql.raw(column)} + ${value}`);
  return parts.length ? sql`, ${sql.join(parts, sql`, `)}` : sql``;
}

/** Moves the checkpoint forward and adds to the report; part of the step's atomic batch. */
export function advance(
  runId: string,
  next: { phase: Phase; nextStartIndex?: number; sweepAfter?: string; upstreamTotal?: number; checkpoint?: string },
  counters: Counters,
  now: number,
): SQL {
  const sets: SQL[] = [sql`phase = ${next.phase}`, sql`updated_at = ${now}`];
  if (next.checkpoint !== undefined) sets.push(sql`checkpoint = ${next.checkpoint}`, sql`step = step + 1`);
  if (next.nextStartIndex !== undefined) sets.push(sql`next_start_index = ${next.nextStartIndex}`);
  if (next.sweepAfter !== undefined) sets.push(sql`sweep_after = ${next.sweepAfter}`);
  if (next.upstreamTotal !== undefined) sets.push(sql`upstream_total = ${next.upstreamTotal}`);
  return sql`UPDATE reconcile_runs SET ${sql.join(sets, sql`, `)}${increments(counters)} WHERE id = ${runId} AND status = 'running'`;
}

export function finish(runId: string, status: ReconcileStatus, counters: Counters, note: string | null, now: number): SQL {
  return sql`UPDATE reconcile_runs SET status = ${status}, phase = 'done', note = ${note}, finished_at = ${now}, updated_at = ${now}${increments(counters)}
             WHERE id = ${runId} AND status = 'running'`;
}

/** A step that failed: counted, and the error kept for the report (the queue retries the step). */
export async function recordStepError(d1: D1Database, runId: string, error: string, now: number): Promise<void> {
  await drizzle(d1)
    .update(reconcileRuns)
    .set({ errors: sql`${reconcileRuns.errors} + 1`, lastError: error, updatedAt: now })
    .where(eq(reconcileRuns.id, runId));
}

/**
 * Claims the resumption of a stalled run: true for exactly one of several callers that saw the
 * same `updated_at` (the watchdog and an operator at once), so the run's chain is restarted once.
 */
export async function claimResume(d1: D1Database, run: ReconcileRun, now: number): Promise<boolean> {
  const result = await d1
    .prepare("UPDATE reconcile_runs SET updated_at = ? WHERE id = ? AND status = 'running' AND updated_at = ?")
    .bind(now, run.id, run.updatedAt)
    .run();
  return result.meta.changes === 1;
}

/**
 * Ends a run as failed because retrying cannot help (the upstream's configuration is wrong). Its
 * staged removals are dropped with it: a failed run removes nobody.
 */
export function failRun(runId: string, error: string, note: string, now: number): SQL[] {
  return [
    sql`UPDATE reconcile_runs SET status = 'failed', phase = 'done', note = ${note}, last_error = ${error}, errors = errors + 1, finished_at = ${now}, updated_at = ${now}
        WHERE id = ${runId} AND status = 'running'`,
    ...dropScratch(runId),
  ];
}

export function markSeen(runId: string, externalIds: string[]): SQL[] {
  if (externalIds.length === 0) return [];
  return [sql`INSERT OR IGNORE INTO reconcile_seen (run_id, external_id) SELECT ${runId}, s.value FROM json_each(${JSON.stringify(externalIds)}) AS s`];
}

export async function alreadySeen(d1: D1Database, runId: string, externalIds: string[]): Promise<boolean> {
  const row = await d1
    .prepare("SELECT count(*) AS n FROM reconcile_seen WHERE run_id = ? AND external_id IN (SELECT value FROM json_each(?))")
    .bind(runId, JSON.stringify(externalIds))
    .first<{ n: number }>();
  return (row?.n ?? 0) > 0;
}

export interface PendingRemoval {
  externalId: string;
  action: "deactivate" | "forget";
  /** For deactivations: the users row to upsert (JSON, as directory/writes.ts userRow builds it). */
  record: Record<string, unknown> | null;
}

export function stageRemovals(runId: string, removals: PendingRemoval[]): SQL[] {
  if (removals.length === 0) return [];
  return [
    sql`INSERT OR REPLACE INTO reconcile_pending (run_id, external_id, action, record)
        SELECT ${runId}, p.value ->> 'externalId', p.value ->> 'action', p.value ->> 'record'
        FROM json_each(${JSON.stringify(removals.map((removal) => ({ ...removal, record: removal.record ? JSON.stringify(removal.record) : null })))}) AS p`,
  ];
}

export async function stagedRemovals(d1: D1Database, runId: string): Promise<PendingRemoval[]> {
  const rows = await d1
    .prepare("SELECT external_id, action, record FROM reconcile_pending WHERE run_id = ? ORDER BY external_id")
    .bind(runId)
    .all<{ external_id: string; action: "deactivate" | "forget"; record: string | null }>();
  return rows.results.map((row) => ({ externalId: row.external_id, action: row.action, record: row.record ? JSON.parse(row.record) : null }));
}

export function dropScratch(runId: string): SQL[] {
  return [sql`DELETE FROM reconcile_seen WHERE run_id = ${runId}`, sql`DELETE FROM reconcile_pending WHERE run_id = ${runId}`];
}

/** A unique-key failure on a step's claim: another delivery of the same step committed first. */
export const isLostRace = isClaimTaken;
