/**
 * Bounds every prune shares. A statement deletes at most ROWS_PER_STATEMENT rows, so it stays far
 * inside D1's per-query time limit and one cron invocation never holds the database long; the cron
 * comes back every 15 minutes, which clears 480,000 rows a day per table, far above what a table
 * gains in a day.
 */
export const ROWS_PER_STATEMENT = 5_000;
