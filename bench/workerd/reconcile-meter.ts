import { env } from "cloudflare:test";
import type { ReconcileConfig } from "../../src/config";
import type { ReconcileMessage } from "../../src/queue-message";
import { loadRun, recentRuns, type ReconcileRun } from "../../src/reconcile/runs";
import { startOrResumeRun } from "../../src/reconcile/start";
import { continueRun } from "../../src/reconcile/steps";
import { countUserWrites } from "../../test/support/reconcile";
import type { RunMeasurement, Spread } from "./reconcile-types";

/**
 * Runs a reconciliation message by message, as the queue consumer would (src/consumer/
 * reconcile-steps.ts: `continueRun`, then one `send` of the next step), and meters each message:
 * upstream HTTP requests (every attempt, token requests included), D1 calls (a `batch()` is one)
 * and statements (each statement of a batch counted), D1 rows, queue sends, wall time. These are
 * the per-invocation quantities the Workers limits bound. Steps run back to back: queue delivery
 * latency is left out, so wall time is the work itself.
 */

interface MessageMeter {
  stage: string;
  ms: number;
  upstream: number;
  d1Calls: number;
  d1Statements: number;
  queueSends: number;
}

/** A fetch that counts what it sends; hand it to the upstream client. */
export function countingFetch() {
  let requests = 0;
  const fetcher: typeof fetch = (input, init) => {
    requests++;
    return fetch(input, init);
  };
  return { fetch: fetcher, requests: () => requests };
}

/**
 * Meters a D1 binding: calls (a `batch()` is one, as is each statement run alone), statements (each
 * statement of a batch counted: D1's "queries per invocation" may count them one by one), and the
 * rows D1 reports reading and writing. `first()` and `raw()` run as `all()` so their rows are
 * metered too (test/support/d1.ts's countingD1 meters only `all()`/`run()`); `raw()` rows are
 * rebuilt from the objects the way drizzle's own D1 batch does (d1ToRawMapping).
 */
function meteredD1(real: D1Database) {
  let calls = 0;
  let statements = 0;
  let rowsRead = 0;
  let rowsWritten = 0;
  const meter = <T>(result: D1Result<T>): D1Result<T> => {
    rowsRead += result.meta?.rows_read ?? 0;
    rowsWritten += result.meta?.rows_written ?? 0;
    return result;
  };
  const unwrap = new WeakMap<object, D1PreparedStatement>();
  const wrap = (statement: D1PreparedStatement): D1PreparedStatement => {
    const once = async <T>(run: () => Promise<D1Result<T>>) => {
      calls++;
      statements++;
      return meter(await run());
    };
    const metered = {
      bind: (...values: unknown[]) => wrap(statement.bind(...values)),
      all: () => once(() => statement.all()),
      run: () => once(() => statement.run()),
      first: async (column?: string) => {
        const row = (await once(() => statement.all<Record<string, unknown>>())).results[0];
        return row === undefined ? null : column === undefined ? row : row[column];
      },
      raw: async (options?: { columnNames?: boolean }) => {
        const { results } = await once(() => statement.all<Record<string, unknown>>());
        const rows = results.map((row) => Object.keys(row).map((key) => row[key]));
        return options?.columnNames ? [Object.keys(results[0] ?? {}), ...rows] : rows;
      },
    } as unknown as D1PreparedStatement;
    unwrap.set(metered, statement);
    return metered;
  };
  const db = new Proxy(real, {
    get(target, property) {
      if (property === "prepare") return (sql: string) => wrap(target.prepare(sql));
      if (property === "batch") {
        return async (batch: D1PreparedStatement[]) => {
          calls++;
          statements += batch.length;
          const results = await target.batch(batch.map((statement) => unwrap.get(statement) ?? statement));
          results.forEach(meter);
          return results;
        };
      }
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return { db, calls: () => calls, statements: () => statements, rows: () => ({ read: rowsRead, written: rowsWritten }) };
}

/** A queue that keeps what is sent, in order, and counts sends. */
function recordingQueue() {
  const pending: ReconcileMessage[] = [];
  let sends = 0;
  const queue = {
    async send(body: ReconcileMessage) {
      pending.push(body);
      sends++;
    },
  } as unknown as Queue;
  return { queue, pending, sends: () => sends };
}

const spread = (values: number[]): Spread => {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)] ?? 0, max: sorted.at(-1) ?? 0 };
};

