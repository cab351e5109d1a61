import { notifyConfig } from "../config";
import { describeError } from "../consumer/event-log";
import { log } from "../log";
import { HOUR_MS, hourOf } from "../consumer/pipeline-hourly";
import { eventStatuses, type EventStatus } from "../directory/schema";
import { readNotifyFeedState } from "../notify/feed-state";
import { bindingChecks, invalidSettings, upstreamChecks, type BindingChecks, type UpstreamCheck } from "../operator/health";
import { reconcileSources } from "../providers";
import { recentRuns, type ReconcileRun } from "../reconcile/runs";

/**
 * What the console's overview shows, each number from a bounded read (the 100k-row test in
 * test/console/overview-bounded.integration.test.ts holds them to it):
 * - the hourly chart: the last 24 rows-per-status of pipeline_hourly, a primary-key range;
 * - counts that could be large (dead letters, pending notifications) stop at COUNT_CAP and read as
 *   "1,000+": a LIMIT subquery, through an index where there is one;
 * - the last run per provider: one row each, through reconcile_runs_provider_idx;
 * - notifications: the feed's counters (feed_state and max(seq), primary keys).
 */

/** Where a count stops: the page says "1,000+" past it. */
export const COUNT_CAP = 1_000;
/** Hours in the chart, the current (partial) hour included. */
export const CHART_HOURS = 24;

export interface CappedCount {
  count: number;
  /** More than `count` exist; `count` is COUNT_CAP. */
  capped: boolean;
}

export interface HourlyChart {
  /** Start of each hour shown, oldest first (epoch ms). */
  hours: number[];
  /** Events per hour, for every status that has any in the window, in eventStatuses order. */
  series: { status: EventStatus; counts: number[]; total: number }[];
}

export interface NotificationsPanel {
  configured: boolean;
  /** The endpoint's origin only: its path or query may hold a token. */
  endpoint: string | null;
  /** The endpoint answered 410: notifications stopped until an operator enables them again. */
  disabled: { at: number; note: string | null } | null;
  /** Changes committed but not yet handed to the notifications queue. */
  unrelayed: number;
  pending: CappedCount;
}

/** A panel read from D1, or `unavailable` when its read failed (the page still renders the rest). */
export type Panel<T> = T | { unavailable: true };

export interface Overview {
  now: number;
  health: { bindings: BindingChecks; invalidSettings: { setting: string; problem: string }[]; upstreams: UpstreamCheck[] };
  chart: Panel<HourlyChart>;
  deadLetters: Panel<{ stored: CappedCount; unresolved: CappedCount }>;
  lastRuns: Panel<{ provider: string; run: ReconcileRun | null }[]>;
  notifications: Panel<NotificationsPanel>;
}

export function isUnavailable<T>(panel: Panel<T>): panel is { unavailable: true } {
  return typeof panel === "object" && panel !== null && "unavailable" in panel;
}

export async function loadOverview(env: Env, now: number): Promise<Overview> {
  // An operator opens the overview when something is wrong, D1 included: each panel that reads D1
  // fails on its own (and the health panel says D1 errs) instead of the whole page answering 500.
  const panel = async <T>(name: string, read: () => Promise<T>): Promise<Panel<T>> => {
    try {
      return await read();
    } catch (error) {
      log("console.panel_unavailable", { panel: name, error: describeError(error) });
      return { unavailable: true };
    }
  };
  const [bindings, upstreams, chart, deadLetters, lastRuns, notifications] = await Promise.all([
    bindingChecks(env),
    // Each upstream's answer is reused for UPSTREAM_PROBE_CACHE_MS (per isolate), by this request's clock.
    upstreamChecks(env, { now }),
    panel("chart", () => hourlyChart(env.DB, now)),
    panel("dead_letters", () => deadLetterCounts(env.DB)),
    panel("last_runs", () => lastRunPerProvider(env.DB)),
    panel("notifications", () => notificationsPanel(env)),
  ]);
  return { now, health: { bindings, invalidSettings: invalidSettings(env), upstreams }, chart, deadLetters, lastRuns, notifications };
}

export async function hourlyChart(d1: D1Database, now: number): Promise<HourlyChart> {
  const last = hourOf(now);
  const first = last - (CHART_HOURS - 1) * HOUR_MS;
  const hours = Array.from({ length: CHART_HOURS }, (_, i) => first + i * HOUR_MS);
  const { results } = await d1
    .prepare("SELECT hour, status, events FROM pipeline_hourly WHERE hour BETWEEN ?1 AND ?2")
    .bind(first, last)
    .all<{ hour: number; status: string; events: number }>();
  const series = eventStatuses
    .map((status) => {
      const counts = hours.map(() => 0);
      for (const row of results) if (row.status === status) counts[(row.hour - first) / HOUR_MS] = row.events;
      return { status, counts, total: counts.reduce((sum, n) => sum + n, 0) };
    })
    .filter((line) => line.total > 0);
  return { hours, series };
}

/** `SELECT 1 … LIMIT cap + 1` counted: reads at most cap + 1 rows, whatever the table holds. */
async function cappedCount(d1: D1Database, select: string, ...params: unknown[]): Promise<CappedCount> {
  const row = await d1
    .prepare(`SELECT count(*) AS n FROM (${select} LIMIT ${COUNT_CAP + 1})`)
    .bind(...params)
    .first<{ n: number }>();
  const n = row?.n ?? 0;
  return n > COUNT_CAP ? { count: COUNT_CAP, capped: true } : { count: n, capped: false };
}

/**
 * Dead letters stored (what the dead-letters page lists, replayed or not, until retention prunes
 * them), and events still dead-lettered (through event_log_attention_idx): the ones to act on.
 */
export async function deadLetterCounts(d1: D1Database): Promise<Overview["deadLetters"]> {
  const [stored, unresolved] = await Promise.all([
    cappedCount(d1, "SELECT 1 FROM dead_letters"),
    // The NOT IN repeats the partial index's condition, so SQLite may use it.
    cappedCount(d1, "SELECT 1 FROM event_log WHERE status NOT IN ('applied', 'ignored') AND status = 'dead_lettered'"),
  ]);
  return { stored, unresolved };
}

/** Every provider that can be reconciled, with its latest run (any scope), or null. */
export async function lastRunPerProvider(d1: D1Database): Promise<Overview["lastRuns"]> {
  return Promise.all([...reconcileSources.keys()].map(async (provider) => ({ provider, run: (await recentRuns(d1, provider, 1))[0] ?? null })));
}

async function notificationsPanel(env: Env): Promise<NotificationsPanel> {
  let url: string | null;
  try {
    url = notifyConfig(env).url;
  } catch {
    // An invalid setting is already shown under health (invalid settings).
    url = null;
  }
  const [state, pending] = await Promise.all([
    readNotifyFeedState(env.DB),
    // Through change_deliveries_pending_idx (partial: pending rows only).
    cappedCount(env.DB, "SELECT 1 FROM change_deliveries WHERE status = 'pending'"),
  ]);
  return {
    configured: url !== null,
    endpoint: url ? new URL(url).origin : null,
    disabled: state.disabled,
    unrelayed: Math.max(0, state.latestSeq - state.relayedThrough),
    pending,
  };
}
