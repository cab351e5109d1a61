/**
 * What a reconciliation benchmark reports for one run (bench/workerd/reconcile-meter.ts measures
 * it inside workerd; bench/reconcile-report.ts formats it in Node). No imports, so both can use it.
 */

export interface RunMeasurement {
  label: string;
  status: string;
  /** The run's start plus every message's wall time (the benchmark's own bookkeeping left out). */
  wallMs: number;
  messages: number;
  upstreamRequests: number;
  /** Σ over messages of (upstream requests − 1): the gaps the consumer's spacing of upstream reads adds. */
  upstreamGaps: number;
  userRowsWritten: number;
  d1: { calls: number; statements: number; read: number; written: number };
  report: { created: number; updated: number; unchanged: number; deactivated: number; forgotten: number; errors: number; pages: number; groupsChanged: number; membershipsChanged: number };
  /** Per message: subrequests (upstream + D1 calls + queue sends) and D1 statements. */
  perMessage: { subrequests: Spread; d1Calls: Spread; d1Statements: Spread; upstream: Spread };
  /** The messages of each stage (the run's checkpoint when the message arrived). */
  stages: { stage: string; messages: number; subrequests: Spread; d1Statements: Spread; ms: Spread }[];
  slowest: { stage: string; ms: number };
}

export interface Spread {
  median: number;
  max: number;
}
