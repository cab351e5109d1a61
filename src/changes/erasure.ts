/**
 * Erasure in the change feed without an index by subject (migration 0011). When a user is erased,
 * the trigger (or directory/writes.ts forgetUsers, for an erasure older than a re-provisioning in
 * the same batch) records the subject in change_erasures; it never rewrites `changes` inside the
 * applying batch, which would need an index on (provider, subject): a second D1 row written for
 * every change, to serve the rare erasure.
 *
 * - Readers (the feed, notification delivery) select `data` through redactedData: an erased
 *   subject's `user.*` changes up to the erasure show ids only, from the moment it commits.
 * - The retention sweep (sweepErasures) then rewrites those rows in bounded windows of seq, and
 *   once a pass that began after an erasure reaches the end of the feed, drops the erasure.
 */

/**
 * Not the high-water marker migration 0010 leaves in a feed that retention had emptied (type
 * `feed.high_water`): it holds a seq so numbers are never reused, and no reader or relay shows it.
 */
export const NOT_MARKER_SQL = "type <> 'feed.high_water'";

/** The redacted payload of a user change: ids only, as the erasure trigger writes `user.forgotten`. */
const IDS_ONLY = (alias: string) => `json_object('user', json_object('id', ${alias}.subject))`;

/** Whether change `alias` is covered by an erasure of its subject. */
const ERASED = (alias: string) => `(${alias}.type LIKE 'user.%' AND EXISTS (
  SELECT 1 FROM change_erasures AS erased WHERE erased.provider = ${alias}.provider AND erased.subject = ${alias}.subject
    AND (${alias}.seq <= erased.through_seq OR ${alias}.occurred_at <= erased.through_occurred_at)))`;

/** `data` of change `alias` as readers may show it (SQL expression). */
export const redactedData = (alias: string) => `CASE WHEN ${ERASED(alias)} THEN ${IDS_ONLY(alias)} ELSE ${alias}.data END`;

/** Changes looked at per sweep statement: a range of the primary key, one probe of change_erasures per row. */
export const ERASURE_SWEEP_WINDOW = 100_000;
const WINDOWS_PER_CALL = 3;
/** The state read, then per window one batch (rewrite + position); plus the final drop. */
export const ERASURE_SWEEP_MAX_ROUND_TRIPS = 1 + WINDOWS_PER_CALL + 1;

const STATE_KEY = "retention:change_erasures";
const CLOCK_MARGIN_MS = 5 * 60 * 1000;

/**
 * Rewrites erased changes in place, a window of seq at a time, from where the last call stopped.
 * A pass starts when an erasure exists; when it reaches the newest change, the erasures recorded
 * before the pass began are done (every change they cover has been rewritten) and are dropped.
 * Costs one read when no erasure is pending.
 */
export async function sweepErasures(d1: D1Database, now: number, window = ERASURE_SWEEP_WINDOW): Promise<{ rewritten: number; dropped: number }> {
  const state = await d1
    .prepare(
      `SELECT (SELECT note FROM feed_state WHERE key = ?1) AS note, (SELECT count(*) FROM (SELECT 1 FROM change_erasures LIMIT 1)) AS pending,
              coalesce((SELECT max(seq) FROM changes), 0) AS latest`,
    )
    .bind(STATE_KEY)
    .first<{ note: string | null; pending: number; latest: number }>();
  if (!state || state.pending === 0) return { rewritten: 0, dropped: 0 };
  let pass = parsePass(state.note) ?? { after: 0, startedAt: now };
  let rewritten = 0;
  for (let i = 0; i < WINDOWS_PER_CALL && pass.after < state.latest; i++) {
    const through = Math.min(pass.after + window, state.latest);
    const [result] = await d1.batch([
      d1
        .prepare(`UPDATE changes SET data = ${IDS_ONLY("changes")} WHERE seq > ?1 AND seq <= ?2 AND ${ERASED("changes")} AND data <> ${IDS_ONLY("changes")}`)
        .bind(pass.after, through),
      d1
        .prepare("INSERT INTO feed_state (key, note) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET note = excluded.note")
        .bind(STATE_KEY, JSON.stringify({ after: through, startedAt: pass.startedAt })),
    ]);
    rewritten += result?.meta.changes ?? 0;
    pass = { after: through, startedAt: pass.startedAt };
  }
  if (pass.after < state.latest) return { rewritten, dropped: 0 };
  // The pass reached the end: erasures recorded before it began are fully applied. (A margin for
  // the clocks: an erasure's time is D1's or the consumer's, the pass's this Worker's.)
  const [dropped] = await d1.batch([
    d1.prepare("DELETE FROM change_erasures WHERE recorded_at < ?1").bind(pass.startedAt - CLOCK_MARGIN_MS),
    d1.prepare("DELETE FROM feed_state WHERE key = ?1").bind(STATE_KEY),
  ]);
  return { rewritten, dropped: dropped?.meta.changes ?? 0 };
}

function parsePass(note: string | null): { after: number; startedAt: number } | null {
  if (!note) return null;
  try {
    const value = JSON.parse(note) as { after?: unknown; startedAt?: unknown };
    return typeof value.after === "number" && typeof value.startedAt === "number" ? { after: value.after, startedAt: value.startedAt } : null;
  } catch {
    return null;
  }
}
