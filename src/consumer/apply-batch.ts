import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import type { SQL } from "drizzle-orm";
import { directoryWrites } from "../directory/writes";
import { queueMessage, type QueueMessage } from "../queue-message";
import { log } from "../log";
import { runAtomically } from "../d1";
import { findProcessed, keyOf, keyString, recordFailure, recordOutcomes, type OutcomeRow } from "./event-log";
import { retryDelaySeconds } from "./backoff";

export interface ApplyOptions {
  now: () => number;
  retryBaseSeconds: number;
}

interface Decoded extends OutcomeRow {
  raw: Message<unknown>;
}

/**
 * The main queue consumer. In the common case a batch costs two D1 round trips: one read to
 * drop events already applied, one atomic `db.batch` that applies the rest and records them.
 * If that batch fails, events are retried one by one so a single poison event cannot hold the
 * others back; each message is then acked or retried on its own.
 */
export async function applyEventBatch(batch: MessageBatch<unknown>, d1: D1Database, options: ApplyOptions): Promise<void> {
  const db = drizzle(d1);
  const pending: Decoded[] = [];
  const seenInBatch = new Set<string>();

  for (const raw of batch.messages) {
    const parsed = queueMessage.safeParse(raw.body);
    if (!parsed.success) {
      // Possibly from a newer deploy mid-rollout: retry, and let max_retries dead-letter it.
      log("queue.message_undecodable", { messageId: raw.id, attempts: raw.attempts });
      raw.retry({ delaySeconds: retryDelaySeconds(raw.attempts, options.retryBaseSeconds) });
      continue;
    }
    const key = keyString(keyOf(parsed.data));
    if (seenInBatch.has(key)) {
      log("event.duplicate", { ...keyOf(parsed.data), where: "batch" });
      raw.ack();
      continue;
    }
    seenInBatch.add(key);
    pending.push({ raw, message: parsed.data, attempts: raw.attempts });
  }
  if (pending.length === 0) return;

  const processed = await findProcessed(db, pending.map((row) => keyOf(row.message)));
  const fresh = pending.filter((row) => {
    if (!processed.has(keyString(keyOf(row.message)))) return true;
    log("event.duplicate", { ...keyOf(row.message), where: "d1" });
    row.raw.ack();
    return false;
  });
  if (fresh.length === 0) return;

  try {
    await runAtomically(d1, batchStatements(fresh, options.now()));
    for (const row of fresh) logApplied(row.message);
    for (const row of fresh) row.raw.ack();
  } catch (error) {
    log("batch.failed", { size: fresh.length, error: String(error) });
    for (const row of fresh) await applyAlone(d1, db, row, options);
  }
}

async function applyAlone(d1: D1Database, db: DrizzleD1Database, row: Decoded, options: ApplyOptions): Promise<void> {
  try {
    await runAtomically(d1, batchStatements([row], options.now()));
    logApplied(row.message);
    row.raw.ack();
  } catch (error) {
    // Lost a race with another consumer applying the same event: that is success, once.
    if ((await findProcessed(db, [keyOf(row.message)]).catch(() => new Set<string>())).has(keyString(keyOf(row.message)))) {
      log("event.duplicate", { ...keyOf(row.message), where: "race" });
      row.raw.ack();
      return;
    }
    const delaySeconds = retryDelaySeconds(row.attempts, options.retryBaseSeconds);
    log("event.failed", { ...keyOf(row.message), attempts: row.attempts, delaySeconds, error: String(error) });
    await recordFailure(d1, row, error, options.now()).catch((recordError) =>
      log("event.failure_not_recorded", { ...keyOf(row.message), error: String(recordError) }),
    );
    row.raw.retry({ delaySeconds });
  }
}

function batchStatements(rows: Decoded[], now: number): SQL[] {
  const events = rows.flatMap((row) => (row.message.kind === "event" ? [row.message.event] : []));
  return [...directoryWrites(events, now), ...recordOutcomes(rows, now)];
}

function logApplied(message: QueueMessage): void {
  if (message.kind === "event") log("event.applied", { ...keyOf(message), kind: message.event.kind });
  else log("event.ignored", { ...keyOf(message), reason: message.reason });
}
