import { applyEventBatch, type ApplyOptions } from "../consumer/apply-batch";
import { retryDelaySeconds } from "../consumer/backoff";
import { log } from "../log";
import type { ImportChunkMessage } from "../queue-message";
import { rowEvents } from "./expand";
import { refreshImports } from "./record";

/**
 * Applies import chunks (queue messages of kind `import`). Each chunk's rows become user events
 * (expand.ts) that go through the consumer's own applyEventBatch, one chunk per call: rows already
 * applied or held are dropped (a redelivered chunk applies nothing twice, and a held deactivation
 * waits for an operator's release instead of meeting the guard again), the rest are written with their
 * event_log rows in one D1 batch, deactivations pass the destructive guard (and may be held), and a
 * failing row is recorded `failed` with its own event message, replayable like any event.
 *
 * The chunk is acked once every row is; if any row asked to be retried, the whole chunk is (its
 * applied rows are dropped again on the retry), and after max_retries the dead-letter consumer
 * records its unapplied rows one by one (consumer/dead-letters.ts). Afterwards each import touched
 * has its counters refreshed from event_log (record.ts), once per import per invocation.
 */
export async function applyImportChunks(chunks: { raw: Message<unknown>; message: ImportChunkMessage }[], d1: D1Database, options: ApplyOptions): Promise<void> {
  const touched = new Set<string>();
  let failing = false;
  for (const { raw, message } of chunks) {
    const delaySeconds = retryDelaySeconds(raw.attempts, options.retryBaseSeconds);
    // A chunk whose every row failed (D1 unavailable, most likely): the others wait for the retry
    // instead of failing row by row too.
    if (failing) {
      raw.retry({ delaySeconds });
      continue;
    }
    const events = rowEvents(message);
    const rows = fanOut(raw, events.length);
    try {
      await applyEventBatch(events.map((event, index) => ({ raw: rows.parts[index]!, message: event })), d1, { ...options, logEachOutcome: false, skipHeld: true });
    } catch (error) {
      log("import.chunk_failed", { importId: message.importId, chunk: message.chunk, attempts: raw.attempts, error: String(error) });
      raw.retry({ delaySeconds });
      failing = true;
      continue;
    }
    const outcome = rows.settle();
    log("import.chunk_applied", { importId: message.importId, chunk: message.chunk, rows: events.length, ...outcome });
    touched.add(message.importId);
    if (outcome.retried === events.length) failing = true;
  }
  if (touched.size === 0) return;
  // Only counters: the rows' outcomes are already committed, and the next refresh catches up.
  await refreshImports(d1, [...touched], options.now()).catch((error) => log("import.refresh_failed", { error: String(error) }));
}

/**
 * One queue message seen as one message per row: applyEventBatch acks or retries each row, and
 * `settle` then acks the real message if every row was acked, or retries it (with the longest
 * delay a row asked for) if any was retried or left unanswered.
 */
function fanOut(raw: Message<unknown>, count: number) {
  const answers: ("ack" | { retry: number })[] = [];
  const parts = Array.from({ length: count }, (_, index): Message<unknown> => ({
    id: `${raw.id}#${index + 1}`,
    timestamp: raw.timestamp,
    body: null,
    attempts: raw.attempts,
    ack: () => void (answers[index] ??= "ack"),
    retry: (options?: QueueRetryOptions) => void (answers[index] ??= { retry: options?.delaySeconds ?? 0 }),
  }));
  return {
    parts,
    settle(): { acked: number; retried: number } {
      let acked = 0;
      let retried = 0;
      let delaySeconds = 0;
      for (let index = 0; index < count; index++) {
        const answer = answers[index];
        if (answer === "ack") acked += 1;
        else {
          retried += 1;
          delaySeconds = Math.max(delaySeconds, answer?.retry ?? 0);
        }
      }
      if (retried === 0) raw.ack();
      else raw.retry({ delaySeconds });
      return { acked, retried };
    },
  };
}
