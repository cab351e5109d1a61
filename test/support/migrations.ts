import { applyD1Migrations, env } from "cloudflare:test";
import { expect } from "vitest";
import type { DirectoryEvent } from "../../src/events";
import { deliverBatch } from "./consumer";
import { eventMessage } from "./directory";

/**
 * Helpers for data-migration tests: rebuild the file's database as it was before `migration`, fill
 * it the old way, then apply the real migration file and check what it did.
 */
export async function rebuildBefore(migration: string): Promise<void> {
  const { results } = await env.DB.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_cf_%'").all<{ name: string }>();
  await env.DB.batch(results.map(({ name }) => env.DB.prepare(`DROP TABLE "${name}"`)));
  await applyD1Migrations(env.DB, env.TEST_MIGRATIONS.filter((m) => m.name < migration));
}

/** Applies events through the real consumer, as one batch, and expects no retries. */
export async function apply(...batch: DirectoryEvent[]): Promise<void> {
  const { result } = await deliverBatch(batch.map((event) => eventMessage(event)));
  expect(result.retryMessages).toEqual([]);
}

export const all = async (query: string) => (await env.DB.prepare(query).all()).results;
