/**
 * `npm run bench:reconcile`: reconciliation at 100,000 users, Firstup (SCIM test server) and
 * Scalekit (local Directory API), each a first run and an unchanged second run, metered per queue
 * message and held against the Workers per-invocation limits. Rewrites the reconciliation section
 * of BENCHMARKS.md (between the `bench:reconcile` markers). Kept out of `npm run bench`: it takes
 * several minutes on its own, over that run's time budget.
 *
 * `BENCH_USERS=2000 npm run bench:reconcile` is the quick check while developing: same benchmarks
 * at that size, printed only (BENCHMARKS.md keeps the 100,000-user figures).
 */
import { describeMachine, replaceBetweenMarkers, runWorkerdBenchmarks } from "./collector.ts";
import { formatReconciliation } from "./reconcile-report.ts";

const started = Date.now();
console.error("• reconciliation benchmarks (Firstup, Scalekit)…");
const collected = await runWorkerdBenchmarks({ BENCH_INCLUDE: "bench/workerd/reconcile.bench.ts,bench/workerd/reconcile-scalekit.bench.ts" });
type Sources = Parameters<typeof formatReconciliation>[0];
const lines = [
  describeMachine(started),
  "",
  ...formatReconciliation({ firstup: collected.reconcile as Sources["firstup"], scalekit: collected.reconcileScalekit as Sources["scalekit"] }),
  "",
  `Benchmark wall time: ${((Date.now() - started) / 1000).toFixed(0)} s.`,
];
const text = lines.join("\n");
console.log(text);
if (process.env.BENCH_USERS) {
  console.error("BENCH_USERS is set: BENCHMARKS.md left as it was.");
} else {
  replaceBetweenMarkers("BENCHMARKS.md", "reconcile", text);
  console.error("BENCHMARKS.md updated (reconciliation).");
}
