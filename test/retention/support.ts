import { env } from "cloudflare:test";
import { countingD1 } from "../support/d1";

/** Helpers for the retention tests: ages, counts, bulk rows, and a prune run until it is done. */

export const DAY = 86_400_000;

export const count = async (table: string, where = "true") => (await env.DB.prepare(`SELECT count(*) AS n FROM ${table} WHERE ${where}`).first<{ n: number }>())!.n;

/** `rows` rows from `select`, which reads `i` (1…rows) from a numbers table: one statement, however many. */
export async function insertNumbered(table: string, columns: string, select: string, rows: number, ...values: unknown[]): Promise<void> {
  await env.DB.prepare(
    `WITH RECURSIVE numbers(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM numbers WHERE i < ${rows})
     INSERT INTO ${table} (${columns}) SELECT ${select} FROM numbers`,
  )
    .bind(...values)
    .run();
}

/**
 * Runs `prune` on a round-trip-counting D1 until it deletes nothing; per invocation, what it
 * deleted and the round trips it took.
 */
export async function pruneUntilDone(prune: (d1: D1Database) => Promise<{ deleted: number }>, limit = 20) {
  const invocations: { deleted: number; roundTrips: number }[] = [];
  for (let i = 0; i < limit; i++) {
    const d1 = countingD1(env.DB);
    const { deleted } = await prune(d1.db);
    invocations.push({ deleted, roundTrips: d1.roundTrips() });
    if (deleted === 0) return invocations;
  }
  throw new Error(`still deleting after ${limit} invocations`);
}
