import { runAtomically } from "../d1";
import { versionOf } from "../directory/version";
import type { DirectoryEvent } from "../events";
import { log } from "../log";
import type { EventMessage } from "../queue-message";
import type { ApplyOptions, Pending } from "./apply-batch";
import { keyOf, recordUnfinished } from "./event-log";
import type { Resolution } from "../providers/types";
import { mapConcurrently } from "./map-concurrently";
import { countOutcomes } from "./pipeline-hourly";

type RefreshEvent = Extract<DirectoryEvent, { kind: "user_refresh" }>;
/** A row whose event is a refresh, with that event and its message narrowed. */
interface RefreshRow {
  row: Pending;
  event: RefreshEvent;
  message: EventMessage;
}

/** Workers allow six connections at once. */
const UPSTREAM_CONCURRENCY = 6;
/**
 * Distinct lookups per invocation; the rest are re-queued at once. The hard cap on requests
 * (retries included) is the client's per-invocation subrequest budget (consumer/index.ts).
 */
export const MAX_LOOKUPS_PER_BATCH = 30;

/**
 * Events that name a user without describing it are resolved against the provider's SCIM API
 * here, in the consumer, never on the request path:
 * - coalesced: one read per user and expectation (updated, deactivated, deleted) per batch; the
 *   newest event decides, and the others are recorded as applied with it (`coalesced`);
 * - a lookup that fails (upstream down, throttled past the client's budget) fails only its own
 *   messages, which the queue retries;
 * - waits are re-queued with a delay (not retried, so they never count towards dead-lettering);
 *   holds and unconfirmed outcomes are recorded for operators and acked.
 * Returns the rows ready to apply.
 */
export async function resolveUpstreamEvents(
  d1: D1Database,
  rows: Pending[],
  options: ApplyOptions,
  failRow: (d1: D1Database, row: Pending, error: unknown, options: ApplyOptions) => Promise<void>,
): Promise<Pending[]> {
  const ready = rows.filter((row) => row.apply?.kind !== "user_refresh");
  const groups = new Map<string, RefreshRow[]>();
  for (const row of rows) {
    if (row.apply?.kind !== "user_refresh" || row.message.kind !== "event") continue;
    // Per user and per expectation: a deactivation must never be answered by a newer "updated"
    // that snapshots a lagging upstream (that would ack the deactivation as applied while the user
    // stays active). Same-reason events are subsumed by their newest.
    const key = `${row.apply.provider}\u0000${row.apply.externalId}\u0000${row.apply.reason}`;
    groups.set(key, [...(groups.get(key) ?? []), { row, event: row.apply, message: row.message }]);
  }
  if (groups.size === 0) return ready;

  const all = [...groups.values()];
  const lookups = all.slice(0, MAX_LOOKUPS_PER_BATCH);
  const overflow = all.slice(MAX_LOOKUPS_PER_BATCH).flat();
  if (overflow.length) await requeue(d1, overflow, 0, options, failRow);

  const resolved = await mapConcurrently(lookups, UPSTREAM_CONCURRENCY, async (group) => {
    const winner = newest(group);
    const upstream = options.upstreamFor(winner.event.provider);
    try {
      if (!upstream) throw new Error(`no upstream is configured for ${winner.event.provider}`);
      const resolution = await upstream.resolve(winner.event, {
        now: options.now,
        receivedAt: winner.message.receivedAt,
        absentSince: winner.message.absentSince,
        released: winner.row.released,
        absenceConfirmDelaySeconds: options.config.absenceConfirmDelaySeconds,
        confirmBudgetMs: options.config.upstreamConfirmBudgetMs,
        waitDelaySeconds: waitDelaySeconds(options.now() - winner.message.receivedAt),
        knownLiveUsers: () => otherLiveUsers(d1, winner.event.provider, winner.event.externalId),
      });
      return { group, winner, resolution };
    } catch (error) {
      for (const { row } of group) await failRow(d1, row, error, options);
      return null;
    }
  });

  for (const item of resolved) {
    if (!item) continue;
    const { group, winner, resolution } = item;
    if (resolution.outcome === "apply") {
      for (const { row } of group) {
        row.apply = row === winner.row ? resolution.event : null;
        row.note = row === winner.row ? resolution.note : "coalesced";
        ready.push(row);
      }
    } else {
      await settleUnapplied(d1, group, resolution, options, failRow);
    }
  }
  return ready;
}

