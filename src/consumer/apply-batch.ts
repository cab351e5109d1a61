import { drizzle, type DrizzleD1Database } from "drizzle-orm/d1";
import type { SQL } from "drizzle-orm";
import { directoryWrites } from "../directory/writes";
import type { DirectoryEvent } from "../events";
import type { ScimClient } from "../upstream/scim-client";
import type { DeliveryMessage } from "../queue-message";
import { log } from "../log";
import { runAtomically } from "../d1";
import { findProcessed, keyOf, keyString, purgeMessagesAbout, recordFailure, recordOutcomes, type OutcomeRow } from "./event-log";
import { mapConcurrently, resolveRefresh } from "./resolve-upstream";
import { retryDelaySeconds } from "./backoff";

export interface ApplyOptions {
  now: () => number;
  retryBaseSeconds: number;
  /** The provider's SCIM upstream, for events that carry only an id; null when not configured. */
  upstreamFor: (provider: string) => ScimClient | null;
}

interface Decoded extends OutcomeRow {
  raw: Message<unknown>;
  /** What will be written: the event itself, or what the upstream resolved it to. */
  apply: DirectoryEvent | null;
}

const UPSTREAM_CONCURRENCY = 6;

/**
 * The main queue consumer. In the common case a batch costs two D1 round trips: one read to
 * drop events already applied, one atomic `db.batch` that applies the rest and records them.
 * If that batch fails, events are retried one by one so a single poison event cannot hold the
 * others back; each message is then acked or retried on its own.
 */
export async function applyEventBatch(
  messages: { raw: Message<unknown>; message: DeliveryMessage }[],
  d1: D1Database,
  options: ApplyOptions,
): Promise<void> {
  const db = drizzle(d1);
  const pending: Decoded[] = [];
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
    pending.push({ raw, message, attempts: raw.attempts, apply, note: null });
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

  const ready = await resolveUpstreamEvents(d1, fresh, options);
  if (ready.length === 0) return;
  try {
    await runAtomically(d1, batchStatements(ready, options.now()));
    for (const row of ready) logApplied(row);
    for (const row of ready) row.raw.ack();
  } catch (error) {
    log("batch.failed", { size: ready.length, error: String(error) });
    for (const row of ready) await applyAlone(d1, db, row, options);
  }
}

/**
 * Events that name a user without describing it are resolved against the provider's SCIM API
 * here, in the consumer, never on the request path. A lookup that fails (upstream down, throttled
 * past the client's budget, misconfigured) fails only its own message, which is retried.
 */
async function resolveUpstreamEvents(d1: D1Database, rows: Decoded[], options: ApplyOptions): Promise<Decoded[]> {
  const resolved = await mapConcurrently(rows, UPSTREAM_CONCURRENCY, async (row) => {
    if (row.apply?.kind !== "user_refresh") return row;
    const client = options.upstreamFor(row.apply.provider);
    try {
      if (!client) throw new Error(`no SCIM upstream is configured for ${row.apply.provider}`);
      const resolution = await resolveRefresh(row.apply, client);
      return { ...row, apply: resolution.event, note: resolution.note };
    } catch (error) {
      await failRow(d1, row, error, options);
      return null;
    }
  });
  return resolved.filter((row): row is Decoded => row !== null);
}

async function applyAlone(d1: D1Database, db: DrizzleD1Database, row: Decoded, options: ApplyOptions): Promise<void> {
  try {
    await runAtomically(d1, batchStatements([row], options.now()));
    logApplied(row);
    row.raw.ack();
  } catch (error) {
    // Lost a race with another consumer applying the same event: that is success, once.
    if ((await findProcessed(db, [keyOf(row.message)]).catch(() => new Set<string>())).has(keyString(keyOf(row.message)))) {
      log("event.duplicate", { ...keyOf(row.message), where: "race" });
      row.raw.ack();
      return;
    }
    await failRow(d1, row, error, options);
  }
}

/** Records the failure (best effort) and hands the message back to the queue with backoff. */
async function failRow(d1: D1Database, row: Decoded, error: unknown, options: ApplyOptions): Promise<void> {
  const delaySeconds = retryDelaySeconds(row.attempts, options.retryBaseSeconds);
  log("event.failed", { ...keyOf(row.message), attempts: row.attempts, delaySeconds, error: String(error) });
  await recordFailure(d1, row, error, options.now()).catch((recordError) =>
    log("event.failure_not_recorded", { ...keyOf(row.message), error: String(recordError) }),
  );
  row.raw.retry({ delaySeconds });
}

function batchStatements(rows: Decoded[], now: number): SQL[] {
  const events = rows.flatMap((row) => (row.apply ? [row.apply] : []));
  const forgotten = events.flatMap((event) => (event.kind === "user_forgotten" ? [{ provider: event.provider, subject: event.externalId }] : []));
  return [...directoryWrites(events, now), ...recordOutcomes(rows, now), ...purgeMessagesAbout(forgotten)];
}

function logApplied(row: Decoded): void {
  if (row.apply) log("event.applied", { ...keyOf(row.message), kind: row.apply.kind, note: row.note ?? undefined });
  else if (row.message.kind === "ignored") log("event.ignored", { ...keyOf(row.message), reason: row.message.reason });
}