/**
 * Starts a run of `provider` and drives every message it (and any run it starts) queues, to the
 * end. `upstreamRequests` reads the client's counting fetch.
 */
export async function measureRun(input: {
  label: string;
  provider: string;
  config: ReconcileConfig;
  /** A new upstream client, as the consumer builds one per invocation (a Scalekit client then fetches its token). */
  newClient: () => unknown;
  upstreamRequests: () => number;
  /** The run whose report is returned (Scalekit: the directory's run, not discovery). */
  reportOf?: (runs: ReconcileRun[], started: ReconcileRun) => ReconcileRun | undefined;
  /** Names the step a message continues (default: its phase). */
  stageOf?: (run: ReconcileRun, message: ReconcileMessage) => string;
}): Promise<RunMeasurement> {
  const d1 = meteredD1(env.DB);
  const userWrites = await countUserWrites();
  const recorded = recordingQueue();
  const deps = { d1: d1.db, queue: recorded.queue, clientFor: input.newClient, config: input.config, now: Date.now };
  const start = performance.now();
  const { run } = await startOrResumeRun(deps, input.provider, input.label);
  const startMs = performance.now() - start;
  const meters: MessageMeter[] = [];
  for (let message = recorded.pending.shift(); message; message = recorded.pending.shift()) {
    // Read outside the meter (env.DB, not the metered binding), before the step moves it.
    const current = input.stageOf ? await loadRun(env.DB, message.runId) : null;
    const stage = current && input.stageOf ? input.stageOf(current, message) : message.phase;
    const before = { upstream: input.upstreamRequests(), calls: d1.calls(), statements: d1.statements(), sends: recorded.sends() };
    const stepStart = performance.now();
    const next = await continueRun(message, deps);
    if (next) await recorded.queue.send(next);
    meters.push({
      stage,
      ms: performance.now() - stepStart,
      upstream: input.upstreamRequests() - before.upstream,
      d1Calls: d1.calls() - before.calls,
      d1Statements: d1.statements() - before.statements,
      queueSends: recorded.sends() - before.sends,
    });
  }
  const wallMs = startMs + meters.reduce((sum, meter) => sum + meter.ms, 0);
  const userRowsWritten = await userWrites();
  // The benchmark's own counting trigger reads and writes its counter row once per user row
  // written (measured: exactly that many more of each with it than without): not the Worker's.
  const rows = { read: d1.rows().read - userRowsWritten, written: d1.rows().written - userRowsWritten };
  const started = (await loadRun(env.DB, run.id))!;
  const final = input.reportOf?.(await recentRuns(env.DB, input.provider, 100), started) ?? started;
  const subrequests = (meter: MessageMeter) => meter.upstream + meter.d1Calls + meter.queueSends;
  const slowest = meters.reduce((a, b) => (b.ms > a.ms ? b : a), meters[0]!);
  const stages = [...new Set(meters.map((meter) => meter.stage))].map((stage) => {
    const of = meters.filter((meter) => meter.stage === stage);
    return { stage, messages: of.length, subrequests: spread(of.map(subrequests)), d1Statements: spread(of.map((meter) => meter.d1Statements)), ms: spread(of.map((meter) => meter.ms)) };
  });
  return {
    label: input.label,
    status: final.status,
    wallMs,
    messages: meters.length,
    upstreamRequests: meters.reduce((sum, meter) => sum + meter.upstream, 0),
    upstreamGaps: meters.reduce((sum, meter) => sum + Math.max(0, meter.upstream - 1), 0),
    userRowsWritten,
    d1: { calls: d1.calls(), statements: d1.statements(), ...rows },
    report: { created: final.created, updated: final.updated, unchanged: final.unchanged, deactivated: final.deactivated, forgotten: final.forgotten, errors: final.errors, pages: final.pages, groupsChanged: final.groupsChanged, membershipsChanged: final.membershipsChanged },
    perMessage: { subrequests: spread(meters.map(subrequests)), d1Calls: spread(meters.map((meter) => meter.d1Calls)), d1Statements: spread(meters.map((meter) => meter.d1Statements)), upstream: spread(meters.map((meter) => meter.upstream)) },
    stages,
    slowest: { stage: slowest.stage, ms: slowest.ms },
  };
}
