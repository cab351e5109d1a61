import { NOT_MARKER_SQL, redactedData } from "./erasure";
import type { ReadScope } from "../directory/read";

/**
 * Reading the change feed (the `changes` table, filled by triggers: migrations/0007_change_feed.sql).
 *
 * Gap-free: `seq` is assigned inside the transaction that makes the change, and D1 runs one
 * transaction at a time, so when a reader sees seq N every seq below N is already committed (or
 * was never used). A reader that resumes after the last seq it saw therefore never skips one,
 * even while consumers are committing; unlike feeds whose ids are assigned before commit.
 *
 * Bounded: one read examines at most SCAN_WINDOW sequence numbers past the cursor, so a filter that
 * matches rarely still answers quickly; `next` is then the last seq examined, and following it
 * still misses nothing.
 */

export const SCAN_WINDOW = 10_000;

export const changeTypes = [
  "user.created",
  "user.updated",
  "user.deactivated",
  "user.reactivated",
  "user.deleted",
  "user.forgotten",
  "user.roles_changed",
  "group.created",
  "group.updated",
  "group.deleted",
  "group.member_added",
  "group.member_removed",
] as const;
export type ChangeType = (typeof changeTypes)[number];

export interface ChangeRow {
  seq: number;
  type: ChangeType;
  provider: string;
  organization_id: string | null;
  directory_id: string | null;
  subject: string;
  cause: string;
  source: string;
  data: string;
  occurred_at: number;
  recorded_at: number;
}

export interface ChangeFilters {
  types?: ChangeType[];
  organizationId?: string;
  provider?: string;
}

export type ChangePage =
  | { ok: true; changes: ChangeRow[]; next: number; latest: number }
  /** The cursor points before what retention kept: the reader must resync from a full listing. */
  | { ok: false; prunedThrough: number; latest: number };

const BOUNDS_SQL = `SELECT coalesce((SELECT max(seq) FROM changes), 0) AS latest,
                             coalesce((SELECT value FROM feed_state WHERE key = 'pruned_through'), 0) AS pruned`;

export async function readChanges(d1: D1Database, after: number, limit: number, filters: ChangeFilters, scope: ReadScope): Promise<ChangePage> {
  // An organization-scoped reader asking for another organization sees nothing, like a missing row.
  const organization = scope.organizationId ?? filters.organizationId ?? null;
  const foreign = scope.organizationId !== null && filters.organizationId !== undefined && filters.organizationId !== scope.organizationId;
  const windowEnd = after + SCAN_WINDOW;
  // One batch is one transaction: the bounds and the rows come from the same committed state.
  const [bounds, rows] = await d1.batch([
    d1.prepare(BOUNDS_SQL),
    d1
      .prepare(
        `SELECT seq, type, provider, organization_id, directory_id, subject, cause, source, ${redactedData("changes")} AS data, occurred_at, recorded_at
         FROM changes
         WHERE seq > ?1 AND seq <= ?2 AND ${NOT_MARKER_SQL}
           AND (?3 IS NULL OR organization_id = ?3)
           AND (?4 IS NULL OR provider = ?4)
           AND (?5 IS NULL OR type IN (SELECT value FROM json_each(?5)))
           AND ?7 = 0
         ORDER BY seq LIMIT ?6`,
      )
      .bind(after, windowEnd, organization, filters.provider ?? null, filters.types?.length ? JSON.stringify(filters.types) : null, limit, foreign ? 1 : 0),
  ]);
  const { latest: maxSeq, pruned: prunedThrough } = (bounds!.results[0] ?? { latest: 0, pruned: 0 }) as { latest: number; pruned: number };
  const latest = Math.max(maxSeq, prunedThrough);
  // Changes up to prunedThrough are gone: a reader behind them has missed some for good.
  // A cursor ahead of the feed was not issued by this feed (or the database was restored to an
  // earlier point): the reader must resync, not wait for sequence numbers it already passed.
  if (after < prunedThrough || after > latest) return { ok: false, prunedThrough, latest };
  const changes = rows!.results as unknown as ChangeRow[];
  // A full page resumes after its last change; a short one has examined everything committed up
  // to the window's end (or the latest seq, if that is lower).
  const next = changes.length === limit ? changes.at(-1)!.seq : Math.max(after, Math.min(latest, windowEnd));
  return { ok: true, changes, next, latest };
}

/** A change as the API and the outbound webhook show it. */
export function changeJson(row: ChangeRow) {
  return {
    seq: row.seq,
    type: row.type,
    provider: row.provider,
    organization_id: row.organization_id,
    directory_id: row.directory_id,
    subject: row.subject,
    cause: row.cause,
    source: row.source,
    occurred_at: new Date(row.occurred_at).toISOString(),
    recorded_at: new Date(row.recorded_at).toISOString(),
    data: JSON.parse(row.data) as Record<string, unknown>,
  };
}
