/**
 * A bounded pass over a table in insertion order, for tables whose age column has no index
 * (dead_letters.recorded_at, reconcile_runs.started_at).
 *
 * Each row's age column is set when the row is inserted, and SQLite gives a new row a rowid above
 * every existing one, so rowid order is (nearly) age order: the rows past a cutoff are the front
 * of the table, found by reading from the front and stopping at the first young row, without an
 * index on the age column. The order is only a shortcut: every delete checks the age again.
 *
 * A prune keeps some old rows (a dead letter whose event is unresolved, a scope's last run report),
 * and they stay at the front. So that a long run of them cannot stall the prune, the position
 * after the last row looked at is remembered (feed_state, key `retention:<table>`): the next
 * invocation goes on from there. Once a pass reaches young rows the next one starts over from the
 * front, so a kept row that may now go (its event was replayed since) is looked at again.
 */

/** The tables this pass walks, and the column each row's age is read from. */
const AGE_COLUMNS = { dead_letters: "recorded_at", reconcile_runs: "started_at" } as const;
export type SweptTable = keyof typeof AGE_COLUMNS;

export interface SweepWindow {
  /** The rows with rowid in (after, through] were looked at; null when no row is past the cutoff. */
  range: { after: number; through: number } | null;
  /** How many of the rows looked at are past the cutoff. */
  old: number;
  /** The cursor before this window, and the one to remember after it (0: the front). */
  cursor: number;
  next: number;
}

/**
 * The next window of at most `size` rows of `table`, from the remembered position. One read when
 * nothing is past the cutoff (the common case), two otherwise.
 */
export async function nextWindow(d1: D1Database, table: SweptTable, cutoff: number, size: number): Promise<SweepWindow> {
  const age = AGE_COLUMNS[table];
  const peek = await d1
    .prepare(
      `SELECT cursor.after AS after, (SELECT t.${age} FROM ${table} AS t WHERE t.rowid > cursor.after ORDER BY t.rowid LIMIT 1) AS first_at
       FROM (SELECT coalesce((SELECT value FROM feed_state WHERE key = ?1), 0) AS after) AS cursor`,
    )
    .bind(cursorKey(table))
    .first<{ after: number; first_at: number | null }>();
  const cursor = peek?.after ?? 0;
  // Nothing old after the cursor: this pass is over, and the next starts from the front.
  if (peek?.first_at == null || peek.first_at >= cutoff) return { range: null, old: 0, cursor, next: 0 };

  const { results } = await d1
    .prepare(`SELECT rowid AS position, ${age} AS at FROM ${table} WHERE rowid > ?1 ORDER BY rowid LIMIT ?2`)
    .bind(cursor, size)
    .all<{ position: number; at: number }>();
  const through = results.at(-1)?.position ?? cursor;
  const old = results.filter((row) => row.at < cutoff).length;
  const reachedYoungRows = results.length < size || old < results.length;
  return { range: { after: cursor, through }, old, cursor, next: reachedYoungRows ? 0 : through };
}

/** Remembers where the next window starts; null when that is where this one started. */
export function saveCursor(d1: D1Database, table: SweptTable, window: SweepWindow): D1PreparedStatement | null {
  if (window.next === window.cursor) return null;
  if (window.next === 0) return d1.prepare("DELETE FROM feed_state WHERE key = ?1").bind(cursorKey(table));
  return d1
    .prepare("INSERT INTO feed_state (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
    .bind(cursorKey(table), window.next);
}

const cursorKey = (table: SweptTable) => `retention:${table}`;
