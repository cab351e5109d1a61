import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import type { SQL } from "drizzle-orm";
import type { ConsumerConfig } from "../config";
import { directoryWrites } from "../directory/writes";
import type { DirectoryEvent } from "../events";
import type { RefreshUpstream } from "../providers/types";
import type { DeliveryMessage } from "../queue-message";
import { log } from "../log";
import { runAtomically } from "../d1";
import { findProcessed, keyOf, keyString, purgeMessagesAbout, recordFailure, recordOutcomes, recordUnfinished, type OutcomeRow } from "./event-log";
import { retryDelaySeconds } from "./backoff";
import { countOutcomes } from "./pipeline-hourly";
import { isGuardRecheckFailure, planDestructive } from "./destructive-guard";
import { resolveUpstreamEvents } from "./resolve-batch";

export interface ApplyOptions {
  now: () => number;
  retryBaseSeconds: number;
  /** The provider's SCIM upstream, for events that carry only an id; null when not configured. */
  upstreamFor: (provider: string) => RefreshUpstream | null;
  /** Where events that must look at the upstream again later are re-queued. */
  queue: Queue;
  config: ConsumerConfig;
  /**
   * Log each applied row (`event.applied`, `event.held`). Bulk imports turn it off and log one line
   * per chunk instead (import/consume.ts): their rows' outcomes are in event_log either way.
   */
  logEachOutcome?: boolean;
  /**
   * Drop rows held for an operator, as applied ones are. Bulk imports set it: a chunk is retried
   * whole when any row failed, and its held deactivations must wait for a release (which travels as
   * its own event message), not pass the guard again in a later window.
   */
  skipHeld?: boolean;
}

export interface Pending extends OutcomeRow {
  raw: Message<unknown>;
  /** What will be written: the event itself, or what the upstream resolved it to (null: nothing). */
  apply: DirectoryEvent | null;
  /** An operator released this held event. */
  released: boolean;
}

/**
 * The main queue consumer. In the common case a batch costs two D1 round trips: one read to
 * drop events already applied, one atomic `db.batch` that applies the rest and records them.
 * Erasures and deactivations cost one more read, for the destructive guard. If the batch fails,
 * events are retried one by one so a single poison event cannot hold the others back; each
 * message is then acked or retried on its own.
 */
export async function applyEventBatch(
  messages: { raw: Message<unknown>; message: DeliveryMessage }[],
  d1: D1Database,
  options: ApplyOptions,
): Promise<void> {
  const db = drizzle(d1);
  const pending: Pending[] = [];
  const seenInBatch = new Set<string>();

  for (const { raw, message } of messages) {
    const key = keyString(keyOf(message));
    if (seenInBatch.has(key)) {
      log("event.duplicate", { ...keyOf(message), where: "batch" });
      raw.ack();
      continue;
    }
    seenInBatch.add(key);
    const apply = message.kind === "event" ? message.event : null;
    pending.push({ raw, message, attempts: raw.attempts, apply, note: null, released: message.kind === "event" && message.released === true });
  }
  if (pending.length === 0) return;

  const processed = await findProcessed(db, pending.map((row) => keyOf(row.message)), { held: options.skipHeld === true });
  const fresh = pending.filter((row) => {
    if (!processed.has(keyString(keyOf(row.message)))) return true;
    log("event.duplicate", { ...keyOf(row.message), where: "d1" });
    row.raw.ack();
    return false;
  });
  if (fresh.length === 0) return;

  const ready = await resolveUpstreamEvents(d1, fresh, options, failRow);
  if (ready.length === 0) return;
  try {
    await runAtomically(d1, await guardedStatements(d1, ready, options));
    if (options.logEachOutcome !== false) for (const row of ready) logOutcome(row);
    for (const row of ready) row.raw.ack();
  } catch (error) {
    log("batch.failed", { size: ready.length, error: String(error) });
    for (const row of ready) await applyAlone(d1, db, row, options);
  }
}

/**
 * The batch's writes, with the destructive guard applied: rows past the window's budget are
 * recorded as held instead of applied (their `note` says so), and the window is incremented.
 */
async function guardedStatements(d1: D1Database, rows: Pending[], options: ApplyOptions): Promise<SQL[]> {
  const now = options.now();
  const candidates = rows.flatMap((row) => (row.apply ? [{ event: row.apply, released: row.released, row }] : []));
  const plan = await planDestructive(d1, candidates, options.config.destructiveGuard, now);
  const held = new Set(plan.held.map((candidate) => candidate.row));
  for (const row of held) row.note = "destructive_guard";
  const applying = rows.filter((row) => !held.has(row));
  return [
    ...batchStatements(applying, now),
    ...plan.statements,
    ...countOutcomes([...held].map((row) => ({ ...keyOf(row.message), status: "held" as const })), now),
    ...[...held].map((row) => recordUnfinished(row, { status: "held", code: "destructive_guard" }, now)),
  ];
}

async function applyAlone(d1: D1Database, db: DrizzleD1Database, row: Pending, options: ApplyOptions): Promise<void> {
  try {
    row.note = row.note === "destructive_guard" ? null : row.note;
    await runAtomically(d1, await guardedStatements(d1, [row], options));
    if (options.logEachOutcome !== false) logOutcome(row);
    row.raw.ack();
  } catch (error) {
    // Lost a race with another consumer applying the same event: that is success, once.
    if ((await findProcessed(db, [keyOf(row.message)]).catch(() => new Set<string>())).has(keyString(keyOf(row.message)))) {
      log("event.duplicate", { ...keyOf(row.message), where: "race" });
      row.raw.ack();
      return;
    }
    // Another consumer used up the guard's window meanwhile: look again (and hold) on the retry.
    if (isGuardRecheckFailure(error)) {
      log("event.guard_recheck", { ...keyOf(row.message) });
      row.raw.retry({ delaySeconds: retryDelaySeconds(row.attempts, options.retryBaseSeconds) });
      return;
    }
    await failRow(d1, row, error, options);
  }
}

/** Records the failure (best effort) and hands the message back to the queue with backoff. */
export async function failRow(d1: D1Database, row: Pending, error: unknown, options: Pick<ApplyOptions, "now" | "retryBaseSeconds">): Promise<void> {
  const delaySeconds = retryDelaySeconds(row.attempts, options.retryBaseSeconds);
  log("event.failed", { ...keyOf(row.message), attempts: row.attempts, delaySeconds, error: String(error) });
  await recordFailure(d1, row, error, options.now()).catch((recordError) =>
    log("event.failure_not_recorded", { ...keyOf(row.message), error: String(recordError) }),
  );
  row.raw.retry({ delaySeconds });
}

function batchStatements(rows: Pending[], now: number): SQL[] {
  const events = rows.flatMap((row) => (row.apply ? [row.apply] : []));
  const forgotten = events.flatMap((event) => (event.kind === "user_forgotten" ? [{ provider: event.provider, subject: event.externalId }] : []));
  return [...directoryWrites(events, now), ...recordOutcomes(rows, now), ...purgeMessagesAbout(forgotten)];
}

function logOutcome(row: Pending): void {
  if (row.note === "destructive_guard") log("event.held", { ...keyOf(row.message), reason: "destructive_guard" });
  else if (row.apply) log("event.applied", { ...keyOf(row.message), kind: row.apply.kind, note: row.note ?? undefined });
  else if (row.message.kind === "ignored") log("event.ignored", { ...keyOf(row.message), reason: row.message.reason });
  else log("event.applied", { ...keyOf(row.message), note: row.note ?? undefined });
}
