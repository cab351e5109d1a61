/**
 * Keeps the change feed bounded: changes older than the retention window are deleted in bounded
 * batches (by the watchdog cron), and `feed_state.pruned_through` remembers how far, so a reader
 * whose cursor points before it is told `cursor_expired` instead of silently missing changes.
 *
 * `recorded_at` grows with `seq` (both are assigned at commit, one transaction at a time), so the
 * expired changes are a prefix of the table in seq order: one bounded read of the oldest rows finds
 * it without an index on recorded_at.
 */

/** Changes deleted per call at most (one statement; the cron comes back every 15 minutes). */
export const PRUNE_BATCH = 5_000;
/** D1 round trips per call at most: the oldest change, the batch's seqs, the relay's position, the delete. */
export const PRUNE_MAX_ROUND_TRIPS = 4;

/**
 * `holdForRelay`: notifications are on, so a change is kept until it has been relayed to
 * change_deliveries, however old: pruning it first would lose its notification for good (an
 * endpoint switched off by a 410 for longer than the window holds the feed back, visibly).
 */
export async function pruneChanges(d1: D1Database, now: number, retentionDays: number, options: { holdForRelay?: boolean } = {}): Promise<number> {
  const cutoff = now - retentionDays * 24 * 3600 * 1000;
  // One row first: the common case (nothing old enough) costs one row read, not a batch.
  const first = await d1.prepare("SELECT recorded_at FROM changes ORDER BY seq LIMIT 1").first<{ recorded_at: number }>();
  if (!first || first.recorded_at >= cutoff) return 0;
  const oldest = await d1
    .prepare("SELECT seq, recorded_at, (SELECT max(seq) FROM changes) AS latest FROM changes ORDER BY seq LIMIT ?")
    .bind(PRUNE_BATCH)
    .all<{ seq: number; recorded_at: number; latest: number }>();
  let through = 0;
  for (const row of oldest.results) {
    if (row.recorded_at >= cutoff) break;
    through = row.seq;
  }
  // The newest change always stays, however old: seq is INTEGER PRIMARY KEY without AUTOINCREMENT
  // (migration 0010), so an empty table would hand out seq 1 again and readers' cursors would skip.
  through = Math.min(through, (oldest.results[0]?.latest ?? 0) - 1);
  if (options.holdForRelay) {
    const relayed = await d1.prepare("SELECT value FROM feed_state WHERE key = 'relayed_through'").first<{ value: number | null }>();
    through = Math.min(through, relayed?.value ?? 0);
  }
  if (through <= 0) return 0;
  const [deleted] = await d1.batch([
    d1.prepare("DELETE FROM changes WHERE seq <= ?").bind(through),
    d1
      .prepare(
        `INSERT INTO feed_state (key, value) VALUES ('pruned_through', ?1)
         ON CONFLICT (key) DO UPDATE SET value = max(coalesce(value, 0), excluded.value)`,
      )
      .bind(through),
    // Deliveries that ended (delivered, rejected, given up) go with their change; a pending one
    // stays visible to operators (its endpoint has been off for the whole window).
    d1.prepare("DELETE FROM change_deliveries WHERE seq <= ? AND status <> 'pending'").bind(through),
  ]);
  return deleted?.meta.changes ?? 0;
}