/** A few live users of the provider other than `subject`, in key order (an index range, cheap). */
async function otherLiveUsers(d1: D1Database, provider: string, subject: string): Promise<string[]> {
  const rows = await d1
    .prepare(
      `SELECT external_id FROM users
       WHERE provider = ? AND external_id <> ? AND forgotten_at IS NULL AND deleted_at IS NULL AND active = 1 LIMIT 3`,
    )
    .bind(provider, subject)
    .all<{ external_id: string }>();
  return rows.results.map((row) => row.external_id);
}

/** The event that decides for its user: the newest by version (time, then id). */
function newest(group: RefreshRow[]): RefreshRow {
  return group.reduce((best, row) =>
    versionOf(row.event) > versionOf(best.event) ? row : best,
  );
}

/** Looks again sooner at first, then less often: half the time waited so far, 5 s to 2 min. */
function waitDelaySeconds(elapsedMs: number): number {
  return Math.min(120, Math.max(5, Math.round(elapsedMs / 2000)));
}

async function settleUnapplied(
  d1: D1Database,
  group: RefreshRow[],
  resolution: Exclude<Resolution, { outcome: "apply" }>,
  options: ApplyOptions,
  failRow: (d1: D1Database, row: Pending, error: unknown, options: ApplyOptions) => Promise<void>,
): Promise<void> {
  if (resolution.outcome === "wait") {
    const absentSince = resolution.absentSince;
    await requeue(d1, group, resolution.delaySeconds, options, failRow, { code: resolution.reason, absentSince });
    return;
  }
  const outcome = resolution.outcome === "hold" ? { status: "held" as const, code: resolution.reason } : { status: "failed" as const, code: resolution.code };
  try {
    const now = options.now();
    await runAtomically(d1, [
      ...countOutcomes(group.map(({ row }) => ({ ...keyOf(row.message), status: outcome.status })), now),
      ...group.map(({ row }) => recordUnfinished(row, outcome, now)),
    ]);
    for (const { row } of group) {
      log(outcome.status === "held" ? "event.held" : "event.not_confirmed", { ...keyOf(row.message), code: outcome.code });
      row.raw.ack();
    }
  } catch (error) {
    for (const { row } of group) await failRow(d1, row, error, options);
  }
}

/**
 * Sends the messages again, `delaySeconds` from now, and acks the originals: waiting for an
 * upstream is not a failure, so it must not use up the queue's retries and dead-letter the event.
 * A wait is recorded (status failed with the wait's code) so operators see what is pending.
 */
async function requeue(
  d1: D1Database,
  rows: RefreshRow[],
  delaySeconds: number,
  options: ApplyOptions,
  failRow: (d1: D1Database, row: Pending, error: unknown, options: ApplyOptions) => Promise<void>,
  waiting?: { code: string; absentSince?: number },
): Promise<void> {
  for (const { row, message: original } of rows) {
    try {
      const message: EventMessage = { ...original, ...(waiting?.absentSince !== undefined ? { absentSince: waiting.absentSince } : {}) };
      if (waiting) {
        const now = options.now();
        await runAtomically(d1, [...countOutcomes([{ ...keyOf(message), status: "failed" }], now), recordUnfinished({ ...row, message }, { status: "failed", ...waiting }, now)]);
      }
      await options.queue.send(message, { contentType: "json", delaySeconds });
      log("event.requeued", { ...keyOf(row.message), delaySeconds, reason: waiting?.code ?? "lookup_overflow" });
      row.raw.ack();
    } catch (error) {
      await failRow(d1, row, error, options);
    }
  }
}
