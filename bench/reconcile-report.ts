/**
 * The reconciliation section of BENCHMARKS.md, from what bench/workerd/reconcile*.bench.ts
 * collected (bench/workerd/reconcile-types.ts), with the per-invocation limits it is held against.
 */
import type { RunMeasurement, Spread } from "./workerd/reconcile-types.ts";

interface Collected {
  users: number;
  config: { pageSize: number; pagesPerMessage: number };
  runs: RunMeasurement[];
  groups?: number;
  memberships?: number;
}

/**
 * Cloudflare's published per-invocation limits, as read on `readOn`. The Workers page gives
 * subrequests per request (a queue consumer invocation is one); older versions of it said 1,000 on
 * Paid. D1's page gives "queries per Worker invocation".
 */
export const LIMITS = {
  free: { subrequests: 50, d1Queries: 50 },
  paid: { subrequests: 10_000, d1Queries: 1_000 },
  workersUrl: "https://developers.cloudflare.com/workers/platform/limits/",
  d1Url: "https://developers.cloudflare.com/d1/platform/limits/",
  readOn: "2026-11-25",
};
/** wrangler.toml's UPSTREAM_MAX_REQUESTS_PER_SECOND: the consumer spaces upstream reads to this, per invocation. */
const UPSTREAM_PER_SECOND = 10;

const int = (n: number) => Math.round(n).toLocaleString("en");
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const minutes = (ms: number) => `${(ms / 60_000).toFixed(1)} min`;
const pair = (spread: Spread, unit = "") => `${int(spread.median)}${unit} / ${int(spread.max)}${unit}`;
/** "✅ subrequests" when the largest value is within the limit, "❌ D1 statements (58 > 50)" when over. */
const against = (checks: [string, number, number][]) =>
  checks.map(([name, value, limit]) => (value <= limit ? `✅ ${name}` : `❌ ${name} (${int(value)} > ${int(limit)})`)).join(", ");

