import type { SQL } from "drizzle-orm";
import { SQLiteAsyncDialect } from "drizzle-orm/sqlite-core";

const dialect = new SQLiteAsyncDialect();

/**
 * Runs statements as one D1 batch: D1's only transaction (all commit, or none) and one round trip.
 *
 * Statements are built with Drizzle's `sql` template and compiled by Drizzle's SQLite dialect,
 * then handed to D1's own `batch()`. Returns each statement's result, in order (rows of a
 * `RETURNING` clause included). Drizzle's `db.batch()` cannot run parameterized `sql`
 * queries on D1 (drizzle-orm#2277, open as of drizzle-orm 0.45), which is why it is bypassed here.
 */
export async function runAtomically(d1: D1Database, statements: SQL[]): Promise<D1Result[]> {
  if (statements.length === 0) return [];
  return d1.batch(
    statements.map((statement) => {
      const query = dialect.sqlToQuery(statement);
      return d1.prepare(query.sql).bind(...query.params);
    }),
  );
}
