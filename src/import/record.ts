import { and, desc, eq, lt, sql, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { runAtomically } from "../d1";
import { imports } from "../directory/schema";
import type { RowError } from "./row";

/**
 * The imports table: the only code that writes it (retention drops old per-line errors). An
 * import's row is recorded before its chunks are queued, so the consumer always finds it, with
 * `chunks_queued` 0 until every sendBatch call succeeded (markChunksQueued): an import whose request
 * died in between is told apart, and resumed by a retry with its Idempotency-Key (accept.ts). No
 * status or count is derived from `chunks_queued`: progress is read from the rows in event_log.
 */

export type ImportRecord = typeof imports.$inferSelect;

/** What `newImportId` issues; anything else is never looked up. */
export const IMPORT_ID = /^imp_[0-9a-f]{24}$/;

export function newImportId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(12));
  return `imp_${[...bytes].map((byte) => byte.toString(16).padStart(2, "0")).join("")}`;
}

export type CreateResult = { ok: true } | { ok: false; reason: "namespace_taken" | "idempotency_key_taken" };

/**
 * Records a new import. One statement, so it is race-free: it inserts nothing when the namespace
 * already belongs to another organization (an import namespace is bound to the organization of its
 * first import), and fails on the unique index when another import holds the Idempotency-Key.
 */
export async function createImport(d1: D1Database, record: ImportRecord): Promise<CreateResult> {
  const r = record;
  try {
    const [result] = await runAtomically(d1, [
      sql`
      INSERT INTO imports (id, provider, organization_id, directory_id, format, status, idempotency_key, request_hash,
                           rows_total, rows_valid, rows_invalid, chunks_total, chunks_queued, errors, note,
                           created_at, updated_at, finished_at)
      SELECT ${r.id}, ${r.provider}, ${r.organizationId}, ${r.directoryId}, ${r.format}, ${r.status}, ${r.idempotencyKey},
             ${r.requestHash}, ${r.rowsTotal}, ${r.rowsValid}, ${r.rowsInvalid}, ${r.chunksTotal}, ${r.chunksQueued},
             ${r.errors}, ${r.note}, ${r.createdAt}, ${r.updatedAt}, ${r.finishedAt}
      WHERE NOT EXISTS (SELECT 1 FROM imports WHERE provider = ${r.provider} AND organization_id <> ${r.organizationId})`,
    ]);
    return result?.meta.changes ? { ok: true } : { ok: false, reason: "namespace_taken" };
  } catch (error) {
    if (error instanceof Error && /UNIQUE constraint failed: imports\.idempotency_key/.test(error.message)) return { ok: false, reason: "idempotency_key_taken" };
    throw error;
  }
}

export async function getImport(d1: D1Database, id: string): Promise<ImportRecord | null> {
  if (!IMPORT_ID.test(id)) return null;
  return (await drizzle(d1).select().from(imports).where(eq(imports.id, id)).get()) ?? null;
}

export async function findByIdempotencyKey(d1: D1Database, key: string): Promise<ImportRecord | null> {
  return (await drizzle(d1).select().from(imports).where(eq(imports.idempotencyKey, key)).get()) ?? null;
}

/** Newest first, after the (created_at, id) cursor. */
export async function listImports(d1: D1Database, page: { after: [number, string] | null; limit: number }): Promise<ImportRecord[]> {
  return drizzle(d1)
    .select()
    .from(imports)
    .where(page.after ? sql`(${imports.createdAt}, ${imports.id}) < (${page.after[0]}, ${page.after[1]})` : undefined)
    .orderBy(desc(imports.createdAt), desc(imports.id))
    .limit(page.limit)
    .all();
}

/**
 * Every chunk was sent (by the first request or by a retry that resumed it). An import another
 * sender marked failed for a queue error meanwhile (a slow first request whose send failed while
 * a retry's succeeded) is queued again: its rows are on their way, and `failed` would stay for good.
 */
