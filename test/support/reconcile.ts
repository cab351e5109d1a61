import { env } from "cloudflare:test";
import type { ReconcileConfig } from "../../src/config";
import type { ReconcileMessage } from "../../src/queue-message";
import { loadRun } from "../../src/reconcile/runs";
import { startOrResumeRun } from "../../src/reconcile/start";
import { continueRun } from "../../src/reconcile/steps";
import type { upstreamTenant } from "./upstream";

/** A queue that only remembers what was sent, so a test decides when (and whether) steps run. */
export function capturingQueue() {
  const sent: ReconcileMessage[] = [];
  const queue = {
    async send(body: ReconcileMessage) {
      sent.push(body);
    },
  } as unknown as Queue;
  return { queue, sent, take: () => sent.shift() ?? null };
}

export const defaultReconcileConfig: ReconcileConfig = { pageSize: 100, pagesPerMessage: 5, maxPages: 5000, maxRemovalShare: 0.1 };

/**
 * Starts a run against `tenant` and runs its steps one after another, as the queue would, until
 * the chain ends (or `maxSteps`). Returns the run's final row and the messages it took.
 */
export async function reconcile(
  tenant: ReturnType<typeof upstreamTenant>,
  options: {
    config?: Partial<ReconcileConfig>;
    now?: () => number;
    maxSteps?: number;
    sleep?: (ms: number) => Promise<void>;
    /** Replaces the client's fetch (a slow upstream, a gateway answering bare 404s). */
    fetch?: typeof fetch;
    stepBudgetMs?: number;
  } = {},
) {
  const captured = capturingQueue();
  const now = options.now ?? Date.now;
  const config = { ...defaultReconcileConfig, ...options.config };
  const clientFor = () => tenant.client({ sleep: options.sleep, ...(options.fetch ? { fetch: options.fetch } : {}) });
  const { run } = await startOrResumeRun({ d1: env.DB, queue: captured.queue, now }, "firstup", "test");
  const steps = await drive(captured, { clientFor, config, now, stepBudgetMs: options.stepBudgetMs }, options.maxSteps ?? 1000);
  return { run: (await loadRun(env.DB, run.id))!, steps, captured };
}

export async function drive(
  captured: ReturnType<typeof capturingQueue>,
  deps: { clientFor: () => ReturnType<ReturnType<typeof upstreamTenant>["client"]>; config: ReconcileConfig; now: () => number; stepBudgetMs?: number },
  maxSteps: number,
) {
  let steps = 0;
  for (let message = captured.take(); message && steps < maxSteps; message = captured.take()) {
    steps++;
    const next = await continueRun(message, { d1: env.DB, ...deps });
    if (next) captured.sent.push(next);
  }
  return steps;
}

/** Counts every INSERT/UPDATE/DELETE on users from now on (test-only triggers). */
export async function countUserWrites() {
  await env.DB.batch([
    env.DB.prepare("CREATE TABLE IF NOT EXISTS test_user_writes (n INTEGER NOT NULL)"),
    env.DB.prepare("DELETE FROM test_user_writes"),
    env.DB.prepare("INSERT INTO test_user_writes (n) VALUES (0)"),
    env.DB.prepare("CREATE TRIGGER IF NOT EXISTS test_users_insert AFTER INSERT ON users BEGIN UPDATE test_user_writes SET n = n + 1; END"),
    env.DB.prepare("CREATE TRIGGER IF NOT EXISTS test_users_update AFTER UPDATE ON users BEGIN UPDATE test_user_writes SET n = n + 1; END"),
    env.DB.prepare("CREATE TRIGGER IF NOT EXISTS test_users_delete AFTER DELETE ON users BEGIN UPDATE test_user_writes SET n = n + 1; END"),
  ]);
  return async () => (await env.DB.prepare("SELECT n FROM test_user_writes").first<{ n: number }>())?.n ?? 0;
}
