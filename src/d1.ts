import type { SQL } from "drizzle-orm";
import type { DrizzleD1Database } from "drizzle-orm/d1";

/** D1's `batch` is its only transaction: every statement commits, or none does. One round trip. */
export async function runAtomically(db: DrizzleD1Database, statements: SQL[]): Promise<void> {
  const [first, ...rest] = statements.map((statement) => db.run(statement));
  if (first) await db.batch([first, ...rest]);
}