export async function markChunksQueued(d1: D1Database, id: string, now: number): Promise<void> {
  const revived = sql`${imports.status} = 'failed' AND ${imports.note} = 'queue_unavailable'`;
  await drizzle(d1)
    .update(imports)
    .set({
      chunksQueued: sql`chunks_total`,
      status: sql`CASE WHEN ${revived} THEN 'queued' ELSE ${imports.status} END`,
      note: sql`CASE WHEN ${revived} THEN NULL ELSE ${imports.note} END`,
      finishedAt: sql`CASE WHEN ${revived} THEN NULL ELSE ${imports.finishedAt} END`,
      updatedAt: now,
    })
    .where(eq(imports.id, id))
    .run();
}

/**
 * Not every chunk could be queued. Chunks already queued still apply; the key is released so the
 * client's retry makes a new import (re-applying a row that already applied changes nothing).
 * Nothing is written when a concurrent retry already queued every chunk: that import completes.
 */
export async function markQueueFailed(d1: D1Database, id: string, chunksQueued: number, now: number): Promise<void> {
  await drizzle(d1)
    .update(imports)
    .set({ status: "failed", note: "queue_unavailable", chunksQueued, idempotencyKey: null, finishedAt: now, updatedAt: now })
    .where(and(eq(imports.id, id), lt(imports.chunksQueued, imports.chunksTotal)))
    .run();
}

/** Brings the stored counters in line with event_log (refreshStatement). */
export async function refreshImports(d1: D1Database, ids: string[], now: number): Promise<void> {
  await runAtomically(d1, ids.map((id) => refreshStatement(id, now)));
}

/**
 * Counts the import's rows in event_log by status, over its primary-key range (provider,
 * `<id>:` … `<id>;`): at most one index entry per row of the import. Writes only when something
 * changed. Applied and ignored rows are pruned by event_log's retention, so once the import is
 * done those two are no longer counted: `ignored` only ever grows, and `applied` is what the
 * valid rows leave once ignored, held, failed and dead-lettered rows (never pruned) are counted.
 *
 * Status: `queued` until a row has an outcome, `applying`, then `done` once every valid row is
 * applied, ignored, held or dead-lettered (none still being retried). `done` and `failed` stay.
 */
function refreshStatement(id: string, now: number): SQL {
  const counted = (status: string) => sql.raw(`coalesce(sum(e.status = '${status}'), 0)`);
  return sql`
    UPDATE imports SET applied = n.applied, ignored = n.ignored, held = n.held, failed = n.failed,
      dead_lettered = n.dead_lettered, status = n.status, updated_at = ${now},
      finished_at = CASE WHEN n.status = 'done' THEN coalesce(imports.finished_at, ${now}) ELSE imports.finished_at END
    FROM (
      SELECT i.id,
        CASE WHEN i.status = 'done' THEN i.rows_valid - max(i.ignored, c.ignored) - c.held - c.failed - c.dead_lettered
             ELSE c.applied END AS applied,
        max(i.ignored, c.ignored) AS ignored, c.held, c.failed, c.dead_lettered,
        CASE WHEN i.status IN ('done', 'failed') THEN i.status
             WHEN c.failed = 0 AND c.applied + c.ignored + c.held + c.dead_lettered >= i.rows_valid THEN 'done'
             WHEN c.applied + c.ignored + c.held + c.failed + c.dead_lettered > 0 THEN 'applying'
             ELSE 'queued' END AS status
      FROM imports AS i, (
        SELECT ${counted("applied")} AS applied, ${counted("ignored")} AS ignored, ${counted("held")} AS held,
               ${counted("failed")} AS failed, ${counted("dead_lettered")} AS dead_lettered
        FROM event_log AS e
        WHERE e.provider = (SELECT provider FROM imports WHERE id = ${id}) AND e.event_id >= ${`${id}:`} AND e.event_id < ${`${id};`}
      ) AS c
      WHERE i.id = ${id}
    ) AS n
    WHERE imports.id = n.id
      AND (imports.applied, imports.ignored, imports.held, imports.failed, imports.dead_lettered, imports.status)
          <> (n.applied, n.ignored, n.held, n.failed, n.dead_lettered, n.status)`;
}

/** The stored per-line errors (empty once retention dropped them: see `errorsPrunedAt`). */
export function storedErrors(record: ImportRecord): RowError[] {
  if (record.errors === null) return [];
  try {
    return JSON.parse(record.errors) as RowError[];
  } catch {
    return [];
  }
}