function runsTable(collected: Collected, upstream: string, out: (line?: string) => void) {
  out(`| run | wall time | queue messages | ${upstream} | user rows written | D1 calls / statements | D1 rows read / written | created / updated / unchanged | groups / memberships changed | slowest message |`);
  out("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
  for (const run of collected.runs) {
    const r = run.report;
    out(
      `| ${run.label} (${run.status}, ${int(r.errors)} errors) | ${seconds(run.wallMs)} | ${int(run.messages)} | ${int(run.upstreamRequests)} | ${int(run.userRowsWritten)} | ${int(run.d1.calls)} / ${int(run.d1.statements)} | ${int(run.d1.read)} / ${int(run.d1.written)} | ${int(r.created)} / ${int(r.updated)} / ${int(r.unchanged)} | ${int(r.groupsChanged)} / ${int(r.membershipsChanged)} | ${int(run.slowest.ms)} ms (${run.slowest.stage}) |`,
    );
  }
  out();
  out("Per message, by the step it continued:");
  out();
  out("| run | step | messages | subrequests, median / max | D1 statements, median / max | wall time, median / max |");
  out("| --- | --- | --- | --- | --- | --- |");
  for (const run of collected.runs) {
    for (const stage of run.stages) {
      out(`| ${run.label} | ${stage.stage} | ${int(stage.messages)} | ${pair(stage.subrequests)} | ${pair(stage.d1Statements)} | ${pair(stage.ms, " ms")} |`);
    }
  }
  out();
}

/** Markdown lines of the section; `sources` in the order they are shown. */
export function formatReconciliation(sources: { firstup?: Collected; scalekit?: Collected }): string[] {
  const lines: string[] = [];
  const out = (line = "") => lines.push(line);
  const { firstup, scalekit } = sources;
  out("Each queue message is run as the consumer runs it (the step, then one send of the step after it) and metered: upstream HTTP requests (every attempt, token requests included), D1 calls (a `batch()` is one) and statements (each statement of a batch), the rows D1 reports, queue sends. **Subrequests per message = upstream requests + D1 calls + queue sends.** Steps run back to back, so wall time is the Worker's own work on this machine (the run's start plus every message), without the Queue's delivery latency and without the consumer's spacing of upstream reads (below). D1 rows leave out the benchmark's own counting trigger.");
  out();
  const measured: { name: string; run: RunMeasurement }[] = [];
  if (firstup) {
    out(`#### Firstup: ${int(firstup.users)} users from the SCIM test server (${firstup.config.pageSize} per page, ${firstup.config.pagesPerMessage} pages per message)`);
    out();
    runsTable(firstup, "SCIM requests", out);
    measured.push(...firstup.runs.map((run) => ({ name: `Firstup, ${run.label} run`, run })));
  }
  if (scalekit) {
    out(
      `#### Scalekit: ${int(scalekit.users)} users through the local Directory API (${Math.min(30, scalekit.config.pageSize)} per page, its maximum; ${scalekit.config.pagesPerMessage} pages per message; ${scalekit.groups} groups, ${int(scalekit.memberships ?? 0)} memberships)`,
    );
    out();
    out("A discovery run (organizations, directories), then the directory's run: users, groups, each group's members, finish. A new client per message, as the consumer builds one per invocation, so each message also fetches an access token.");
    out();
    runsTable(scalekit, "API requests", out);
    measured.push(...scalekit.runs.map((run) => ({ name: `Scalekit, ${run.label} run`, run })));
  }
  for (const run of measured.map((entry) => entry.run)) {
    if (run.label === "second" && run.userRowsWritten !== 0) out(`❌ An unchanged run wrote ${int(run.userRowsWritten)} user rows (target 0).`);
  }
  const unchanged = measured.filter((entry) => entry.run.label === "second");
  if (unchanged.length && unchanged.every((entry) => entry.run.userRowsWritten === 0)) out("Unchanged second runs write 0 user rows (target 0): ✅ met.");
  out();

  out("#### Against the per-invocation limits");
  out();
  out("Per message, median / max; each limit is checked against the largest (D1 queries both as calls and as statements).");
  out();
  out(`| run | subrequests | of which upstream | D1 calls | D1 statements | Free: ${LIMITS.free.subrequests} subrequests, ${LIMITS.free.d1Queries} D1 queries | Paid: ${int(LIMITS.paid.subrequests)} subrequests, ${int(LIMITS.paid.d1Queries)} D1 queries |`);
  out("| --- | --- | --- | --- | --- | --- | --- |");
  for (const { name, run } of measured) {
    const m = run.perMessage;
    const plan = (limits: { subrequests: number; d1Queries: number }) =>
      against([
        ["subrequests", m.subrequests.max, limits.subrequests],
        ["D1 calls", m.d1Calls.max, limits.d1Queries],
        ["D1 statements", m.d1Statements.max, limits.d1Queries],
      ]);
    out(`| ${name} | ${pair(m.subrequests)} | ${pair(m.upstream)} | ${pair(m.d1Calls)} | ${pair(m.d1Statements)} | ${plan(LIMITS.free)} | ${plan(LIMITS.paid)} |`);
  }
  out();
  out(
    `One message is one step of one run, and each step queues exactly one successor, so a run has one message in flight: a consumer batch (up to 100 messages) holds at most one step of each running run. An invocation therefore counts the figures above once per run that shares its batch (Scalekit runs one per directory), plus any event deliveries in it. D1's limits table does not say whether a \`batch()\` counts as one query or as one per statement: both are shown, statements being the stricter reading. Limits as Cloudflare publishes them, read ${LIMITS.readOn}: subrequests ${LIMITS.free.subrequests} per request on Workers Free and ${int(LIMITS.paid.subrequests)} on Paid (${LIMITS.workersUrl}; earlier versions of that page said 1,000 on Paid); D1 queries per Worker invocation ${LIMITS.free.d1Queries} on Free and ${int(LIMITS.paid.d1Queries)} on Paid (${LIMITS.d1Url}).`,
  );
  out();
  const floors = measured.map(({ name, run }) => `${minutes((run.upstreamGaps * 1000) / UPSTREAM_PER_SECOND)} for ${name}`);
  out(
    `Deployed, the consumer spaces upstream reads to \`UPSTREAM_MAX_REQUESTS_PER_SECOND\` (${UPSTREAM_PER_SECOND} per second per invocation), which this benchmark leaves out. From the counts above, that spacing alone adds at least ${floors.join(", ")} (computed: Σ over messages of (upstream requests − 1) ÷ ${UPSTREAM_PER_SECOND}; not measured), and the Queue adds its delivery latency between messages (not measured). Memory is one page of users per step by design; workerd does not expose an isolate's heap to measure it from inside.`,
  );
  return lines;
}
