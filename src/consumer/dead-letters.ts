import { queueMessage } from "../queue-message";
import { log } from "../log";
import { rowEvents } from "../import/expand";
import { keyOf, recordDeadLetter, recordDeadLetteredRows } from "./event-log";
import { retryDelaySeconds } from "./backoff";

/**
 * Consumer of the dead-letter queue: records each message in D1 and acks it. If D1 is down the
 * message is retried (the DLQ consumer's own max_retries is high), so nothing is dropped silently.
 */
export async function recordDeadLetterBatch(
  batch: MessageBatch<unknown>,
  d1: D1Database,
  options: { now: () => number; retryBaseSeconds: number },
): Promise<void> {
  for (const raw of batch.messages) {
    const parsed = queueMessage.safeParse(raw.body);
    const message = parsed.success ? parsed.data : null;
    try {
      if (message?.kind === "import") {
        // A bulk import's chunk: its unapplied rows, each a dead letter of its own.
        const rows = rowEvents(message).map((row, index) => ({ messageId: `${raw.id}-${message.rows[index]!.row}`, message: row }));
        await recordDeadLetteredRows(d1, rows, options.now());
        log("import.chunk_dead_lettered", { messageId: raw.id, importId: message.importId, chunk: message.chunk });
        raw.ack();
        continue;
      }
      await recordDeadLetter(d1, { messageId: raw.id, body: safeStringify(raw.body), message }, options.now());
      const key = message && message.kind !== "reconcile" ? keyOf(message) : {};
      log("event.dead_lettered", { messageId: raw.id, ...key, kind: message?.kind, decodable: parsed.success });
      raw.ack();
    } catch (error) {
      log("dead_letter.not_recorded", { messageId: raw.id, error: String(error) });
      raw.retry({ delaySeconds: retryDelaySeconds(raw.attempts, options.retryBaseSeconds) });
    }
  }
}

function safeStringify(body: unknown): string {
  try {
    return JSON.stringify(body) ?? String(body);
  } catch {
    return String(body);
  }
}
